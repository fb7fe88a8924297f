"""How fast one mail route may go, shared by every worker: the GCRA limiter of
distributor.outbox.ratelimit under the key `smtp:<route>`.

A batch asks `wait()` before each message. Short waits (the spacing of the rate) are
slept here, holding the connection; a long one (the route was told to slow down)
comes back to the batch, which stops and asks to run its rest later.
"""

from __future__ import annotations

import time
from fnmatch import fnmatchcase

from distributor.config import parse_rate
from distributor.outbox.ratelimit import RedisLimiter

MAX_SLEEP = 2.0  # longer than this, the batch goes back to the queue instead
THROTTLE_HOLD = 2.0  # seconds every worker stops sending on a route that throttled us


class Pace:
    def __init__(self, limiter: RedisLimiter, route: str = "default", rate: str | None = None,
                 max_sleep: float = MAX_SLEEP, hold: float = THROTTLE_HOLD, sleep=time.sleep,
                 domains: list[tuple[str, str]] = ()):
        self.limiter = limiter
        self.key = f"smtp:{route}"
        self.count, self.per = parse_rate(rate) if rate else (None, 1.0)
        # [[smtp.domains]]: (pattern, count, per), the first match caps that domain
        self.domains = [(p.lower(), *parse_rate(r)) for p, r in domains]
        self.max_sleep = max_sleep
        self.hold = hold
        self.sleep = sleep

    def wait(self, domain: str = "") -> float:
        """0 when one message (to `domain`) may go now, its slots taken; else the seconds
        to wait. A domain cap is taken first, so a long wait there spends no route slot."""
        slots = [(self.key, self.count, self.per)]
        cap = next(((p, c, per) for p, c, per in self.domains if fnmatchcase(domain.lower(), p)),
                   None)
        if cap is not None:
            slots.insert(0, (f"{self.key}:domain:{cap[0]}", cap[1], cap[2]))
        for key, count, per in slots:
            while (wait := self.limiter.take(key, count, per)) > 0:
                if wait > self.max_sleep:
                    return wait
                self.sleep(wait)
        return 0.0

    def slow_down(self, seconds: float | None = None) -> float:
        """The server throttled us: every worker holds off this route for a while."""
        hold = max(seconds or 0.0, self.hold)
        self.limiter.hold(self.key, hold)
        return hold
