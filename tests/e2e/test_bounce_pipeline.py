"""Late bounces end to end: a real worker sends an alert with a VERP return path over
real SMTP; the bounce lands in a real IMAP mailbox (Dovecot); the worker's
`bounces.poll` reads it and the reader is bounced, counted in /metrics' counters."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from distributor.audience.lists import create_list
from distributor.audience.subscribers import add_subscriber
from distributor.bootstrap import load_settings
from distributor.inbound.article import ingest
from distributor.monitor.counters import read_counters
from distributor.outbox import wake
from distributor.states import SubscriptionStatus
from distributor.store import Database, Subscriber, Subscription
from tasks.app import make_app, queue_name
from tasks.dispatch import CeleryDispatcher
from tests.conftest import new_database_url, settings_env
from tests.imap_server import dovecot  # noqa: F401  (the fixture)
from tests.peers import wait_for

DSN = Path(__file__).parents[1] / "email" / "data" / "bounces" / "lhost-postfix-01.eml"


def test_a_bounce_in_the_mailbox_reaches_its_reader_through_the_worker(
        backend, postgres, redis_url, smtp_server, dovecot, start_worker, tmp_path,  # noqa: F811
        redis_client):
    dovecot.empty()
    config = tmp_path / "distributor.toml"
    config.write_text('[publisher]\nname = "StratNews Test"\naddress = "1 Test Road"\n\n'
                      f'[bounces]\nimap = "{dovecot.url}"\n')
    env = settings_env(tmp_path, new_database_url(backend, postgres, tmp_path), redis_url,
                       smtp_server.url, config, bounce_address="bounces@news.example.org")
    settings = load_settings(env)
    db = Database(settings.database_url.get_secret_value())
    db.upgrade()
    app = make_app(settings)
    create_list(db, "breaking", instant=True)
    reader = f"gone-{backend}@example.org"
    add_subscriber(db, reader, "breaking")
    start_worker(env)
    result = ingest(db, settings, {"url": f"https://news.example.org/{backend}/bounce",
                                   "title": "Cabinet reshuffle"})
    wake.fan_out(db, CeleryDispatcher(app), result.article_id, datetime.now(UTC))
    sent = wait_for(lambda: smtp_server.handler.to(reader), timeout=30, what="the alert")
    return_path = sent[-1].mail_from
    assert return_path.startswith("bounces+")

    # The receiving MTA bounces it to the return path; the DSN is a real Postfix one.
    dovecot.append(f"Delivered-To: {return_path}\n".encode() + DSN.read_bytes())
    app.send_task("bounces.poll", queue=queue_name(settings, "maintenance"))

    def bounced():
        with db.session() as session:
            return session.scalar(select(Subscription.status).join(
                Subscriber, Subscriber.id == Subscription.subscriber_id)
                .where(Subscriber.email == reader)) == SubscriptionStatus.BOUNCED
    wait_for(bounced, timeout=30, what="the worker to read the bounce")
    assert dovecot.count() == 0
    counters = read_counters(redis_client, settings.broker_prefix)["bounces"]
    assert counters == {("breaking", "hard"): 1}
    db.dispose()
