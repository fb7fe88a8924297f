"""What the operators watch: queue depths and unacked messages in Redis, workers
through Celery's control API, progress of sends from the ledger."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import redis
from sqlalchemy import select

from distributor.channels.admin import disabled_channels
from distributor.config import Settings
from distributor.reports import send_counts, send_report
from distributor.store import ChannelPost, Database, MailingList, Send

QUEUES = ("publish", "email", "channels", "digests", "maintenance")
PRIORITY_SEP = "\x06\x16"


def queue_depths(client: redis.Redis) -> list[dict[str, Any]]:
    """Waiting messages per queue (priority sub-queues included) and messages taken
    by a worker but not yet acknowledged."""
    pipe = client.pipeline()
    for name in QUEUES:
        pipe.llen(name)
        for step in range(1, 10):
            pipe.llen(f"{name}{PRIORITY_SEP}{step}")
    counts = pipe.execute()
    unacked = {name: 0 for name in QUEUES}
    for raw in client.hvals("unacked")[:10_000]:
        try:
            routing_key = json.loads(raw)[2]
        except (ValueError, IndexError, TypeError):
            continue
        if routing_key in unacked:
            unacked[routing_key] += 1
    return [{"name": name, "waiting": sum(counts[i * 10:(i + 1) * 10]),
             "unacked": unacked[name]} for i, name in enumerate(QUEUES)]


def broker_client(settings: Settings) -> redis.Redis:
    return redis.Redis.from_url(settings.broker_url, socket_timeout=2, socket_connect_timeout=2)


def workers(celery_app, timeout: float = 1.0) -> list[dict[str, Any]]:
    replies = celery_app.control.ping(timeout=timeout) or []
    names = sorted(name for reply in replies for name in reply)
    active: dict[str, Any] = {}
    if names:
        active = celery_app.control.inspect(destination=names, timeout=timeout).active() or {}
    return [{"name": name, "active": len(active.get(name, []) or [])} for name in names]


def recent_sends(db: Database, since: datetime) -> list[dict[str, Any]]:
    with db.session() as session:
        rows = session.execute(
            select(Send, MailingList.name).join(MailingList, MailingList.id == Send.list_id)
            .where(Send.created_at >= since).order_by(Send.id.desc()).limit(200)).all()
        counts = send_counts(session, [s.id for s, _ in rows])
        return [send_report(s, name, counts[s.id]) for s, name in rows]


def troubled_posts(db: Database) -> list[dict[str, Any]]:
    with db.session() as session:
        posts = session.scalars(
            select(ChannelPost).where(ChannelPost.state.in_(("failed", "retrying")))
            .order_by(ChannelPost.id.desc()).limit(100)).all()
        return [{"post_id": p.id, "channel": p.channel, "state": p.state,
                 "attempts": p.attempts, "error": p.error} for p in posts]


def snapshot(db: Database, celery_app, settings: Settings) -> dict[str, Any]:
    data: dict[str, Any] = {"at": datetime.now(UTC).isoformat(), "broker": "ok",
                            "queues": [], "workers": []}
    try:
        data["queues"] = queue_depths(broker_client(settings))
        data["workers"] = workers(celery_app)
    except (redis.RedisError, OSError) as exc:
        data["broker"] = f"unreachable: {type(exc).__name__}"
    except Exception as exc:  # kombu wraps connection errors in its own types
        data["broker"] = f"unreachable: {type(exc).__name__}"
    data["sends"] = recent_sends(db, datetime.now(UTC) - timedelta(hours=24))
    data["channel_posts"] = troubled_posts(db)
    data["disabled_channels"] = disabled_channels(db, settings)
    return data
