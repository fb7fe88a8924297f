"""Digest lists and when each runs next: its cron read in its own timezone."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from distributor.email.digests import next_run
from distributor.store import Database, MailingList


def digest_lists(db: Database, now: datetime | None = None) -> list[dict[str, Any]]:
    now = now or datetime.now(UTC)
    with db.session() as session:
        lists = session.scalars(select(MailingList).where(MailingList.kind == "digest")
                                .order_by(MailingList.name)).all()
        out = []
        for item in lists:
            upcoming = next_run(item, now)  # lists are validated on creation
            local = upcoming.astimezone(ZoneInfo(item.timezone))
            out.append({
                "list": item.name, "schedule": item.schedule, "timezone": item.timezone,
                "next_run": local.isoformat(), "next_run_utc": upcoming.isoformat(),
                "last_digest_at": item.last_digest_at.isoformat() if item.last_digest_at
                else None,
            })
        return out
