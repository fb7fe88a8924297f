"""run_batch on its own: a real database (SQLite, and PostgreSQL when it answers) and a
real SMTP conversation with aiosmtpd, no worker in between."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from distributor.audience.subscribers import is_suppressed, suppress
from distributor.states import BatchState, DeliveryState, Outcome, SendState, SubscriptionStatus
from distributor.store import Batch, Delivery, Send, Subscriber, Subscription


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


def test_a_reader_deferred_on_every_try_is_given_up_after_the_tenth(alert, smtp_server):
    """RELIABILITY.md promise 8: retried with backoff, given up after ten tries, never
    repeated forever. The server answers this reader 451 every time."""
    from distributor.email.batch import MAX_BATCH_ATTEMPTS

    job = alert(readers=2)
    stuck = job.emails[1]
    smtp_server.handler.rcpt_replies[stuck] = "451 4.3.0 try again later"
    try:
        results = []
        for _ in range(MAX_BATCH_ATTEMPTS + 2):  # bounded: two more than the promise
            results.append(job.run())
            job.reopen()
    finally:
        del smtp_server.handler.rcpt_replies[stuck]
    assert [r.state for r in results[:MAX_BATCH_ATTEMPTS - 1]] == \
        [Outcome.RETRY] * (MAX_BATCH_ATTEMPTS - 1)
    assert results[MAX_BATCH_ATTEMPTS - 1].state == Outcome.DONE
    assert results[MAX_BATCH_ATTEMPTS - 1].tally.get(DeliveryState.FAILED) == 1
    assert all(r.state == Outcome.DONE and r.sent == 0 for r in results[MAX_BATCH_ATTEMPTS:])
    assert job.ledger()[stuck] == (DeliveryState.FAILED, MAX_BATCH_ATTEMPTS)
    assert smtp_server.handler.counts(job.emails) == {job.emails[0]: 1, stuck: 0}
    with job.db.session() as session:
        assert session.get(Send, job.send_id).state == SendState.DONE
