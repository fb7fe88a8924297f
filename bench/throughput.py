"""Digest throughput through real Redis and real Celery worker processes to an SMTP
sink, against the ceiling: the same number of pre-built messages of the same size over
as many parallel smtplib connections as the workers have threads. Also the workers'
peak memory."""

from __future__ import annotations

import smtplib
import threading
import time
from datetime import UTC, datetime

from bench.common import PeakRSS, Workspace, seed_list, start_worker, wait_ready
from bench.render import sample_articles
from distributor.email.digests import trigger_digest
from distributor.email.message import Recipient
from distributor.outbox import wake
from distributor.store import Article, Database, Send
from tasks.app import make_app
from tasks.dispatch import CeleryDispatcher


def _publish(db: Database) -> None:
    with db.session() as session:
        for article in sample_articles():
            article.id = None
            session.add(article)


def digest_send(sink_url: str, subscribers: int, concurrency: int, processes: int,
                database_url: str | None = None, timeout: float = 480) -> dict:
    space = Workspace()
    try:
        settings = space.configure(sink_url, database_url)
        db = Database(settings.database_url.get_secret_value())
        db.upgrade()
        seed_list(db, "daily", subscribers)
        with db.session() as session:
            from sqlalchemy import update

            from distributor.store import MailingList

            session.execute(update(MailingList).values(created_at=datetime(2000, 1, 1, tzinfo=UTC)))
        _publish(db)
        app = make_app(settings)
        workers = [start_worker(space.env, space.path, concurrency, name=f"bench{n}")
                   for n in range(processes)]
        try:
            wait_ready(app)
            monitors = [PeakRSS(w.pid).__enter__() for w in workers]
            result = trigger_digest(db, settings, "daily")
            started = time.monotonic()
            wake.enqueue_send(db, CeleryDispatcher(app), result.send_id, datetime.now(UTC))
            while time.monotonic() - started < timeout:
                with db.session() as session:
                    state = session.get(Send, result.send_id).state
                if state not in ("planned", "running"):
                    break
                time.sleep(0.25)
            elapsed = time.monotonic() - started
            for monitor in monitors:
                monitor.__exit__(None, None, None)
            from distributor.monitor.deliveries import send_counts

            with db.session() as session:
                counts = send_counts(session, [result.send_id])[result.send_id]
        finally:
            for worker in workers:
                worker.terminate()
            for worker in workers:
                worker.wait(30)
        message_size = _message_size(settings, db)
        return {"recipients": subscribers, "sent": counts.get("sent", 0), "state": state,
                "seconds": elapsed, "per_second": counts.get("sent", 0) / elapsed,
                "peak_rss_mb": max(m.mb for m in monitors), "message_bytes": message_size}
    finally:
        space.cleanup()


def _message_size(settings, db) -> int:
    from sqlalchemy import select

    from distributor.email.compose import compile_digest
    from distributor.store import MailingList

    with db.session() as session:
        mailing_list = session.scalar(select(MailingList))
        articles = session.scalars(select(Article)).all()
        compiled = compile_digest(settings, mailing_list, list(articles), datetime.now(UTC), "x")
    return len(compiled.fill(Recipient(1, "daily.reader1@example.com", "Reader 1",
                                       "https://news.example.org/unsubscribe/" + "t" * 90)))


def ceiling(sink_port: int, messages: int, size: int, connections: int) -> dict:
    """Pre-built messages of the same size over `connections` parallel smtplib sessions."""
    body = b"Subject: ceiling\r\nFrom: news@news.example.org\r\n\r\n" + b"x" * max(0, size - 60)
    lines = b"\r\n".join(body[i:i + 76] for i in range(0, len(body), 76)) + b"\r\n"
    per_connection = [messages // connections + (1 if n < messages % connections else 0)
                      for n in range(connections)]

    def send(count: int) -> None:
        smtp = smtplib.SMTP("127.0.0.1", sink_port, timeout=30)
        for n in range(count):
            smtp.sendmail("news@news.example.org", [f"r{n}@example.com"], lines)
        smtp.quit()

    threads = [threading.Thread(target=send, args=(c,)) for c in per_connection]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    return {"messages": messages, "seconds": elapsed, "per_second": messages / elapsed}
