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
from tests.peers import OwnRedis, SMTPHandler, SMTPServer, wait_for


def publish(stack, title: str) -> None:
    publish_article(stack.db, stack.settings, stack.dispatcher, {
        "url": f"https://news.example.org/{title.replace(' ', '-')}-{time.time_ns()}",
        "title": title})


THREADS = 4
# A provider that takes 10 ms over each message: a batch of 250 lasts a few seconds, so a
# fault can be made to land inside it (not between batches).
SLOW_DATA = 0.01


@pytest.fixture()
def provider():
    with SMTPServer() as server:
        server.handler.data_delay = SLOW_DATA
        yield server


def resumed_after(server, emails: list[str], since: float) -> float | None:
    """Seconds from `since` to the first message the server took for one of `emails`."""
    wanted = {e.lower() for e in emails}
    with server.handler.lock:
        times = [m.at for m in server.handler.messages
                 if m.at > since and m.rcpt_to.lower() in wanted]
    return min(times) - since if times else None


@pytest.mark.timeout(180)
def test_a_worker_killed_with_every_thread_mid_batch_loses_nothing_and_resumes_in_seconds(
        fault_stack, provider):
    """As an operator meets it: beat running, production leases (120 s) and sweeper grace
    (120 s), a 4-thread worker SIGKILLed while each thread is 20-80% through its batch, a
    fresh worker started at once. The killed batches resume when the dead worker's
    heartbeat has been silent 15 s (outbox/leases.py), not when its leases run out."""
    stack = fault_stack(smtp_url=provider.url, lease_seconds="120", sweep_grace="120")
    emails = stack.seed("killed", 2000)
    first = stack.worker(concurrency=THREADS)
    stack.beat()
    started = time.monotonic()
    publish(stack, "Worker killed")
    caught = stack.mid_batch(THREADS)
    first.kill()
    killed_at = time.monotonic()
    assert {b.holder for b in caught} and len(caught) == THREADS
    assert all(0.2 <= b.fraction <= 0.8 for b in caught), caught
    stack.worker(concurrency=THREADS)
    wait_all_delivered(provider, emails, timeout=60)  # the leases alone would take 120 s
    resumed = resumed_after(provider, stack.subscriber_emails(caught), killed_at)
    delivered, lost, duplicates = tally(provider, emails)
    report("worker killed mid-batch", recipients=len(emails), threads=THREADS,
           killed_at=" ".join(f"{b.done}/{b.size}" for b in caught), delivered=delivered,
           lost=lost, duplicates=duplicates, resumed_after_s=round(resumed, 1),
           seconds=round(time.monotonic() - started, 1))
    assert lost == 0 and duplicates <= THREADS
    assert resumed <= 30


def test_a_wake_up_delivered_twice_mid_batch_sends_once(fault_stack, provider):
    """A broker may hand a task out twice (a restored unacked message, a sweep racing a
    slow start): a second copy of each running batch is started while the first is
    20-80% through. The lease sends them away; nobody gets two emails."""
    stack = fault_stack(smtp_url=provider.url, batch_size="500")
    emails = stack.seed("twice", 2000)
    stack.worker(concurrency=2 * THREADS)  # a free thread for every copy
    publish(stack, "Woken twice")
    caught = stack.mid_batch(THREADS)
    for batch in caught:
        stack.dispatcher.send_batch(batch.id)
    assert all(0.2 <= b.fraction <= 0.8 for b in caught), caught
    wait_all_delivered(provider, emails)
    wait_for(lambda: stack.processes[0].output().count("state=busy") >= THREADS, timeout=30,
             what="every copy to have run (and left)")
    delivered, lost, duplicates = tally(provider, emails)
    report("wake-up twice mid-batch", recipients=len(emails), copies=len(caught),
           delivered=delivered, lost=lost, duplicates=duplicates)
    assert lost == 0 and duplicates == 0


