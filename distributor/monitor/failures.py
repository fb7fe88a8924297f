"""What failed and why, and how to try it again.

A failure has an id of the form KIND:NUMBER:
  post:12      a channel post that failed (the service's error text, attempts)
  send:3       an email send that failed or was paused (its batches are re-opened)
  batch:7      one failed batch of a send
  delivery:40  one recipient refused (5xx) or bounced; shown, never retried: the
               address is suppressed and sending again would only hurt reputation

Retrying re-opens the row (state planned, attempts reset, error cleared) and asks
the dispatcher to run it; the outbox leases keep the work single, the ledger keeps
a recipient from getting an email twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any

from sqlalchemy import select, update

from distributor.email.ledger import is_pruned
from distributor.errors import InvalidInput, NotFound, Unavailable
from distributor.outbox import wake
from distributor.states import (
    DELIVERY_FAILED,
    OPEN,
    SEND_STOPPED,
    BatchState,
    DeliveryState,
    PostState,
    SendState,
    may_move,
)
from distributor.store import (
    Article,
    Batch,
    ChannelPost,
    ChannelState,
    Database,
    Delivery,
    MailingList,
    Send,
    Subscriber,
)

log = logging.getLogger("distributor.failures")

KINDS = ("post", "send", "batch", "delivery")
RETRYABLE = ("post", "send", "batch")


def parse_id(text: str) -> tuple[str, int]:
    kind, _, number = text.strip().partition(":")
    if kind not in KINDS or not (number.isascii() and number.isdigit()):
        raise InvalidInput(f"{text!r} is not a failure id; use post:N, send:N, batch:N "
                           "(see `distributor failures list`)", {"id": "malformed"})
    return kind, int(number)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def list_failures(db: Database, limit: int = 200) -> list[dict[str, Any]]:
    """Failed channel posts, sends, batches and deliveries, newest first."""
    items: list[dict[str, Any]] = []
    with db.session() as session:
        for post, guid, title in session.execute(
                select(ChannelPost, Article.guid, Article.title)
                .join(Article, Article.id == ChannelPost.article_id)
                .where(ChannelPost.state == PostState.FAILED)
                .order_by(ChannelPost.id.desc()).limit(limit)):
            items.append({"id": f"post:{post.id}", "kind": "channel post",
                          "what": f"{title} → {post.channel}", "guid": guid,
                          "channel": post.channel, "state": post.state,
                          "attempts": post.attempts, "error": post.error,
                          "at": _iso(post.sent_at or post.created_at), "retryable": True})
        for send, list_name, title in session.execute(
                select(Send, MailingList.name, Article.title)
                .join(MailingList, MailingList.id == Send.list_id)
                .outerjoin(Article, Article.id == Send.article_id)
                .where(Send.state.in_(SEND_STOPPED))
                .order_by(Send.id.desc()).limit(limit)):
            items.append({"id": f"send:{send.id}", "kind": f"{send.kind} send",
                          "what": f"{title or send.kind} → list {list_name}", "list": list_name,
                          "state": send.state, "attempts": None, "error": send.error,
                          "at": _iso(send.finished_at or send.created_at), "retryable": True})
        for batch, list_name in session.execute(
                select(Batch, MailingList.name).join(Send, Send.id == Batch.send_id)
                .join(MailingList, MailingList.id == Send.list_id)
                .where(Batch.state == BatchState.FAILED, Send.state.not_in(SEND_STOPPED))
                .order_by(Batch.id.desc()).limit(limit)):
            items.append({"id": f"batch:{batch.id}", "kind": "email batch",
                          "what": f"send {batch.send_id} → list {list_name}, subscribers "
                                  f"{batch.first_id}–{batch.last_id}", "list": list_name,
                          "state": batch.state, "attempts": batch.attempts,
                          "error": batch.error, "at": _iso(batch.updated_at),
                          "retryable": True})
        for batch, list_name in session.execute(
                select(Batch, MailingList.name).join(Send, Send.id == Batch.send_id)
                .join(MailingList, MailingList.id == Send.list_id)
                .where(Batch.state.in_(OPEN), Batch.error.is_not(None))
                .order_by(Batch.id.desc()).limit(limit)):
            items.append({"id": f"batch:{batch.id}", "kind": "email batch (retrying)",
                          "what": f"send {batch.send_id} → list {list_name}, subscribers "
                                  f"{batch.first_id}–{batch.last_id}", "list": list_name,
                          "state": batch.state, "attempts": batch.attempts,
                          "error": batch.error, "at": _iso(batch.updated_at),
                          "retryable": False, "note": "tries again by itself"})
        for delivery, email, list_name in session.execute(
                select(Delivery, Subscriber.email, MailingList.name)
                .join(Send, Send.id == Delivery.send_id)
                .join(MailingList, MailingList.id == Send.list_id)
                .outerjoin(Subscriber, Subscriber.id == Delivery.subscriber_id)
                .where(Delivery.state.in_(DELIVERY_FAILED))
                .order_by(Delivery.id.desc()).limit(limit)):
            items.append({"id": f"delivery:{delivery.id}", "kind": "email",
                          "what": f"{email or 'erased subscriber'} (send {delivery.send_id}, "
                                  f"list {list_name})", "list": list_name,
                          "state": delivery.state, "attempts": delivery.attempts,
                          "error": delivery.error, "at": _iso(delivery.at), "retryable": False,
                          "note": "address suppressed" if delivery.state == DeliveryState.BOUNCED
                          else "not retried"})
    items.sort(key=lambda item: item["at"] or "", reverse=True)
    return items


@dataclass
class Retried:
    id: str
    what: str
    enqueued: bool = True

    @property
    def status(self) -> str:
        if self.enqueued:
            return "re-opened and enqueued"
        return "re-opened; the broker did not answer, the sweeper enqueues it when it is back"

    def as_dict(self) -> dict[str, str]:
        return {"id": self.id, "what": self.what, "status": self.status}


def retry(db: Database, dispatcher, failure_id: str, now: datetime | None = None) -> Retried:
    """Re-open one failure and enqueue it. NotFound for an unknown id, InvalidInput
    for one that cannot be retried."""
    kind, number = parse_id(failure_id)
    now = now or datetime.now(UTC)
    if kind == "delivery":
        raise InvalidInput(f"{failure_id}: a refused or bounced address is suppressed and "
                           "not retried", {"id": "not retryable"})
    if kind == "post":
        what = _reopen_post(db, number, failure_id, now)
        enqueue = partial(dispatcher.post, number)
    elif kind == "batch":
        what = _reopen_batch(db, number, failure_id, now)
        enqueue = partial(dispatcher.send_batch, number)
    else:
        what = _reopen_send(db, number, failure_id)
        enqueue = partial(wake.enqueue_send, db, dispatcher, number, now)
    try:
        enqueue()
    except Unavailable as exc:  # reopened in the database: the sweeper sends it later
        log.warning("retry %s: re-opened but not enqueued (%s)", failure_id, exc,
                    extra={"failure_id": failure_id})
        return Retried(failure_id, what, enqueued=False)
    log.info("retry %s: %s re-opened and enqueued", failure_id, what,
             extra={"failure_id": failure_id})
    return Retried(failure_id, what)


def retry_all(db: Database, dispatcher, now: datetime | None = None) -> list[Retried]:
    return [retry(db, dispatcher, item["id"], now)
            for item in list_failures(db, limit=10_000) if item["retryable"]]


def _reopen_post(db: Database, post_id: int, failure_id: str, now: datetime) -> str:
    with db.session() as session:
        post = session.get(ChannelPost, post_id)
        if post is None:
            raise NotFound(f"no channel post {failure_id}", {"id": "unknown"})
        if not may_move(PostState(post.state), PostState.PLANNED):
            raise InvalidInput(f"{failure_id} is {post.state}, not failed", {"id": "not failed"})
        state = session.get(ChannelState, post.channel)
        if state is not None and state.disabled:  # the operator asks for it: try the channel again
            state.disabled, state.reason = False, None
        post.state, post.attempts, post.error = PostState.PLANNED, 0, None
        post.lease_until, post.next_attempt_at, post.enqueued_at = None, None, now
        # The operator's retry starts the post over: its max_age runs from now.
        post.created_at = now
        return f"channel post to {post.channel}"


def _reopen_batch(db: Database, batch_id: int, failure_id: str, now: datetime) -> str:
    with db.session() as session:
        batch = session.get(Batch, batch_id)
        if batch is None:
            raise NotFound(f"no batch {failure_id}", {"id": "unknown"})
        if not may_move(BatchState(batch.state), BatchState.PLANNED):
            raise InvalidInput(f"{failure_id} is {batch.state}, not failed", {"id": "not failed"})
        _refuse_pruned(session, batch.send_id, failure_id)
        _reopen_batches(session, [batch_id])
        session.execute(update(Send).where(Send.id == batch.send_id)
                        .values(state=SendState.RUNNING, error=None, finished_at=None))
        batch.enqueued_at = now
        return f"batch of send {batch.send_id}"


def _reopen_send(db: Database, send_id: int, failure_id: str) -> str:
    with db.session() as session:
        send = session.get(Send, send_id)
        if send is None:
            raise NotFound(f"no send {failure_id}", {"id": "unknown"})
        if send.state not in SEND_STOPPED:  # a planned or running send is not re-opened
            raise InvalidInput(f"{failure_id} is {send.state}, not failed", {"id": "not failed"})
        _refuse_pruned(session, send_id, failure_id)
        ids = list(session.scalars(select(Batch.id).where(
            Batch.send_id == send_id, Batch.state.in_(SEND_STOPPED))))
        _reopen_batches(session, ids)
        send.state, send.error, send.finished_at = SendState.RUNNING, None, None
        return f"{send.kind} send {send_id} ({len(ids)} batches)"


def _refuse_pruned(session, send_id: int, failure_id: str) -> None:
    if is_pruned(session, send_id):
        raise InvalidInput(f"{failure_id}: its ledger is past retention and was pruned, so a "
                           "retry could send to readers twice", {"id": "pruned"})


def _reopen_batches(session, ids: list[int]) -> None:
    if ids:
        session.execute(update(Batch).where(Batch.id.in_(ids)).values(
            state=BatchState.PLANNED, attempts=0, error=None, lease_until=None,
            next_attempt_at=None))
