"""How fast one mail route may go, shared by every worker: the GCRA limiter of
distributor.outbox.ratelimit under the key `smtp:<route>`.

A batch asks `wait()` before each message. Short waits (the spacing of the rate) are
slept here, holding the connection; a long one (the route was told to slow down)
comes back to the batch, which stops and asks to run its rest later.
"""

from __future__ import annotations

import time

from distributor.config import parse_rate
from distributor.outbox.ratelimit import RedisLimiter

MAX_SLEEP = 2.0  # longer than this, the batch goes back to the queue instead
THROTTLE_HOLD = 5.0  # seconds every worker stops sending on a route that throttled us


class Pace:
    def __init__(self, limiter: RedisLimiter, route: str = "default", rate: str | None = None,
                 max_sleep: float = MAX_SLEEP, hold: float = THROTTLE_HOLD, sleep=time.sleep):
        self.limiter = limiter
        self.key = f"smtp:{route}"
        self.count, self.per = parse_rate(rate) if rate else (None, 1.0)
        self.max_sleep = max_sleep
        self.hold = hold
        self.sleep = sleep

    def wait(self) -> float:
        """0 when one message may go now (its slot is taken), else the seconds to wait."""
        while True:
            wait = self.limiter.take(self.key, self.count, self.per)
            if wait <= 0:
                return 0.0
            if wait > self.max_sleep:
                return wait
            self.sleep(wait)

    def slow_down(self, seconds: float | None = None) -> float:
        """The server throttled us: every worker holds off this route for a while."""
        hold = max(seconds or 0.0, self.hold)
        self.limiter.hold(self.key, hold)
        return hold
