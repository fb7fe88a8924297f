"""Rates shared by every worker: GCRA in one Redis script, keyed by what is limited
(a channel, a mail route). The email and channel stages both pace themselves here.

`take` either takes a slot now (returns 0) or says how many seconds to wait; `hold`
stops a key for a while (the peer asked us to slow down). Nothing sleeps here.
"""

from __future__ import annotations

import redis

from distributor.errors import Unavailable

# KEYS[1] theoretical arrival time (ms), KEYS[2] hold; ARGV: interval ms, burst tolerance ms
_GCRA = """
local held = redis.call('PTTL', KEYS[2])
if held > 0 then return held end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
if interval <= 0 then return 0 end
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local allow_at = tat - tolerance
if now < allow_at then return allow_at - now end
local new_tat = tat + interval
redis.call('SET', KEYS[1], new_tat, 'PX', math.ceil(new_tat - now + tolerance + 1000))
return 0
"""

# KEYS[1] hold; ARGV[1] ms. A hold only ever grows: two workers throttled at once keep the longer.
_HOLD = """
local left = redis.call('PTTL', KEYS[1])
if left < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], '1', 'PX', ARGV[1]) end
return 0
"""


class RedisLimiter:
    def __init__(self, client: redis.Redis, prefix: str = "distributor:rate:"):
        self.client = client
        self.prefix = prefix
        self.script = client.register_script(_GCRA)
        self.hold_script = client.register_script(_HOLD)

    def take(self, key: str, count: float | None, per: float = 1.0, burst: int = 1) -> float:
        """Take one slot of `count` per `per` seconds (up to `burst` at once) under `key`;
        0 when taken, else the seconds to wait. `count` None: no rate, only holds."""
        interval_ms = per * 1000 / count if count else 0
        try:
            wait_ms = self.script(keys=[self.prefix + key, self.prefix + key + ":hold"],
                                  args=[int(interval_ms), int(interval_ms * (burst - 1))])
        except redis.RedisError as exc:
            raise Unavailable(f"broker does not answer: {type(exc).__name__}") from None
        return float(wait_ms) / 1000.0

    def hold(self, key: str, seconds: float) -> None:
        """No slot under `key` for `seconds` (for every worker)."""
        try:
            self.hold_script(keys=[self.prefix + key + ":hold"], args=[max(1, int(seconds * 1000))])
        except redis.RedisError as exc:
            raise Unavailable(f"broker does not answer: {type(exc).__name__}") from None
