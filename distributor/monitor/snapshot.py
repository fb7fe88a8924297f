"""Everything `distributor status` shows, as one JSON-ready dict. The broker is
asked with short timeouts: when Redis is down the snapshot says so, fast."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import redis
from kombu.exceptions import KombuError

from distributor.channels.admin import disabled_channels
from distributor.config import Settings
from distributor.email.routes import route_states
from distributor.monitor.articles import scheduled_articles
from distributor.monitor.progress import recent_sends, troubled_posts
from distributor.monitor.queues import (
    broker_client,
    last_beat,
    ping_workers,
    queue_depths,
    worker_heartbeats,
)
from distributor.monitor.schedule import digest_lists
from distributor.store import Database


def _when(ts: float | None) -> dict[str, Any] | None:
    if ts is None:
        return None
    return {"at": datetime.fromtimestamp(ts, UTC).isoformat(),
            "seconds_ago": round(time.time() - ts, 1)}


def broker_facts(settings: Settings, celery_app=None) -> dict[str, Any]:
    """Queues, workers and the last beat run; 'broker' says 'ok' or why not."""
    data: dict[str, Any] = {"broker": "ok", "queues": [], "workers": [], "beat": None,
                            "mail_routes": route_states(settings, None)}
    client = broker_client(settings)
    try:
        data["queues"] = queue_depths(client, settings.broker_prefix)
        beats = worker_heartbeats(client, settings.broker_prefix)
        data["beat"] = _when(last_beat(client, settings.broker_prefix))
        data["mail_routes"] = route_states(settings, client)
        pinged = ping_workers(celery_app, expected=len(beats)) if celery_app else []
        seen = {w["name"]: w for w in pinged}
        for name in sorted(set(seen) | set(beats)):
            worker = seen.get(name, {"name": name, "active": None, "tasks": []})
            worker["replied"] = name in seen
            worker["heartbeat"] = _when(beats.get(name))
            data["workers"].append(worker)
    except (redis.RedisError, OSError) as exc:
        data["broker"] = f"unreachable ({settings_host(settings)}): {type(exc).__name__}"
    except KombuError as exc:  # celery's control API wraps connection errors in kombu's
        data["broker"] = f"unreachable ({settings_host(settings)}): {type(exc).__name__}"
    finally:
        client.close()
    return data


def settings_host(settings: Settings) -> str:
    """host:port/db of the broker, without credentials."""
    parts = urlsplit(settings.broker_url)
    return f"{parts.hostname}:{parts.port or 6379}{parts.path}"


def snapshot(db: Database, celery_app, settings: Settings) -> dict[str, Any]:
    now = datetime.now(UTC)
    data: dict[str, Any] = {"at": now.isoformat()}
    data.update(broker_facts(settings, celery_app))
    data["sends"] = recent_sends(db, now - timedelta(hours=24), now=now)
    data["channel_posts"] = troubled_posts(db)
    data["disabled_channels"] = disabled_channels(db, settings)
    data["digests"] = digest_lists(db, now)
    data["scheduled"] = scheduled_articles(db, now)
    return data
