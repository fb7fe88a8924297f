"""Digest throughput on the defaults, counted at the sink, against two ceilings measured
in the same run:

- the system: `distributor worker` exactly as a user starts it (a fast lane plus one
  bulk process per core, DISTRIBUTOR_WORKER_CONCURRENCY threads each), one digest to
  every reader, timed from the trigger (planning included) until the SMTP sink has
  taken every message;
- the same-layout ceiling: as many processes and threads as the bulk workers, sending
  the very same message bytes over plain persistent smtplib connections;
- the wire ceiling: Postfix's smtp-source (C) with as many sessions, same size.

Also the bulk workers' peak memory."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select, update

from bench.common import ROOT, PeakRSS, SMTPSink, Workspace, seed_list, wait_ready
from bench.render import sample_articles
from distributor.email.compose import compile_digest
from distributor.email.digests import send_now
from distributor.email.message import Recipient
from distributor.store import Article, Database, MailingList
from tasks.app import make_app
from tasks.dispatch import CeleryDispatcher


def _publish(db: Database) -> None:
    with db.session() as session:
        session.execute(update(MailingList).values(created_at=datetime(2000, 1, 1, tzinfo=UTC)))
        for article in sample_articles():
            article.id = None
            session.add(article)


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def digest_send(sink: SMTPSink, subscribers: int, processes: int, threads: int,
                database_url: str | None = None, timeout: float = 900,
                rate: str | None = None) -> dict:
    """`rate`: DISTRIBUTOR_SMTP_RATE, the route's limit shared by every worker."""
    space = Workspace()
    try:
        extra = {"smtp_rate": rate} if rate else {}
        settings = space.configure(sink.url, database_url, worker_concurrency=str(threads),
                                   **extra)
        db = Database(settings.database_url.get_secret_value())
        db.upgrade()
        seed_list(db, "daily", subscribers)
        _publish(db)
        app = make_app(settings)
        supervisor = subprocess.Popen(
            [str(Path(sys.executable).parent / "distributor"), "worker", "--processes",
             str(processes)], env={**os.environ, **space.env, "PYTHONPATH": str(ROOT)},
            cwd=space.path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_ready(app, expected=processes + 1)
            monitors = [PeakRSS(pid).__enter__() for pid in _children(supervisor.pid)]
            before = sink.count()
            started = time.monotonic()
            result = send_now(db, settings, CeleryDispatcher(app), "daily")
            planned = time.monotonic() - started
            finished = sink.wait_for(before + subscribers, timeout)
            for monitor in monitors:
                monitor.__exit__(None, None, None)
            delivered = sink.count() - before
        finally:
            supervisor.send_signal(signal.SIGTERM)
            supervisor.wait(90)
        elapsed = finished - started
        return {"recipients": subscribers, "delivered": delivered, "seconds": elapsed,
                "planning_seconds": planned, "per_second": delivered / elapsed,
                "send_id": result.send_id, "peak_rss_mb": max(m.mb for m in monitors[1:]),
                "message": _message(settings, db)}
    finally:
        space.cleanup()


def _message(settings, db) -> bytes:
    """One reader's digest exactly as the workers send it."""
    with db.session() as session:
        mailing_list = session.scalar(select(MailingList))
        articles = session.scalars(select(Article).order_by(Article.published_at.desc())).all()
        compiled = compile_digest(settings, mailing_list, list(articles), datetime.now(UTC), "x")
    return compiled.fill(Recipient(1, "daily.reader1@example.com", "Reader 1",
                                   "https://news.example.org/unsubscribe/" + "t" * 90))


def ceiling(sink: SMTPSink, messages: int, message: bytes, processes: int, threads: int) -> dict:
    """The same layout (processes × threads of persistent smtplib connections) sending the
    same message bytes, counted at the sink."""
    with tempfile.NamedTemporaryFile(suffix=".eml", delete=False) as handle:
        handle.write(message)
    shares = [messages // processes + (1 if n < messages % processes else 0)
              for n in range(processes)]
    before = sink.count()
    started = time.monotonic()
    blasts = [subprocess.Popen([sys.executable, "-m", "bench.blast", str(sink.port), str(threads),
                                str(share), handle.name], cwd=ROOT) for share in shares]
    for blast in blasts:
        blast.wait()
    finished = sink.wait_for(before + messages, 60)
    os.unlink(handle.name)
    delivered = sink.count() - before
    return {"messages": delivered, "seconds": finished - started,
            "per_second": delivered / (finished - started)}


def wire(sink: SMTPSink, messages: int, size: int, sessions: int) -> dict | None:
    """Postfix's smtp-source: the wire's limit on this machine (None without Postfix)."""
    binary = shutil.which("smtp-source") or (
        "/usr/sbin/smtp-source" if Path("/usr/sbin/smtp-source").exists() else None)
    if binary is None:
        return None
    before = sink.count()
    started = time.monotonic()
    subprocess.run([binary, "-d", "-s", str(sessions), "-m", str(messages), "-l", str(size),
                    "-f", "news@news.example.org", "-t", "reader@example.com",
                    f"127.0.0.1:{sink.port}"], check=True, capture_output=True)
    finished = sink.wait_for(before + messages, 60)
    delivered = sink.count() - before
    return {"messages": delivered, "seconds": finished - started,
            "per_second": delivered / (finished - started)}
