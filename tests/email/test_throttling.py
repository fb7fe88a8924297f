"""A provider that throttles (Amazon SES answers 454 Throttling above its rate): the
reply slows the route for every worker and sends the rest of the batch back to the
queue without spending an attempt; no reader is failed or deferred for it."""

from __future__ import annotations

import time
import uuid

import pytest
import redis

from distributor.email.pace import HOLD_CHECK, Pace
from distributor.email.transport import open_transport
from distributor.errors import Throttled, TransientError
from distributor.monitor.progress import mail_trouble
from distributor.outbox.ratelimit import RedisLimiter
from distributor.states import DeliveryState, Outcome
from distributor.store import Batch
from tests.peers import SMTPServer

MESSAGE = b"Subject: hi\r\nFrom: news@example.org\r\n\r\nhello\r\n"


@pytest.fixture()
def limiter(redis_url):
    client = redis.Redis.from_url(redis_url)
    yield RedisLimiter(client, prefix=f"test:{uuid.uuid4().hex[:8]}:")
    client.close()


@pytest.fixture()
def ses():
    """A provider of its own (its rate counts only this test's messages): 454 above 20/s."""
    with SMTPServer() as server:
        server.handler.max_per_second = 20
        yield server


@pytest.mark.parametrize("reply,throttled", [
    ("421 4.4.5 Too many connections from your host", True),  # RFC 5321 4.2.2: 421 closes
    ("451 4.7.1 Please try again later, rate limited", True),  # RFC 3463: 4.7.x policy
    ("454 Throttling failure: Maximum sending rate exceeded.", True),  # Amazon SES
    ("450 4.2.1 The user you are trying to contact is receiving mail too many", True),
    ("451 4.3.2 try again later", False),  # a plain transient failure: the reader waits
])
def test_which_replies_mean_slow_down(smtp_server, reply, throttled):
    smtp_server.handler.rcpt_replies["reader@example.com"] = reply
    connection = open_transport(smtp_server.url, 5).connect()
    try:
        with pytest.raises(TransientError) as error:
            connection.send("news@example.org", "reader@example.com", MESSAGE)
    finally:
        del smtp_server.handler.rcpt_replies["reader@example.com"]
        connection.close()
    assert isinstance(error.value, Throttled) is throttled
    assert reply in str(error.value)


def test_throttling_requeues_the_rest_without_spending_attempts_or_failing_anyone(
        alert, ses, limiter):
    job = alert(readers=60, server=ses)
    pace = Pace(limiter, f"route-{uuid.uuid4().hex[:6]}", hold=0.3)
    runs, throttled_seen = 0, False
    while True:
        runs += 1
        result = job.run_with(pace)
        if result.state != Outcome.RETRY:
            break
        throttled_seen = True
        assert result.error.startswith("throttled by the mail server: RCPT: 454 4.7.0 Throttling")
        with job.db.session() as session:
            batch = session.get(Batch, job.batch_id)
            assert batch.attempts == 0 and batch.error == "held: " + result.error
        assert mail_trouble(job.db) is None  # slowed down, not failing: /health stays 200
        assert {state for state, _ in job.ledger().values()} <= {DeliveryState.SENT}
        assert limiter.take(pace.key, None) > 0  # every worker holds off the route now
        time.sleep(result.retry_in)
        job.reopen()
        assert runs < 50
    assert throttled_seen and result.state == Outcome.DONE
    assert ses.handler.counts(job.emails) == {e: 1 for e in job.emails}
    assert job.ledger() == {e: (DeliveryState.SENT, 1) for e in job.emails}
    with job.db.session() as session:
        batch = session.get(Batch, job.batch_id)
        assert (batch.attempts, batch.error) == (1, None)


