"""The ledger past its retention window. Per-recipient rows of sends that ended long
ago are rolled up into per-send totals (send_totals) and deleted, so the deliveries
table stops growing with every send; failures and bounces keep their rows, so
`failures list` and the suppression history still name the address. A pruned send
still reports its figures, and can no longer be retried (it would send twice)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert

from distributor.states import SEND_ENDED, DeliveryState
from distributor.store import Database, Delivery, Send, SendTotal, partitions

ROLLED_UP = (DeliveryState.SENT, DeliveryState.SKIPPED, DeliveryState.DEFERRED)


@dataclass
class Pruned:
    sends: int = 0
    rows: int = 0


def prune(db: Database, retention: float, now: datetime, chunk: int = 50) -> Pruned:
    """Roll up and delete the rolled-up rows of every send that ended more than
    `retention` seconds ago; one transaction per send, so it can stop anywhere. On
    PostgreSQL whole partitions of such sends go first (drop_partitions)."""
    cutoff = now - timedelta(seconds=retention)
    result = drop_partitions(db, cutoff)
    while True:
        with db.session() as session:
            send_ids = list(session.scalars(
                select(Send.id).where(Send.state.in_(SEND_ENDED), Send.finished_at < cutoff,
                                      select(Delivery.id).where(
                                          Delivery.send_id == Send.id,
                                          Delivery.state.in_(ROLLED_UP)).exists())
                .order_by(Send.id).limit(chunk)))
        if not send_ids:
            return result
        for send_id in send_ids:
            result.rows += _roll_up(db, send_id)
            result.sends += 1


def drop_partitions(db: Database, cutoff: datetime) -> Pruned:
    """PostgreSQL: each closed partition whose sends all ended before `cutoff` is rolled
    up into send_totals in one statement and dropped; its failures and bounces move to
    the default partition. One transaction per partition. Then the partitions ahead of
    the newest send are made."""
    result = Pruned()
    with db.engine.begin() as connection:
        if not partitions.is_partitioned(connection):
            return result
        candidates = partitions.closed(connection)
    for partition in candidates:
        with db.engine.begin() as connection:
            open_sends = connection.execute(
                select(func.count()).select_from(Send).where(
                    Send.id >= partition.low, Send.id < partition.high,
                    or_(Send.state.not_in(SEND_ENDED), Send.finished_at.is_(None),
                        Send.finished_at >= cutoff))).scalar()
            if open_sends:
                continue
            counts = connection.execute(
                select(Delivery.send_id, Delivery.state, func.count())
                .where(Delivery.send_id >= partition.low, Delivery.send_id < partition.high,
                       Delivery.state.in_(ROLLED_UP))
                .group_by(Delivery.send_id, Delivery.state)).all()
            for send_id, state, count in counts:
                connection.execute(
                    pg_insert(SendTotal).values(send_id=send_id, state=state, count=count)
                    .on_conflict_do_update(index_elements=["send_id", "state"],
                                           set_={"count": SendTotal.count + count}))
            partitions.drop(connection, partition,
                            tuple(s for s in DeliveryState if s not in ROLLED_UP))
            result.sends += len({send_id for send_id, _, _ in counts})
            result.rows += sum(count for _, _, count in counts)
    with db.engine.begin() as connection:
        partitions.ensure_ahead(connection)
    return result


def _roll_up(db: Database, send_id: int) -> int:
    with db.session() as session:
        counts = {state: count for state, count in session.execute(
            select(Delivery.state, func.count()).where(
                Delivery.send_id == send_id, Delivery.state.in_(ROLLED_UP))
            .group_by(Delivery.state))}
        for state, count in counts.items():
            total = session.get(SendTotal, (send_id, state))
            if total is None:
                session.add(SendTotal(send_id=send_id, state=state, count=count))
            else:
                total.count += count
        session.execute(delete(Delivery).where(Delivery.send_id == send_id,
                                               Delivery.state.in_(ROLLED_UP)))
        return sum(counts.values())


def is_pruned(session, send_id: int) -> bool:
    return session.scalar(select(SendTotal.send_id).where(SendTotal.send_id == send_id)
                          .limit(1)) is not None
