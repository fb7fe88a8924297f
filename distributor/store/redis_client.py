"""The one place a Redis client is made: rate limits, heartbeats, counters, locks and
queue depths all go through :func:`redis_for`.

The Redis is ``DISTRIBUTOR_REDIS_URL`` when set, else the broker's. A
``sentinel://h1:26379;sentinel://h2:26379/0`` URL names the Sentinels, not the
server: the client asks them for the current primary of ``DISTRIBUTOR_SENTINEL_MASTER``
and asks again when that primary goes away or turns into a replica (a failover), so
the limiter and heartbeat follow the broker to its new primary.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit

import redis
from redis.sentinel import Sentinel

from distributor.config import Settings


@dataclass(frozen=True)
class SentinelAddress:
    """sentinel://[user:password@]h1:26379[/db];sentinel://h2:26379[/db]: the sentinels,
    and the credentials and database number of the primary they watch. Credentials and
    the database may be written on any one sentinel (the first one found counts)."""

    sentinels: tuple[tuple[str, int], ...]
    db: int = 0
    username: str | None = None
    password: str | None = None

    @classmethod
    def parse(cls, url: str) -> SentinelAddress:
        parts = [urlsplit(host) for host in url.split(";")]
        db = next((p.path.strip("/") for p in parts if p.path.strip("/")), "0")
        if not (db.isascii() and db.isdigit()):
            raise ValueError("the database after the last '/' must be a number")
        username = next((unquote(p.username) for p in parts if p.username), None)
        password = next((unquote(p.password) for p in parts if p.password), None)
        return cls(tuple((p.hostname or "localhost", p.port or 26379) for p in parts), int(db),
                   username, password)

    def kombu_url(self) -> str:
        """The same address the way kombu reads it: kombu takes the credentials and the
        database of the first sentinel only, so every part carries them."""
        auth = ""
        if self.username or self.password:
            auth = f"{quote(self.username or '', safe='')}:{quote(self.password or '', safe='')}@"
        return ";".join(f"sentinel://{auth}{host}:{port}/{self.db}" for host, port in self.sentinels)


def is_sentinel(url: str) -> bool:
    return url.startswith("sentinel://")


def connect(url: str, master: str, timeout: float) -> redis.Redis:
    """A client for a redis://, rediss://, unix:// or sentinel:// URL."""
    options = {"socket_timeout": timeout, "socket_connect_timeout": timeout}
    if not is_sentinel(url):
        return redis.Redis.from_url(url, retry_on_timeout=False, **options)
    address = SentinelAddress.parse(url)
    sentinel = Sentinel(list(address.sentinels), sentinel_kwargs=options, **options)
    return sentinel.master_for(master, db=address.db, username=address.username,
                               password=address.password)


def redis_for(settings: Settings, timeout: float = 5.0) -> redis.Redis:
    """The Redis of these settings (DISTRIBUTOR_REDIS_URL, else the broker)."""
    return connect(settings.redis, settings.sentinel_master, timeout)
