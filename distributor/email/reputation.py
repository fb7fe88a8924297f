"""Sender reputation: hard-bounce and complaint rates per send and per list, and the
watch that pauses a send before a bad import burns the sending domain.

A rate is readers with an event over readers the send reached (sent or refused at
RCPT). Gmail and Yahoo ask bulk senders to stay under 0.3% complaints; 5% hard
bounces is where providers start to throttle. A send pauses itself (with the reason)
past `hard_bounce_pause` or `complaint_pause` once it has reached
`reputation_floor` readers, so that the first few reports of a small send do not.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from distributor.config import Settings
from distributor.email.closing import pause_send
from distributor.states import SEND_OPEN, BounceKind, DeliveryState
from distributor.store import BounceEvent, Delivery, MailingList, Send, SendTotal

REACHED = (DeliveryState.SENT, DeliveryState.BOUNCED)


def _rate(part: int, whole: int) -> float:
    return round(part / whole, 5) if whole else 0.0


def send_rates(session: Session, send_ids: list[int]) -> dict[int, dict]:
    """Per send: readers reached, hard bounces, complaints and their rates."""
    if not send_ids:
        return {}
    reached = dict(session.execute(
        select(Delivery.send_id, func.count()).where(
            Delivery.send_id.in_(send_ids), Delivery.state.in_(REACHED))
        .group_by(Delivery.send_id)).all())
    for send_id, count in session.execute(  # ledger rows rolled up by `db prune`
            select(SendTotal.send_id, func.sum(SendTotal.count)).where(
                SendTotal.send_id.in_(send_ids), SendTotal.state.in_(REACHED))
            .group_by(SendTotal.send_id)):
        reached[send_id] = reached.get(send_id, 0) + int(count)
    events = {(send_id, kind): count for send_id, kind, count in session.execute(
        select(BounceEvent.send_id, BounceEvent.kind,
               func.count(func.distinct(BounceEvent.subscriber_id)))
        .where(BounceEvent.send_id.in_(send_ids)).group_by(BounceEvent.send_id, BounceEvent.kind))}
    out = {}
    for send_id in send_ids:
        whole = reached.get(send_id, 0)
        hard = events.get((send_id, BounceKind.HARD), 0)
        complaints = events.get((send_id, BounceKind.COMPLAINT), 0)
        out[send_id] = {"reached": whole, "hard_bounces": hard, "complaints": complaints,
                        "soft_bounces": events.get((send_id, BounceKind.SOFT), 0),
                        "hard_bounce_rate": _rate(hard, whole),
                        "complaint_rate": _rate(complaints, whole)}
    return out


def list_rates(session: Session, since: datetime) -> list[dict]:
    """Per list, over the sends made since `since`."""
    sends = session.execute(select(Send.id, MailingList.name)
                            .join(MailingList, MailingList.id == Send.list_id)
                            .where(Send.created_at >= since)).all()
    rates = send_rates(session, [s for s, _ in sends])
    totals: dict[str, dict] = {}
    for send_id, name in sends:
        total = totals.setdefault(name, {"list": name, "reached": 0, "hard_bounces": 0,
                                         "soft_bounces": 0, "complaints": 0})
        for field in ("reached", "hard_bounces", "soft_bounces", "complaints"):
            total[field] += rates[send_id][field]
    for total in totals.values():
        total["hard_bounce_rate"] = _rate(total["hard_bounces"], total["reached"])
        total["complaint_rate"] = _rate(total["complaints"], total["reached"])
    return sorted(totals.values(), key=lambda t: t["list"])


def too_risky(settings: Settings, rates: dict) -> str | None:
    """Why a send with these rates must stop, or None."""
    if rates["reached"] < settings.reputation_floor:
        return None
    if rates["hard_bounce_rate"] > settings.hard_bounce_pause:
        return (f"paused: {rates['hard_bounce_rate']:.1%} hard bounces "
                f"({rates['hard_bounces']} of {rates['reached']}), over "
                f"{settings.hard_bounce_pause:.1%}; check the list before resuming")
    if rates["complaint_rate"] > settings.complaint_pause:
        return (f"paused: {rates['complaint_rate']:.2%} spam complaints "
                f"({rates['complaints']} of {rates['reached']}), over "
                f"{settings.complaint_pause:.2%}; check the list before resuming")
    return None


def watch(session: Session, settings: Settings, send_id: int) -> str | None:
    """Pause the send when its rates are past the limits; the reason, or None."""
    state = session.scalar(select(Send.state).where(Send.id == send_id))
    if state not in SEND_OPEN:
        return None
    why = too_risky(settings, send_rates(session, [send_id])[send_id])
    if why:
        pause_send(session, send_id, why)
    return why
