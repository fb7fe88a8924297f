"""Digest lists and when each runs next: its cron read in its own timezone."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter
from sqlalchemy import select

from distributor.store import Database, MailingList


def next_run(schedule: str, timezone: str, now: datetime) -> datetime | None:
    """The next time `schedule` fires after `now`, as an aware datetime in `timezone`."""
    try:
        zone = ZoneInfo(timezone)
        return croniter(schedule, now.astimezone(zone)).get_next(datetime)
    except (ZoneInfoNotFoundError, ValueError, KeyError):
        return None


def digest_lists(db: Database, now: datetime | None = None) -> list[dict[str, Any]]:
    now = now or datetime.now(UTC)
    with db.session() as session:
        lists = session.scalars(select(MailingList).where(MailingList.kind == "digest")
                                .order_by(MailingList.name)).all()
        out = []
        for item in lists:
            upcoming = next_run(item.schedule or "", item.timezone, now) if item.schedule else None
            out.append({
                "list": item.name, "schedule": item.schedule, "timezone": item.timezone,
                "next_run": upcoming.isoformat() if upcoming else None,
                "next_run_utc": upcoming.astimezone(UTC).isoformat() if upcoming else None,
                "last_digest_at": item.last_digest_at.isoformat() if item.last_digest_at
                else None,
            })
        return out
