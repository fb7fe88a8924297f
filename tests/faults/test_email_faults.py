"""Nothing lost, nothing twice: a killed worker, a flushed broker, a troubled SMTP
server, a database that drops its connections. Each prints its figures."""

from __future__ import annotations

import os
import time

import pytest
from sqlalchemy import select, text

from distributor.audience.tokens import email_digest
from distributor.inbound.publish import publish as publish_article
from distributor.store import Subscriber, Subscription, Suppression
from tests.faults.conftest import report, tally, wait_all_delivered
from tests.peers import SMTPHandler, wait_for


def publish(stack, title: str) -> None:
    publish_article(stack.db, stack.settings, stack.dispatcher, {
        "url": f"https://news.example.org/{title.replace(' ', '-')}-{time.time_ns()}",
        "title": title})


def test_a_killed_worker_loses_nothing_and_repeats_at_most_the_one_in_flight(
        fault_stack, smtp_server):
    stack = fault_stack()
    emails = stack.seed("killed", 2000)
    first = stack.worker(concurrency=1)
    stack.beat()
    started = time.monotonic()
    publish(stack, "Worker killed")
    wait_for(lambda: tally(smtp_server, emails)[0] >= 500, timeout=60, what="500 deliveries")
    first.kill()
    stack.worker(concurrency=1)
    wait_all_delivered(smtp_server, emails)
    delivered, lost, duplicates = tally(smtp_server, emails)
    report("worker killed", recipients=len(emails), delivered=delivered, lost=lost,
           duplicates=duplicates, seconds=round(time.monotonic() - started, 1))
    assert lost == 0 and duplicates <= 1


def test_a_flushed_broker_loses_nothing(fault_stack, smtp_server, redis_client):
    stack = fault_stack()
    emails = stack.seed("flushed", 2000)
    stack.worker(concurrency=1)
    stack.beat()
    started = time.monotonic()
    publish(stack, "Broker lost")
    wait_for(lambda: tally(smtp_server, emails)[0] >= 300, timeout=60, what="300 deliveries")
    prefix = stack.settings.broker_prefix
    lost_keys = [k for k in redis_client.scan_iter(f"{prefix}*")
                 if b"rate" not in k and b"beat" not in k]
    if lost_keys:
        redis_client.delete(*lost_keys)  # every queued task message of this stack is gone
    wait_all_delivered(smtp_server, emails)
    delivered, lost, duplicates = tally(smtp_server, emails)
    report("broker lost", recipients=len(emails), delivered=delivered, lost=lost,
           duplicates=duplicates, keys_deleted=len(lost_keys),
           seconds=round(time.monotonic() - started, 1))
    assert lost == 0 and duplicates <= 1


def test_smtp_trouble_is_retried_and_refusals_are_suppressed(fault_stack, smtp_server):
    stack = fault_stack()
    emails = stack.seed("trouble", 300)
    refused = [emails[10], emails[200]]
    for email in refused:
        smtp_server.handler.rcpt_replies[email] = "550 5.1.1 no such mailbox"
    smtp_server.handler.busy_rcpts = 12
    smtp_server.handler.data_replies.append(SMTPHandler.DROP)
    stack.worker(concurrency=1)
    stack.beat()
    started = time.monotonic()
    publish(stack, "SMTP trouble")
    others = [e for e in emails if e not in refused]
    wait_all_delivered(smtp_server, others, timeout=90)
    delivered, lost, duplicates = tally(smtp_server, others)
    with stack.db.session() as session:
        suppressed = [e for e in refused if session.scalar(select(Suppression.id).where(
            Suppression.email_hash == email_digest(e)))]
        statuses = set(session.scalars(select(Subscription.status).join(
            Subscriber, Subscriber.id == Subscription.subscriber_id).where(
            Subscriber.email.in_(refused))))
    report("smtp trouble", recipients=len(others), delivered=delivered, lost=lost,
           duplicates=duplicates, bounced=len(suppressed),
           seconds=round(time.monotonic() - started, 1))
    assert lost == 0 and duplicates == 0
    assert smtp_server.handler.counts(refused) == {e: 0 for e in refused}
    assert len(suppressed) == 2 and statuses == {"bounced"}


