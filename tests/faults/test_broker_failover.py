"""A broker that fails over: Redis Sentinel (three sentinels, a primary and a replica,
started here) under a real worker and beat. The primary is killed mid-send; the
sentinels promote the replica; workers, beat, the limiter and the heartbeat follow
them there. Counted at the SMTP receiver: lost 0, at most one repeat per worker thread."""

from __future__ import annotations

import time

import pytest
import redis

from distributor.inbound.publish import publish as publish_article
from distributor.monitor.queues import WORKERS_KEY
from tests.faults.conftest import report, tally, wait_all_delivered
from tests.peers import wait_for
from tests.redis_sentinel import SentinelSet, sentinel_command

THREADS = 2


def publish(stack, title: str) -> None:
    publish_article(stack.db, stack.settings, stack.dispatcher, {
        "url": f"https://news.example.org/{title.replace(' ', '-')}-{time.time_ns()}",
        "title": title})


@pytest.mark.timeout(240)
def test_a_sentinel_failover_mid_send_loses_nothing(fault_stack, smtp_server, tmp_path, backend):
    if backend != "sqlite":
        pytest.skip("the broker's failover does not depend on the database: it runs in the sqlite pass")
    if sentinel_command(tmp_path) is None:
        pytest.skip("needs redis-server (or redis-sentinel) on the PATH")
    with SentinelSet(tmp_path / "sentinel") as sentinels:
        stack = fault_stack(broker_url=sentinels.url(0))
        emails = stack.seed("failover", 2000)
        stack.worker(concurrency=THREADS)
        stack.beat()
        started = time.monotonic()
        publish(stack, "Primary lost")
        wait_for(lambda: tally(smtp_server, emails)[0] >= 300, timeout=60, what="300 deliveries")
        sentinels.kill_primary()
        killed_at = time.time()
        _, new_primary = sentinels.wait_for_failover()
        promoted = round(time.monotonic() - started, 1)
        wait_all_delivered(smtp_server, emails, timeout=150)
        delivered, lost, duplicates = tally(smtp_server, emails)
        # The worker's heartbeat (the same Redis factory as the limiter) reached the new primary.
        beats = redis.Redis(port=new_primary, socket_timeout=2).zrange(
            stack.settings.broker_prefix + WORKERS_KEY, 0, -1, withscores=True)
        report("sentinel failover", recipients=len(emails), delivered=delivered, lost=lost,
               duplicates=duplicates, promoted_after_s=promoted,
               seconds=round(time.monotonic() - started, 1))
        assert lost == 0 and duplicates <= THREADS
        assert any(at > killed_at for _, at in beats), "no heartbeat reached the new primary"
