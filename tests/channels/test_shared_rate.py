"""Three workers posting to one channel limited to 2/s never exceed it together:
the limit lives in Redis, not in any one worker."""

from __future__ import annotations

import threading
import time
import uuid

import redis
import requests

from distributor.channels.post import run_post
from distributor.channels.ratelimit import ChannelLimiter as RedisLimiter
from tests.channels.conftest import publish
from tests.channels.fake_webhooks import FakeDiscord

POSTS, WORKERS, JITTER = 9, 3, 0.05


def test_three_workers_keep_a_shared_two_per_second(setup, redis_client):
    with FakeDiscord() as discord:
        settings, db = setup([{"name": "dc-2s", "type": "discord", "rate": "2/s",
                               "url": discord.url(FakeDiscord.PATH)}])
        post_ids = [publish(settings, db, f"Story {i}")[0] for i in range(POSTS)]
        prefix = f"test:{uuid.uuid4().hex[:6]}:"
        outcomes: list[str] = []

        def worker(mine: list[int]) -> None:
            limiter = RedisLimiter(redis.Redis(connection_pool=redis_client.connection_pool),
                                   prefix=prefix)  # each worker its own limiter, one Redis
            http = requests.Session()
            deadline = time.monotonic() + 20
            pending = list(mine)
            while pending and time.monotonic() < deadline:
                result = run_post(db, settings, http, pending[0], limiter=limiter)
                if result.state == "retry":
                    time.sleep(min(result.retry_in or 0.05, 1.0))  # the task's countdown
                    continue
                outcomes.append(result.state)
                pending.pop(0)

        threads = [threading.Thread(target=worker, args=(post_ids[i::WORKERS],))
                   for i in range(WORKERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)

        assert outcomes == ["sent"] * POSTS
        arrivals = sorted(r.at for r in discord.requests)
        assert len(arrivals) == POSTS
        for first, third in zip(arrivals, arrivals[2:], strict=False):
            assert third - first >= 1.0 - JITTER, "three requests within one second"
        assert arrivals[-1] - arrivals[0] >= (POSTS - 1) / 2 - JITTER
