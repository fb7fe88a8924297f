"""A rate limit per channel shared by every worker: the GCRA limiter of
distributor.outbox.ratelimit, keyed by channel, at the channel's configured rate
(or its adapter's default). A 429 holds the whole channel, not only its post."""

from __future__ import annotations

import redis

from distributor.config import ChannelConfig
from distributor.outbox import ratelimit
from distributor.values import parse_rate


class ChannelLimiter(ratelimit.RedisLimiter):
    def __init__(self, client: redis.Redis, prefix: str = "distributor:rate:",
                 defaults: dict[str, str] | None = None):
        super().__init__(client, prefix)
        self.defaults = defaults or {}

    def rate_of(self, channel: ChannelConfig) -> tuple[float, float]:
        return parse_rate(channel.rate or self.defaults.get(channel.type, "1/s"))

    def __call__(self, channel: ChannelConfig) -> float:
        """Seconds before this channel may post again; 0 means now (a slot is taken)."""
        count, per = self.rate_of(channel)
        return self.take(_key(channel), count, per, burst=max(1, int(count // 10)))

    def hold_channel(self, channel: ChannelConfig, seconds: float) -> None:
        """The service said wait (a 429's retry-after): no worker posts to this channel
        before `seconds` from now."""
        self.hold(_key(channel), seconds)


def _key(channel: ChannelConfig) -> str:
    return f"channel:{channel.name}"
