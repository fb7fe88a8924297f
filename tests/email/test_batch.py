"""run_batch on its own: a real database (SQLite, and PostgreSQL when it answers) and a
real SMTP conversation with aiosmtpd, no worker in between."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from distributor.audience.lists import create_list
from distributor.audience.subscribers import add_subscriber, is_suppressed, suppress
from distributor.email.batch import run_batch
from distributor.email.transport import open_transport
from distributor.inbound.article import ingest
from distributor.states import BatchState, DeliveryState, Outcome, SendState, SubscriptionStatus
from distributor.store import Batch, Database, Delivery, Send, Subscriber, Subscription
from tests.conftest import new_database_url


class Alert:
    """One instant list, its readers, one published article: one send of one batch."""

    def __init__(self, settings, db: Database, readers: int, published: datetime | None = None):
        self.settings, self.db = settings, db
        self.transport = open_transport(settings.smtp_url.get_secret_value(), 10)
        tag = uuid.uuid4().hex[:8]
        create_list(db, f"alerts-{tag}", instant=True)
        self.emails = [f"reader{n}-{tag}@example.com" for n in range(readers)]
        for email in self.emails:
            add_subscriber(db, email, f"alerts-{tag}")
        published = (published or datetime.now(UTC)).isoformat()
        ingest(db, settings, {"url": f"https://news.example.org/{tag}", "title": "Breaking",
                              "published_at": published})
        with db.session() as session:
            self.batch_id = session.scalar(select(Batch.id))
            self.send_id = session.scalar(select(Send.id))

    def run(self):
        return run_batch(self.db, self.settings, self.transport, self.batch_id)

    def ledger(self) -> dict[str, tuple[str, int]]:
        with self.db.session() as session:
            rows = session.execute(select(Subscriber.email, Delivery.state, Delivery.attempts)
                                   .join(Delivery, Delivery.subscriber_id == Subscriber.id))
            return {email: (state, attempts) for email, state, attempts in rows}

    def reopen(self) -> None:
        """As the next try would find the batch: lease and wait gone."""
        with self.db.session() as session:
            session.execute(update(Batch).values(lease_until=None, next_attempt_at=None))

    def subscriber_id(self, email: str) -> int:
        with self.db.session() as session:
            return session.scalar(select(Subscriber.id).where(Subscriber.email == email))


@pytest.fixture()
def alert(backend, postgres, tmp_path, make_settings, smtp_server):
    def make(readers: int = 3, published: datetime | None = None, **settings_extra: str) -> Alert:
        url = new_database_url(backend, postgres, tmp_path)
        settings = make_settings(database_url=url, smtp_url=smtp_server.url, **settings_extra)
        db = Database(url)
        db.upgrade()
        made.append(db)
        return Alert(settings, db, readers, published)

    made: list[Database] = []
    yield make
    handler = smtp_server.handler
    handler.busy_rcpts = 0
    for db in made:
        db.dispose()


def test_each_reader_gets_one_email_and_the_ledger_says_so(alert, smtp_server):
    job = alert(readers=3)
    result = job.run()
    assert (result.state, result.sent) == (Outcome.DONE, 3)
    assert smtp_server.handler.counts(job.emails) == {e: 1 for e in job.emails}
    assert job.ledger() == {e: (DeliveryState.SENT, 1) for e in job.emails}
    with job.db.session() as session:
        assert session.get(Send, job.send_id).state == SendState.DONE
        assert session.get(Batch, job.batch_id).state == BatchState.DONE


def test_a_reader_already_in_the_ledger_is_skipped_when_the_batch_runs_again(alert, smtp_server):
    job = alert(readers=3)
    first = job.emails[0]
    with job.db.session() as session:  # as if a killed worker had sent to the first reader
        session.add(Delivery(send_id=job.send_id, subscriber_id=job.subscriber_id(first),
                             state=DeliveryState.SENT, at=datetime.now(UTC)))
    result = job.run()
    assert result.sent == 2
    assert smtp_server.handler.counts(job.emails) == {first: 0, **{e: 1 for e in job.emails[1:]}}


def test_a_suppressed_address_is_recorded_as_skipped_and_never_mailed(alert, smtp_server):
    job = alert(readers=2)
    erased = job.emails[1]
    with job.db.session() as session:
        suppress(session, erased, "erased")
    result = job.run()
    assert (result.sent, result.skipped) == (1, 1)
    assert smtp_server.handler.counts([erased]) == {erased: 0}
    assert job.ledger()[erased] == (DeliveryState.SKIPPED, 1)


def test_a_4xx_defers_the_reader_and_the_next_try_sends_once(alert, smtp_server):
    job = alert(readers=2)
    smtp_server.handler.busy_rcpts = 1  # RFC 5321 4.2.1: 4yz is a transient failure
    result = job.run()
    assert (result.state, result.sent, result.deferred) == (Outcome.RETRY, 1, 1)
    assert result.retry_in and result.retry_in > 0
    deferred = next(e for e, (state, _) in job.ledger().items()
                    if state == DeliveryState.DEFERRED)
    job.reopen()
    again = job.run()
    assert (again.state, again.sent) == (Outcome.DONE, 1)
    assert job.ledger()[deferred] == (DeliveryState.SENT, 2)
    assert smtp_server.handler.counts(job.emails) == {e: 1 for e in job.emails}


def test_a_5xx_on_rcpt_bounces_the_reader_and_suppresses_the_address(alert, smtp_server):
    job = alert(readers=2)
    gone = job.emails[0]
    smtp_server.handler.rcpt_replies[gone] = "550 5.1.1 no such user"
    try:
        result = job.run()
    finally:
        del smtp_server.handler.rcpt_replies[gone]
    assert (result.sent, result.failed) == (1, 1)
    assert job.ledger()[gone][0] == DeliveryState.BOUNCED
    with job.db.session() as session:
        assert is_suppressed(session, gone)
        status = session.scalar(select(Subscription.status).join(
            Subscriber, Subscriber.id == Subscription.subscriber_id).where(Subscriber.email == gone))
    assert status == SubscriptionStatus.BOUNCED


def test_too_many_failures_in_a_row_pause_the_whole_send(alert, smtp_server):
    job = alert(readers=4, smtp_pause_after="2")
    smtp_server.handler.busy_rcpts = 100
    result = job.run()
    assert result.state == Outcome.PAUSED
    assert "paused after 2 consecutive failures" in result.error
    with job.db.session() as session:
        assert session.get(Send, job.send_id).state == SendState.PAUSED
        assert session.get(Batch, job.batch_id).state == BatchState.PAUSED
    smtp_server.handler.busy_rcpts = 0
    job.reopen()
    job.run()  # a paused batch is not claimed again until `failures retry` re-opens it
    assert smtp_server.handler.counts(job.emails) == {e: 0 for e in job.emails}
    with job.db.session() as session:
        assert session.get(Send, job.send_id).state == SendState.PAUSED


def test_an_alert_older_than_the_lists_max_age_expires_unsent(alert, smtp_server):
    job = alert(readers=2, published=datetime.now(UTC) - timedelta(hours=7))  # default: 6 h
    result = job.run()
    assert result.state == Outcome.EXPIRED and "max_age of 6h" in result.error
    assert smtp_server.handler.counts(job.emails) == {e: 0 for e in job.emails}
    with job.db.session() as session:
        send = session.get(Send, job.send_id)
        assert (send.state, send.error) == (SendState.EXPIRED, result.error)
    assert job.ledger() == {}


def test_a_fresh_alert_still_goes(alert, smtp_server):
    job = alert(readers=1, published=datetime.now(UTC) - timedelta(hours=5))
    assert job.run().sent == 1
