"""Leases on outbox rows (batches and channel posts).

A task claims a row before working on it; a second task for the same row finds
the lease held and leaves. `due` finds rows whose task is gone (Redis restarted,
worker killed) so that the sweeper (wake.py) asks for them again.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from distributor.states import OPEN, PostState
from distributor.store import Batch, ChannelPost


def claim(session: Session, table: type[Batch] | type[ChannelPost], row_id: int,
          now: datetime, lease_seconds: int) -> bool:
    """Take the row for `lease_seconds`; False when it is finished or someone holds it."""
    result = session.execute(
        update(table)
        .where(table.id == row_id, table.state.in_(OPEN),
               or_(table.lease_until.is_(None), table.lease_until < now))
        .values(state=PostState.RUNNING, lease_until=now + timedelta(seconds=lease_seconds),
                attempts=table.attempts + 1)
    )
    return result.rowcount == 1


def renew(session: Session, table: type[Batch] | type[ChannelPost], row_id: int,
          now: datetime, lease_seconds: int) -> None:
    session.execute(update(table).where(table.id == row_id)
                    .values(lease_until=now + timedelta(seconds=lease_seconds)))


def mark_enqueued(session: Session, table: type[Batch] | type[ChannelPost], ids: list[int],
                  now: datetime) -> None:
    if ids:
        session.execute(update(table).where(table.id.in_(ids)).values(enqueued_at=now))


def due(session: Session, table: type[Batch] | type[ChannelPost], now: datetime,
        grace: timedelta, limit: int = 1000) -> list[int]:
    """Open rows with no live lease whose task should have run by now."""
    cutoff = now - grace
    return list(session.scalars(
        select(table.id)
        .where(table.state.in_(OPEN),
               or_(table.lease_until.is_(None), table.lease_until < now),
               or_(table.enqueued_at.is_(None), table.enqueued_at < cutoff),
               or_(table.next_attempt_at.is_(None), table.next_attempt_at < cutoff))
        .order_by(table.id).limit(limit)
    ))
