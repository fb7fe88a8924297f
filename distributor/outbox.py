"""Leases on outbox rows (batches and channel posts).

A task claims a row before working on it; a second task for the same row finds
the lease held and leaves. The sweeper finds rows whose task is gone (Redis
restarted, worker killed) and asks for them to be enqueued again.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from distributor.store import Batch, ChannelPost

OPEN_STATES = ("planned", "running", "retrying")


def claim(session: Session, table: type[Batch] | type[ChannelPost], row_id: int,
          now: datetime, lease_seconds: int) -> bool:
    """Take the row for `lease_seconds`; False when it is finished or someone holds it."""
    result = session.execute(
        update(table)
        .where(table.id == row_id, table.state.in_(OPEN_STATES),
               or_(table.lease_until.is_(None), table.lease_until < now))
        .values(state="running", lease_until=now + timedelta(seconds=lease_seconds),
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
        .where(table.state.in_(OPEN_STATES),
               or_(table.lease_until.is_(None), table.lease_until < now),
               or_(table.enqueued_at.is_(None), table.enqueued_at < cutoff),
               or_(table.next_attempt_at.is_(None), table.next_attempt_at < cutoff))
        .order_by(table.id).limit(limit)
    ))


def fan_out(db, dispatcher, article_id: int, now: datetime) -> tuple[int, int]:
    """Ask for every planned post and batch of an article to run. Cheap and repeatable:
    a second call only re-sends wake-ups, and leases keep the work single."""
    from distributor.store import Send

    with db.session() as session:
        post_ids = list(session.scalars(select(ChannelPost.id).where(
            ChannelPost.article_id == article_id, ChannelPost.state == "planned")))
        batch_ids = list(session.scalars(
            select(Batch.id).join(Send, Send.id == Batch.send_id)
            .where(Send.article_id == article_id, Batch.state == "planned")))
        mark_enqueued(session, ChannelPost, post_ids, now)
        mark_enqueued(session, Batch, batch_ids, now)
    for post_id in post_ids:
        dispatcher.post(post_id)
    for batch_id in batch_ids:
        dispatcher.send_batch(batch_id)
    return len(post_ids), len(batch_ids)


def enqueue_send(db, dispatcher, send_id: int, now: datetime) -> int:
    """Wake up every planned batch of one send (digests, resumed sends)."""
    with db.session() as session:
        batch_ids = list(session.scalars(select(Batch.id).where(
            Batch.send_id == send_id, Batch.state == "planned")))
        mark_enqueued(session, Batch, batch_ids, now)
    for batch_id in batch_ids:
        dispatcher.send_batch(batch_id)
    return len(batch_ids)


def sweep(db, dispatcher, now: datetime, grace: timedelta = timedelta(minutes=2)) -> tuple[int, int]:
    """Re-enqueue open work whose task is gone (Redis lost it, or its worker died)."""
    with db.session() as session:
        batch_ids = due(session, Batch, now, grace)
        post_ids = due(session, ChannelPost, now, grace)
        mark_enqueued(session, Batch, batch_ids, now)
        mark_enqueued(session, ChannelPost, post_ids, now)
    for batch_id in batch_ids:
        dispatcher.send_batch(batch_id)
    for post_id in post_ids:
        dispatcher.post(post_id)
    return len(batch_ids), len(post_ids)
