"""Leases on outbox rows (batches and channel posts).

A task claims a row before working on it; a second task for the same row finds
the lease held and leaves. `due` finds rows whose task is gone (Redis restarted,
worker killed) so that the sweeper (wake.py) asks for them again.

A lease names its holder: the worker process, whose heartbeat (monitor/heartbeat.py)
reaches Redis every few seconds. A lease whose holder has been silent for
HOLDER_SILENCE is void (`void_silent`): a killed worker's batch resumes in seconds,
not when its lease runs out. A live holder never shares its row: it stops sending
once its own heartbeat has failed for STOP_AFTER (shorter than HOLDER_SILENCE), and
`Hold.kept` re-checks every CHECK_EVERY that the row is still its own.
"""

from __future__ import annotations

import time
from collections.abc import Collection
from datetime import datetime, timedelta

from sqlalchemy import or_, select, true, update
from sqlalchemy.orm import Session

from distributor.mutations import disabled
from distributor.states import OPEN, PostState
from distributor.store import Batch, ChannelPost, Database

HOLDER_SILENCE = 15.0  # seconds without a heartbeat after which a holder's leases are void
STOP_AFTER = 10.0  # a holder whose heartbeat failed this long stops before anyone takes over
CHECK_EVERY = 2.0  # seconds between a running batch's checks that its lease is still its own


class Holder:
    """This process as a lease holder. A worker names it when its heartbeat starts;
    elsewhere (CLI, tests calling run_batch) it has no name and leases end by time only."""

    def __init__(self) -> None:
        self.name: str | None = None
        self.last_beat = 0.0

    def start(self, name: str) -> None:
        self.name = name
        self.beat()

    def forget(self) -> None:
        """A forked child has no heartbeat of its own: it holds by time only."""
        self.name = None

    def beat(self) -> None:
        """Called when the heartbeat reached Redis."""
        self.last_beat = time.monotonic()

    def fresh(self) -> bool:
        return self.name is None or time.monotonic() - self.last_beat < STOP_AFTER


holder = Holder()


def claim(session: Session, table: type[Batch] | type[ChannelPost], row_id: int,
          now: datetime, lease_seconds: int) -> bool:
    """Take the row for `lease_seconds`; False when it is finished or someone holds it."""
    free = or_(table.lease_until.is_(None), table.lease_until < now)
    if disabled("batch-lease" if table is Batch else "post-lease"):
        free = true()
    result = session.execute(
        update(table)
        .where(table.id == row_id, table.state.in_(OPEN), free)
        .values(state=PostState.RUNNING, lease_until=now + timedelta(seconds=lease_seconds),
                lease_holder=holder.name, attempts=table.attempts + 1)
    )
    return result.rowcount == 1


def renew(session: Session, table: type[Batch] | type[ChannelPost], row_id: int,
          now: datetime, lease_seconds: int) -> bool:
    """Extend this holder's lease; False when the row is no longer held by it."""
    result = session.execute(
        update(table).where(table.id == row_id, table.state.in_(OPEN),
                            table.lease_holder.is_not_distinct_from(holder.name))
        .values(lease_until=now + timedelta(seconds=lease_seconds)))
    return result.rowcount == 1


class Hold:
    """A claimed row while a run works on it: `kept()` before each message says whether
    to go on, renewing the lease every CHECK_EVERY seconds."""

    def __init__(self, db: Database, table: type[Batch] | type[ChannelPost], row_id: int,
                 lease_seconds: int):
        self.db, self.table, self.row_id, self.lease_seconds = db, table, row_id, lease_seconds
        self.checked = time.monotonic()

    def kept(self, now: datetime) -> bool:
        if not holder.fresh():
            return False
        if time.monotonic() - self.checked < min(CHECK_EVERY, self.lease_seconds / 3):
            return True
        with self.db.session() as session:
            kept = renew(session, self.table, self.row_id, now, self.lease_seconds)
        self.checked = time.monotonic()
        return kept


def void_silent(session: Session, table: type[Batch] | type[ChannelPost], silent: Collection[str],
                now: datetime) -> list[int]:
    """Free the live leases of holders whose heartbeat has stopped; the rows freed."""
    if not silent:
        return []
    held_by_silent = (table.state.in_(OPEN), table.lease_until >= now,
                      table.lease_holder.in_(list(silent)))
    ids = list(session.scalars(select(table.id).where(*held_by_silent).order_by(table.id)))
    if ids:
        session.execute(update(table).where(table.id.in_(ids), *held_by_silent)
                        .values(lease_until=None, lease_holder=None))
    return ids


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