def test_a_database_that_drops_its_connections_loses_nothing(fault_stack, smtp_server, backend):
    if backend != "postgresql":
        pytest.skip("this fault needs PostgreSQL (pg_terminate_backend); it runs in the postgresql pass")
    stack = fault_stack()
    emails = stack.seed("dbdrop", 2000)
    stack.worker(concurrency=1)
    stack.beat()
    started = time.monotonic()
    publish(stack, "Database hiccup")
    wait_for(lambda: tally(smtp_server, emails)[0] >= 300, timeout=60, what="300 deliveries")
    with stack.db.engine.connect() as connection:
        killed = connection.execute(text(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()")).scalar()
    wait_all_delivered(smtp_server, emails)
    delivered, lost, duplicates = tally(smtp_server, emails)
    report("database hiccup", recipients=len(emails), delivered=delivered, lost=lost,
           duplicates=duplicates, connections_killed=killed,
           seconds=round(time.monotonic() - started, 1))
    assert lost == 0 and duplicates <= 1


# DISTRIBUTOR_TEST_FULL_SIZE=1: the issue's own figures (2,000 readers, 20/s, about 100 s).
FULL_SIZE = os.environ.get("DISTRIBUTOR_TEST_FULL_SIZE") == "1"


@pytest.mark.timeout(300 if FULL_SIZE else 120)
def test_two_workers_share_the_route_rate_under_a_throttling_provider(fault_stack):
    """The issue's case, scaled to the shared 2-core machine: a provider answering 454
    Throttling above 50/s (SES-style), DISTRIBUTOR_SMTP_RATE=36/s, two worker processes.
    Everyone gets exactly one email and the provider never sees more than the configured
    rate +10% in any 5 s window (counted at the server), nor has to throttle.
    Full size: 2,000 readers, 454 above 20/s, the rate 20/s (throttles are then allowed:
    the rate sits on the provider's own limit)."""
    from tests.peers import SMTPServer

    readers, limit, rate = (2000, 20, 20) if FULL_SIZE else (360, 50, 36)
    with SMTPServer() as provider:
        provider.handler.max_per_second = limit
        stack = fault_stack(smtp_url=provider.url, smtp_rate=f"{rate}/s",
                            batch_size="250" if FULL_SIZE else "60")
        emails = stack.seed("paced", readers)
        stack.worker(concurrency=2)
        stack.worker(concurrency=2)
        stack.beat()  # the sweeper, as in production: a lost wake-up is sent again
        started = time.monotonic()
        publish(stack, "Paced")
        wait_all_delivered(provider, emails, timeout=readers / rate * 1.5 + 30)
        seconds = time.monotonic() - started
        delivered, lost, duplicates = tally(provider, emails)
        busiest = provider.handler.most_in_any_window(5.0)
        report("paced route", recipients=len(emails), delivered=delivered,
               duplicates=duplicates, busiest_5s=busiest, throttled=provider.handler.throttled,
               seconds=round(seconds, 1))
        assert lost == 0 and duplicates == 0
        assert busiest <= rate * 5 * 1.1
        if not FULL_SIZE:
            # Without the shared rate the provider throttles (it did 19 times when tried:
            # the holds keep delivery going, at a third of the speed).
            assert provider.handler.throttled == 0


def test_the_secondary_route_carries_the_rest_when_the_primary_dies(fault_stack):
    """Two [[smtp]] routes and two worker processes: the primary is stopped mid-send; the
    secondary takes the remaining mail; at the two servers together every reader has one
    email (at most the one in flight when the primary died may arrive twice)."""
    from tests.peers import SMTPServer

    with SMTPServer() as primary, SMTPServer() as secondary:
        stack = fault_stack(batch_size="100")
        with open(stack.settings.config, "a") as config:
            config.write(f'\n[[smtp]]\nname = "primary"\nurl = "{primary.url}"\npriority = 0\n'
                         f'\n[[smtp]]\nname = "backup"\nurl = "{secondary.url}"\npriority = 10\n')
        emails = stack.seed("routes", 600)
        stack.worker(concurrency=2)
        stack.worker(concurrency=2)
        stack.beat()
        started = time.monotonic()
        publish(stack, "Routes")
        wait_for(lambda: len(primary.handler.messages) >= 150, timeout=60,
                 what="150 messages through the primary")
        primary.stop()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            first, second = primary.handler.counts(emails), secondary.handler.counts(emails)
            counts = {e: first[e] + second[e] for e in first}
            if all(counts.values()):
                break
            time.sleep(0.3)
        duplicates = sum(n - 1 for n in counts.values() if n > 1)
        missing = sum(1 for n in counts.values() if n == 0)
        report("primary route died", recipients=len(emails),
               primary=sum(primary.handler.counts(emails).values()),
               secondary=sum(secondary.handler.counts(emails).values()), missing=missing,
               duplicates=duplicates, seconds=round(time.monotonic() - started, 1))
        assert missing == 0
        assert duplicates <= 4  # one in flight per worker thread (2 workers x 2 threads)
