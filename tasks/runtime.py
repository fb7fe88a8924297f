"""What a worker process holds once: settings, database, mail transport, HTTP pool."""

from __future__ import annotations

import sys
from datetime import timedelta
from functools import cache

import requests
from requests.adapters import HTTPAdapter

from distributor.bootstrap import load_settings
from distributor.channels.adapters import ADAPTERS
from distributor.channels.ratelimit import ChannelLimiter
from distributor.config import Settings
from distributor.email.routes import open_routes
from distributor.errors import ConfigError
from distributor.store import Database
from distributor.store.redis_client import redis_for


@cache
def settings() -> Settings:
    try:
        return load_settings()
    except ConfigError as exc:
        print(f"distributor: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


@cache
def db() -> Database:
    return Database(settings().database_url.get_secret_value())


@cache
def transport():
    """The mail routes ([[smtp]] or DISTRIBUTOR_SMTP_URL), paced and watched through Redis."""
    return open_routes(settings(), redis_client())


@cache
def http() -> requests.Session:
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=16, pool_maxsize=32, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = "distributor/0.1"
    return session


def reset() -> None:
    """After a fork: the child must open its own connections."""
    if db.cache_info().currsize:
        db().dispose()
    for holder in (db, transport, http, redis_client, limiter):
        holder.cache_clear()


@cache
def redis_client():
    return redis_for(settings(), timeout=5)


@cache
def limiter():
    defaults = {name: cls.default_rate for name, cls in ADAPTERS.items()}
    return ChannelLimiter(redis_client(), prefix=settings().broker_prefix + "distributor:rate:",
                        defaults=defaults)


def sweep_grace():
    return timedelta(seconds=settings().sweep_grace)
