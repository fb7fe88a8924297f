"""The ledger past its retention window. Per-recipient rows of sends that ended long
ago are rolled up into per-send totals (send_totals) and deleted, so the deliveries
table stops growing with every send; failures and bounces keep their rows, so
`failures list` and the suppression history still name the address. A pruned send
still reports its figures, and can no longer be retried (it would send twice)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select

from distributor.states import SEND_ENDED, DeliveryState
from distributor.store import Database, Delivery, Send, SendTotal

ROLLED_UP = (DeliveryState.SENT, DeliveryState.SKIPPED, DeliveryState.DEFERRED)


@dataclass
class Pruned:
    sends: int = 0
    rows: int = 0


def prune(db: Database, retention: float, now: datetime, chunk: int = 50) -> Pruned:
    """Roll up and delete the rolled-up rows of every send that ended more than
    `retention` seconds ago; one transaction per send, so it can stop anywhere."""
    cutoff = now - timedelta(seconds=retention)
    result = Pruned()
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
