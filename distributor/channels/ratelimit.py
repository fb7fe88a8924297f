"""A rate limit per channel shared by every worker: GCRA in one Redis script.

Each call either takes a slot now (returns 0) or says how many seconds to wait.
Nothing sleeps here; the caller reschedules.
"""

from __future__ import annotations

import redis

from distributor.config import ChannelConfig, parse_rate
from distributor.errors import Unavailable

# KEYS[1] theoretical arrival time (ms); ARGV: interval ms, burst tolerance ms
_GCRA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local allow_at = tat - tolerance
if now < allow_at then return allow_at - now end
local new_tat = tat + interval
redis.call('SET', KEYS[1], new_tat, 'PX', math.ceil(new_tat - now + tolerance + 1000))
return 0
"""


class RedisLimiter:
    def __init__(self, client: redis.Redis, prefix: str = "distributor:rate:",
                 defaults: dict[str, str] | None = None):
        self.client = client
        self.prefix = prefix
        self.defaults = defaults or {}
        self.script = client.register_script(_GCRA)

    def rate_of(self, channel: ChannelConfig) -> tuple[float, float]:
        return parse_rate(channel.rate or self.defaults.get(channel.type, "1/s"))

    def take(self, key: str, count: float, per: float, burst: int = 1) -> float:
        """Take one slot of `count` per `per` seconds (up to `burst` at once) under `key`;
        0 when taken, else the seconds to wait."""
        interval_ms = per * 1000 / count
        try:
            wait_ms = self.script(keys=[self.prefix + key],
                                  args=[int(interval_ms), int(interval_ms * (burst - 1))])
        except redis.RedisError as exc:
            raise Unavailable(f"broker does not answer: {type(exc).__name__}") from None
        return float(wait_ms) / 1000.0

    def __call__(self, channel: ChannelConfig) -> float:
        count, per = self.rate_of(channel)
        return self.take(f"channel:{channel.name}", count, per, burst=max(1, int(count // 10)))
