"""A rate limit per channel shared by every worker: the GCRA limiter of
distributor.outbox.ratelimit, keyed by channel, at the channel's configured rate
(or its adapter's default)."""

from __future__ import annotations

import redis

from distributor.config import ChannelConfig, parse_rate
from distributor.outbox import ratelimit


class RedisLimiter(ratelimit.RedisLimiter):
    def __init__(self, client: redis.Redis, prefix: str = "distributor:rate:",
                 defaults: dict[str, str] | None = None):
        super().__init__(client, prefix)
        self.defaults = defaults or {}

    def rate_of(self, channel: ChannelConfig) -> tuple[float, float]:
        return parse_rate(channel.rate or self.defaults.get(channel.type, "1/s"))

    def __call__(self, channel: ChannelConfig) -> float:
        count, per = self.rate_of(channel)
        return self.take(f"channel:{channel.name}", count, per, burst=max(1, int(count // 10)))
