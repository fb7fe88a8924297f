"""Redis-side facts: queue depths (priority sub-queues included), messages taken
but not acknowledged, and the heartbeats that beat and the workers leave behind."""

from __future__ import annotations

import json
import time
from typing import Any

import redis
from kombu import Connection
from kombu.exceptions import ChannelError

from distributor.config import Settings
from distributor.outbox.wake import QUEUES
from distributor.store.redis_client import redis_for

PRIORITY_SEP = "\x06\x16"
BEAT_KEY = "distributor:beat:last"
WORKERS_KEY = "distributor:workers"  # sorted set: hostname -> unix time of its last beat
WORKER_TTL = 90  # a worker silent for this long is gone
HOLDERS_KEY = "distributor:holders"  # sorted set: lease holder -> unix time of its last beat
HOLDER_MEMORY = 3600  # longer than any lease: a holder silent for this long is forgotten
TIMEOUT = 1.5  # seconds: the monitor never hangs on a dead broker


def broker_client(settings: Settings, timeout: float = TIMEOUT) -> redis.Redis:
    """The Redis that holds heartbeats and counters (the broker's own unless
    DISTRIBUTOR_REDIS_URL names another), through Sentinel when so configured."""
    return redis_for(settings, timeout)


def queue_depths(client: redis.Redis, prefix: str = "") -> list[dict[str, Any]]:
    """Waiting messages per queue and messages taken by a worker but not yet acked.
    `prefix` is DISTRIBUTOR_BROKER_PREFIX, which kombu puts before every key."""
    pipe = client.pipeline()
    for name in QUEUES:
        pipe.llen(prefix + name)
        for step in range(1, 10):
            pipe.llen(f"{prefix}{name}{PRIORITY_SEP}{step}")
    counts = pipe.execute()
    unacked = {name: 0 for name in QUEUES}
    for raw in client.hvals(prefix + "unacked")[:10_000]:
        try:
            routing_key = json.loads(raw)[2]
        except (ValueError, IndexError, TypeError):
            continue
        if routing_key in unacked:
            unacked[routing_key] += 1
    return [{"name": name, "waiting": sum(counts[i * 10:(i + 1) * 10]),
             "unacked": unacked[name]} for i, name in enumerate(QUEUES)]


def broker_queue_depths(settings: Settings, client: redis.Redis) -> list[dict[str, Any]]:
    """Queue depths from the broker: Redis lists, or RabbitMQ's own count of ready
    messages (a passive declare). RabbitMQ tells no unacked count without its management
    plugin, so 'unacked' is None there."""
    if not settings.broker_is_amqp:
        return queue_depths(client, settings.broker_prefix)
    depths = []
    with Connection(settings.broker_url, connect_timeout=TIMEOUT,
                    transport_options={"max_retries": 0}) as connection:
        for name in QUEUES:
            channel = connection.channel()
            try:
                _, waiting, _ = channel.queue_declare(settings.broker_prefix + name, passive=True)
            except ChannelError:  # not declared yet: no worker has started on it
                waiting = 0
            finally:
                channel.close()
            depths.append({"name": name, "waiting": waiting, "unacked": None})
    return depths


def record_beat(client: redis.Redis, now: float | None = None, prefix: str = "") -> None:
    """Called by the sweeper that beat starts every minute."""
    client.set(prefix + BEAT_KEY, f"{now or time.time():.3f}")


def last_beat(client: redis.Redis, prefix: str = "") -> float | None:
    value = client.get(prefix + BEAT_KEY)
    return float(value) if value else None


def record_worker(client: redis.Redis, hostname: str, now: float | None = None,
                  prefix: str = "", holder: str | None = None) -> None:
    """One heartbeat: the worker's name for the monitor and, when it holds leases, the
    process's holder name (outbox.leases.Holder) for the sweeper."""
    at = round(now or time.time(), 3)
    pipe = client.pipeline(transaction=False)
    pipe.zadd(prefix + WORKERS_KEY, {hostname: at})
    if holder:
        pipe.zadd(prefix + HOLDERS_KEY, {holder: at})
    pipe.execute()


def silent_holders(client: redis.Redis, silence: float, prefix: str = "",
                   now: float | None = None) -> set[str]:
    """Lease holders whose last heartbeat is older than `silence` seconds. A holder Redis
    never saw (it was flushed or restarted) is not among them: its leases end by time."""
    key, now = prefix + HOLDERS_KEY, now or time.time()
    pipe = client.pipeline(transaction=False)
    pipe.zremrangebyscore(key, "-inf", now - HOLDER_MEMORY)
    pipe.zrangebyscore(key, "-inf", now - silence)
    return {name.decode() for name in pipe.execute()[1]}


def forget_worker(client: redis.Redis, hostname: str, prefix: str = "") -> None:
    client.zrem(prefix + WORKERS_KEY, hostname)


def worker_heartbeats(client: redis.Redis, prefix: str = "",
                      now: float | None = None) -> dict[str, float]:
    """Hostname -> unix time of its last heartbeat, for every worker seen lately. One
    sorted set holds them (no SCAN of a shared keyspace); workers silent for WORKER_TTL
    seconds are dropped from it on the way."""
    key = prefix + WORKERS_KEY
    pipe = client.pipeline(transaction=False)
    pipe.zremrangebyscore(key, "-inf", (now or time.time()) - WORKER_TTL)
    pipe.zrange(key, 0, 999, withscores=True)
    _, beats = pipe.execute()
    return {name.decode(): float(ts) for name, ts in beats}


def ping_workers(celery_app, expected: int = 0, timeout: float = 1.0) -> list[dict[str, Any]]:
    """Workers that answer a control ping, with their active task count. Returns as
    soon as `expected` workers replied (when known), else after `timeout`."""
    replies = celery_app.control.ping(timeout=timeout, limit=expected or None) or []
    names = sorted(name for reply in replies for name in reply)
    active: dict[str, Any] = {}
    if names:
        active = celery_app.control.inspect(destination=names, timeout=timeout,
                                            limit=len(names)).active() or {}
    return [{"name": name, "active": len(active.get(name, []) or []),
             "tasks": [t.get("name") for t in active.get(name, []) or []][:20]}
            for name in names]
