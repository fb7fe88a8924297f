"""How fast one mail route may go, shared by every worker: the GCRA limiter of
distributor.outbox.ratelimit under the key `smtp:<route>`.

A batch asks `wait()` before each message. Short waits (the spacing of the rate) are
slept here, holding the connection; a long one (the route was told to slow down)
comes back to the batch, which stops and asks to run its rest later.
"""

from __future__ import annotations

import time
from fnmatch import fnmatchcase

from distributor.outbox.ratelimit import RedisLimiter
from distributor.values import parse_rate

MAX_SLEEP = 2.0  # longer than this, the batch goes back to the queue instead
THROTTLE_HOLD = 2.0  # seconds every worker stops sending on a route that throttled us
# A route without a rate asks Redis only whether another worker holds it, and at most
# this often (a Redis round trip per message cost a third of the worker's CPU): other
# workers join a hold at most this late; the worker that was throttled holds at once.
HOLD_CHECK = 0.25


class Pace:
    def __init__(self, limiter: RedisLimiter, route: str = "default", rate: str | None = None,
                 max_sleep: float = MAX_SLEEP, hold: float = THROTTLE_HOLD, sleep=time.sleep,
                 domains: list[tuple[str, str]] = (), clock=time.monotonic):
        self.limiter = limiter
        self.key = f"smtp:{route}"
        self.count, self.per = parse_rate(rate) if rate else (None, 1.0)
        # [[smtp.domains]]: (pattern, count, per), the first match caps that domain
        self.domains = [(p.lower(), *parse_rate(r)) for p, r in domains]
        self.max_sleep = max_sleep
        self.hold = hold
        self.sleep, self.clock = sleep, clock
        self.unheld_until = 0.0  # monotonic time until which no hold needs looking up

    def wait(self, domain: str = "") -> float:
        """0 when one message (to `domain`) may go now, its slots taken; else the seconds
        to wait. A domain cap is taken first, so a long wait there spends no route slot."""
        if self.count is None and not self.domains:  # only a hold could stop this message
            now = self.clock()
            if now < self.unheld_until:
                return 0.0
            wait = self._take([(self.key, None, 1.0)])
            self.unheld_until = 0.0 if wait else now + HOLD_CHECK
            return wait
        slots = [(self.key, self.count, self.per)]
        cap = next(((p, c, per) for p, c, per in self.domains if fnmatchcase(domain.lower(), p)),
                   None)
        if cap is not None:
            slots.insert(0, (f"{self.key}:domain:{cap[0]}", cap[1], cap[2]))
        return self._take(slots)

    def _take(self, slots: list[tuple[str, float | None, float]]) -> float:
        for key, count, per in slots:
            while (wait := self.limiter.take(key, count, per)) > 0:
                if wait > self.max_sleep:
                    return wait
                self.sleep(wait)
        return 0.0

    def slow_down(self, seconds: float | None = None) -> float:
        """The server throttled us: every worker holds off this route for a while."""
        hold = max(seconds or 0.0, self.hold)
        self.unheld_until = 0.0
        self.limiter.hold(self.key, hold)
        return hold
