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


# KEYS[1] as above; ARGV: wait ms, burst tolerance ms. Moves the next slot to now + wait
# at the earliest (never earlier than it already is).
_HOLD = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local tolerance = tonumber(ARGV[2])
local new_tat = now + tonumber(ARGV[1]) + tolerance
local tat = tonumber(redis.call('GET', KEYS[1]) or 0)
if new_tat > tat then
  redis.call('SET', KEYS[1], new_tat, 'PX', math.ceil(new_tat - now + 1000))
end
return 0
"""


class RedisLimiter:
    def __init__(self, client: redis.Redis, prefix: str = "distributor:rate:",
                 defaults: dict[str, str] | None = None):
        self.client = client
        self.prefix = prefix
        self.defaults = defaults or {}
        self.script = client.register_script(_GCRA)
        self.hold_script = client.register_script(_HOLD)

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

    def _channel(self, channel: ChannelConfig) -> tuple[str, float, int]:
        count, per = self.rate_of(channel)
        return f"channel:{channel.name}", per * 1000 / count, max(1, int(count // 10))

    def __call__(self, channel: ChannelConfig) -> float:
        key, interval_ms, burst = self._channel(channel)
        return self.take(key, 1, interval_ms / 1000, burst=burst)

    def hold(self, channel: ChannelConfig, seconds: float) -> None:
        """The service said wait (a 429's retry-after): no worker posts to this channel
        before `seconds` from now."""
        key, interval_ms, burst = self._channel(channel)
        try:
            self.hold_script(keys=[self.prefix + key],
                             args=[int(seconds * 1000), int(interval_ms * (burst - 1))])
        except redis.RedisError as exc:
            raise Unavailable(f"broker does not answer: {type(exc).__name__}") from None
