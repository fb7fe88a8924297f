"""What happened to an article: each channel post and each send with its counts."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select

from distributor.errors import NotFound
from distributor.states import DELIVERY_FAILED, OPEN, SEND_OPEN, DeliveryState
from distributor.store import (
    Article,
    Batch,
    ChannelPost,
    Database,
    Delivery,
    MailingList,
    Send,
    SendTotal,
)


def send_counts(session, send_ids: list[int]) -> dict[int, dict[str, int]]:
    """Deliveries per send and state: the ledger's rows plus what pruning rolled up."""
    counts: dict[int, dict[str, int]] = {i: {} for i in send_ids}
    if send_ids:
        rows = session.execute(
            select(Delivery.send_id, Delivery.state, func.count())
            .where(Delivery.send_id.in_(send_ids)).group_by(Delivery.send_id, Delivery.state))
        totals = session.execute(select(SendTotal.send_id, SendTotal.state, SendTotal.count)
                                 .where(SendTotal.send_id.in_(send_ids)))
        for send_id, state, count in [*rows, *totals]:
            counts[send_id][state] = counts[send_id].get(state, 0) + count
    return counts


def batch_errors(session, send_ids: list[int]) -> dict[int, str]:
    """The latest reason a batch of each send gave (a transport failure, throttling, an
    unexpected error): why a send is slow or stuck, when the send itself says nothing."""
    errors: dict[int, str] = {}
    if send_ids:
        rows = session.execute(
            select(Batch.send_id, Batch.error)
            .where(Batch.send_id.in_(send_ids), Batch.error.is_not(None))
            .order_by(Batch.updated_at, Batch.id))
        errors.update({send_id: error for send_id, error in rows})
    return errors


# The counts a send report carries, in the order people read them.
COUNTS = ("planned", "sent", "failed", "deferred", "skipped")


def send_report(send: Send, list_name: str, counts: dict[str, int],
                batch_error: str | None = None) -> dict[str, Any]:
    return {
        "send_id": send.id, "kind": send.kind, "list": list_name, "state": send.state,
        "planned": send.planned, "sent": counts.get(DeliveryState.SENT, 0),
        "failed": sum(counts.get(state, 0) for state in DELIVERY_FAILED),
        "deferred": counts.get(DeliveryState.DEFERRED, 0),
        "skipped": counts.get(DeliveryState.SKIPPED, 0),
        "error": send.error or batch_error,
        "created_at": send.created_at.isoformat(),
        "finished_at": send.finished_at.isoformat() if send.finished_at else None,
    }


def deliveries(db: Database, guid: str) -> dict[str, Any]:
    with db.session() as session:
        article = session.scalar(select(Article).where(Article.guid == guid))
        if article is None:
            raise NotFound(f"no article with guid {guid!r}", {"guid": "unknown"})
        posts = session.scalars(select(ChannelPost).where(ChannelPost.article_id == article.id)
                                .order_by(ChannelPost.channel)).all()
        sends = session.execute(
            select(Send, MailingList.name).join(MailingList, MailingList.id == Send.list_id)
            .where(Send.article_id == article.id).order_by(MailingList.name)).all()
        counts = send_counts(session, [s.id for s, _ in sends])
        now = datetime.now(UTC)
        errors = batch_errors(session, [s.id for s, _ in sends])
        return {
            "guid": article.guid, "title": article.title, "url": article.url,
            "published_at": article.published_at.isoformat(),
            "scheduled_for": (article.published_at.isoformat()
                              if article.published_at > now else None),
            "channels": [{"channel": p.channel, "state": p.state, "attempts": p.attempts,
                          "remote_id": p.remote_id, "error": p.error,
                          "sent_at": p.sent_at.isoformat() if p.sent_at else None}
                         for p in posts],
            "sends": [send_report(s, name, counts[s.id], errors.get(s.id)) for s, name in sends],
        }


def is_settled(report: dict[str, Any]) -> bool:
    """True when nothing in the report is still waiting to go."""
    posts_done = all(p["state"] not in OPEN for p in report["channels"])
    sends_done = all(s["state"] not in SEND_OPEN for s in report["sends"])
    return posts_done and sends_done