def test_a_flushed_broker_mid_batch_loses_nothing_and_repeats_nothing(fault_stack, provider,
                                                                      redis_client):
    stack = fault_stack(smtp_url=provider.url)
    emails = stack.seed("flushed", 2000)
    stack.worker(concurrency=2)
    stack.beat()
    started = time.monotonic()
    publish(stack, "Broker lost")
    caught = stack.mid_batch(2)
    prefix = stack.settings.broker_prefix
    queued = redis_client.llen(f"{prefix}email") + redis_client.hlen(f"{prefix}unacked")
    lost_keys = [k for k in redis_client.scan_iter(f"{prefix}*")
                 if b"rate" not in k and b"beat" not in k]
    redis_client.delete(*lost_keys)  # every task message of this stack is gone
    assert all(0.2 <= b.fraction <= 0.8 for b in caught), caught
    assert queued >= 6  # the 6 batches not started, at least, were waiting in Redis
    wait_all_delivered(provider, emails)
    delivered, lost, duplicates = tally(provider, emails)
    report("broker flushed mid-batch", recipients=len(emails), delivered=delivered, lost=lost,
           duplicates=duplicates, messages_deleted=queued,
           seconds=round(time.monotonic() - started, 1))
    assert lost == 0 and duplicates == 0


@pytest.mark.timeout(180)
def test_a_redis_restart_mid_send_loses_nothing(fault_stack, provider, tmp_path):
    """Its own redis-server with AOF on a free port, restarted while two batches run."""
    with OwnRedis(tmp_path / "redis") as own:
        stack = fault_stack(smtp_url=provider.url, broker_url=own.url)
        emails = stack.seed("restarted", 2000)
        stack.worker(concurrency=2)
        stack.beat()
        started = time.monotonic()
        publish(stack, "Redis restarted")
        caught = stack.mid_batch(2)
        own.restart()
        assert all(0.2 <= b.fraction <= 0.8 for b in caught), caught
        assert own.restarts == 1
        wait_all_delivered(provider, emails, timeout=120)
        delivered, lost, duplicates = tally(provider, emails)
        report("redis restarted mid-batch", recipients=len(emails), delivered=delivered,
               lost=lost, duplicates=duplicates, seconds=round(time.monotonic() - started, 1))
        assert lost == 0 and duplicates <= 2


def test_smtp_trouble_is_retried_and_refusals_are_suppressed(fault_stack, smtp_server):
    stack = fault_stack()
    emails = stack.seed("trouble", 300)
    refused = [emails[10], emails[200]]
    for email in refused:
        smtp_server.handler.rcpt_replies[email] = "550 5.1.1 no such mailbox"
    smtp_server.handler.busy_rcpts = 12
    # One message taken by the server whose 250 never reaches us (RFC 5321 6.1): it is
    # sent again, the one repeat the ledger cannot prevent. And one lost before it was taken.
    smtp_server.handler.data_replies.extend([SMTPHandler.ACCEPT_THEN_DROP, SMTPHandler.DROP])
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
    assert lost == 0 and duplicates == 1
    assert smtp_server.handler.counts(refused) == {e: 0 for e in refused}
    assert len(suppressed) == 2 and statuses == {"bounced"}


def test_a_database_that_drops_every_connection_mid_batch_loses_nothing(fault_stack, provider,
                                                                      backend):
    if backend != "postgresql":
        pytest.skip("this fault needs PostgreSQL (pg_terminate_backend); it runs in the postgresql pass")
    stack = fault_stack(smtp_url=provider.url)
    emails = stack.seed("dbdrop", 2000)
    stack.worker(concurrency=THREADS)
    stack.beat()
    started = time.monotonic()
    publish(stack, "Database hiccup")
    caught = stack.mid_batch(THREADS)
    with stack.db.engine.connect() as connection:  # every backend of the stack but this one
        killed = connection.execute(text(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()")).scalar()
    assert all(0.2 <= b.fraction <= 0.8 for b in caught), caught
    assert killed >= THREADS  # at least each running batch's ledger connection
    wait_all_delivered(provider, emails)
    delivered, lost, duplicates = tally(provider, emails)
    report("database dropped every connection mid-batch", recipients=len(emails),
           delivered=delivered, lost=lost, duplicates=duplicates, connections_killed=killed,
           seconds=round(time.monotonic() - started, 1))
    assert lost == 0 and duplicates <= THREADS


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