def test_a_configured_rate_keeps_under_the_provider_limit(alert, ses, limiter):
    job = alert(readers=60, server=ses)
    pace = Pace(limiter, f"route-{uuid.uuid4().hex[:6]}", rate="18/s")
    started = time.monotonic()
    result = job.run_with(pace)
    assert (result.state, result.sent) == (Outcome.DONE, 60)
    assert ses.handler.throttled == 0
    assert time.monotonic() - started >= 59 / 18 * 0.95
    assert ses.handler.counts(job.emails) == {e: 1 for e in job.emails}


def test_a_domain_cap_slows_that_domain_and_no_other(limiter):
    pace = Pace(limiter, f"route-{uuid.uuid4().hex[:6]}", domains=[("gmail.com", "10/s"),
                                                                  ("*.outlook.com", "10/s")])
    for _ in range(11):  # no route rate: only holds would stop it
        assert pace.wait("other.org") == 0
    for domain in ("gmail.com", "eu.outlook.com"):
        started = time.monotonic()
        for _ in range(11):
            assert pace.wait(domain) == 0
        assert time.monotonic() - started >= 0.95  # 10/s: ten gaps of 100 ms


def test_domain_caps_are_read_from_smtp_domains_tables(tmp_path):
    from distributor.bootstrap import load_settings

    config = tmp_path / "distributor.toml"
    config.write_text('[[smtp]]\nname = "ses"\nurl = "smtp://h:25"\nrate = "14/s"\n\n'
                      '[[smtp.domains]]\npattern = "gmail.com"\nrate = "5/s"\n')
    route = load_settings({"DISTRIBUTOR_VAR_DIR": str(tmp_path),
                           "DISTRIBUTOR_CONFIG": str(config)}).smtp_routes[0]
    assert [(d.pattern, d.rate) for d in route.domains] == [("gmail.com", "5/s")]


def test_a_slow_paced_batch_keeps_its_lease(alert, ses, limiter):
    """A batch held back by its route's rate outlives a lease counted in recipients; the
    lease is renewed by the clock, or the sweeper would hand the batch to a second task."""
    import threading

    job = alert(readers=9, server=ses, lease_seconds="5")
    pace = Pace(limiter, f"route-{uuid.uuid4().hex[:6]}", rate="2/s")
    leases, done = [], threading.Event()

    def watch() -> None:
        while not done.is_set():
            with job.db.session() as session:
                leases.append(session.get(Batch, job.batch_id).lease_until)
            time.sleep(0.2)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        result = job.run_with(pace)  # nine readers at 2/s: about four seconds
    finally:
        done.set()
        watcher.join()
    held = [at for at in leases if at is not None]
    assert result.sent == 9
    assert (max(held) - min(held)).total_seconds() >= 1.5  # renewed while it ran


class CountingLimiter(RedisLimiter):
    def __init__(self, client, prefix):
        super().__init__(client, prefix)
        self.asked = 0

    def take(self, key, count, per=1.0, burst=1):
        self.asked += 1
        return super().take(key, count, per, burst)


def test_a_route_without_a_rate_asks_redis_for_a_hold_at_most_every_quarter_second(redis_url):
    """A Redis round trip per message cost a third of a worker's CPU; another worker's hold
    is still seen within HOLD_CHECK, and this worker's own at once."""
    limiter = CountingLimiter(redis.Redis.from_url(redis_url), f"test:{uuid.uuid4().hex}:")
    now = [100.0]
    pace = Pace(limiter, "route", clock=lambda: now[0])
    other = Pace(limiter, "route", clock=lambda: now[0])
    assert [pace.wait("example.com") for _ in range(500)] == [0.0] * 500
    assert limiter.asked == 1
    other.slow_down(5)  # another worker was throttled
    assert pace.wait() == 0.0  # not seen yet: at most HOLD_CHECK late
    now[0] += HOLD_CHECK
    assert pace.wait() > 2  # seen now, and the batch goes back to the queue
    assert other.wait() > 2  # the throttled worker itself never sent past its hold
    assert limiter.asked == 3
