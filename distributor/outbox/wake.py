"""Wake-ups: how the domain asks for outbox work to run, without knowing Celery.

The database holds the work (planned batches and posts); a wake-up only says
"look at row N now". tasks/dispatch.py implements the Dispatcher over the broker
and turns broker errors into errors.Unavailable; MemoryDispatcher is the stub for
tests and tools. Losing a wake-up loses nothing: `sweep` sends it again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from distributor.mutations import disabled
from distributor.outbox.leases import due, mark_enqueued, void_silent
from distributor.states import BatchState, PostState
from distributor.store import Batch, ChannelPost, Database, Send

# The queues work travels on, one per kind of task ("<queue>.<task>" names route to them).
QUEUES = ("publish", "email", "channels", "digests", "maintenance")


class Dispatcher(Protocol):
    def fan_out(self, article_id: int) -> None: ...

    def send_batch(self, batch_id: int, countdown: float | None = None) -> None: ...

    def post(self, post_id: int, countdown: float | None = None) -> None: ...

    def confirm(self, subscription_id: int) -> None: ...


@dataclass
class MemoryDispatcher:
    """Keeps the wake-ups it is given, in order, as (task name, id); for tests and
    tools that run the work themselves."""

    calls: list[tuple[str, int]] = field(default_factory=list)

    def fan_out(self, article_id: int) -> None:
        self.calls.append(("publish.fan_out", article_id))

    def send_batch(self, batch_id: int, countdown: float | None = None) -> None:
        self.calls.append(("email.send_batch", batch_id))

    def post(self, post_id: int, countdown: float | None = None) -> None:
        self.calls.append(("channels.post", post_id))

    def confirm(self, subscription_id: int) -> None:
        self.calls.append(("email.confirm", subscription_id))

    def ids(self, name: str) -> list[int]:
        return [row_id for called, row_id in self.calls if called == name]


def _released(table, now: datetime):
    """Not held by an embargo (or a retry time) that lies in the future."""
    return or_(table.next_attempt_at.is_(None), table.next_attempt_at <= now)


def _wake(dispatcher: Dispatcher, post_ids: list[int], batch_ids: list[int]) -> None:
    """Posts first: a channel post is one request, and breaking news should not queue
    behind mail."""
    for post_id in post_ids:
        dispatcher.post(post_id)
    for batch_id in batch_ids:
        dispatcher.send_batch(batch_id)


def _mark_and_wake(db: Database, dispatcher: Dispatcher, now: datetime,
                   find: Callable[[Session], tuple[list[int], list[int]]],
                   ) -> tuple[list[int], list[int]]:
    """The posts and batches `find` picks are marked enqueued in the same transaction,
    then woken once it has committed (a wake-up lost after the commit is the sweeper's)."""
    with db.session() as session:
        post_ids, batch_ids = find(session)
        mark_enqueued(session, ChannelPost, post_ids, now)
        mark_enqueued(session, Batch, batch_ids, now)
    _wake(dispatcher, post_ids, batch_ids)
    return post_ids, batch_ids


def fan_out(db: Database, dispatcher: Dispatcher, article_id: int, now: datetime) -> tuple[int, int]:
    """Ask for every planned post and batch of an article to run, except those an
    embargo still holds. Cheap and repeatable: a second call only re-sends wake-ups,
    and leases keep the work single."""
    def find(session: Session) -> tuple[list[int], list[int]]:
        posts = session.scalars(select(ChannelPost.id).where(
            ChannelPost.article_id == article_id, ChannelPost.state == PostState.PLANNED,
            _released(ChannelPost, now)))
        batches = session.scalars(
            select(Batch.id).join(Send, Send.id == Batch.send_id)
            .where(Send.article_id == article_id, Batch.state == BatchState.PLANNED,
                   _released(Batch, now)))
        return list(posts), list(batches)

    post_ids, batch_ids = _mark_and_wake(db, dispatcher, now, find)
    return len(post_ids), len(batch_ids)


def release(db: Database, dispatcher: Dispatcher, now: datetime) -> tuple[int, int]:
    """Wake the posts and batches whose embargo has passed and that were never woken.
    Each row is taken by one conditional update, so two beats release it once."""
    taken: dict[type, list[int]] = {ChannelPost: [], Batch: []}
    planned = {ChannelPost: PostState.PLANNED, Batch: BatchState.PLANNED}
    with db.session() as session:
        for table in taken:
            for row_id in session.scalars(
                    select(table.id).where(table.state == planned[table],
                                           table.enqueued_at.is_(None),
                                           table.next_attempt_at <= now)
                    .order_by(table.id).limit(1000)):
                claimed = session.execute(update(table).where(
                    table.id == row_id, table.enqueued_at.is_(None)).values(enqueued_at=now))
                if claimed.rowcount == 1:
                    taken[table].append(row_id)
    _wake(dispatcher, taken[ChannelPost], taken[Batch])
    return len(taken[ChannelPost]), len(taken[Batch])


def enqueue_send(db: Database, dispatcher: Dispatcher, send_id: int, now: datetime) -> int:
    """Wake up every planned batch of one send (digests, resumed sends) that no time
    holds (a local-time digest's later zones: release wakes those)."""
    _, batch_ids = _mark_and_wake(db, dispatcher, now, lambda session: ([], list(
        session.scalars(select(Batch.id).where(
            Batch.send_id == send_id, Batch.state == BatchState.PLANNED,
            _released(Batch, now))))))
    return len(batch_ids)


def sweep(db: Database, dispatcher: Dispatcher, now: datetime,
          grace: timedelta = timedelta(minutes=2)) -> tuple[int, int]:
    """Re-enqueue open work whose task is gone (Redis lost it, or its worker died)."""
    if disabled("sweeper"):
        return 0, 0
    post_ids, batch_ids = _mark_and_wake(db, dispatcher, now, lambda session: (
        due(session, ChannelPost, now, grace), due(session, Batch, now, grace)))
    return len(batch_ids), len(post_ids)


def reclaim(db: Database, dispatcher: Dispatcher, now: datetime,
            silent: set[str]) -> tuple[int, int]:
    """Free and wake the batches and posts held by workers whose heartbeat has stopped
    (`silent`, from monitor.queues.silent_holders): a killed worker's work resumes in
    seconds instead of when its lease runs out."""
    if disabled("reclaim"):
        return 0, 0
    post_ids, batch_ids = _mark_and_wake(db, dispatcher, now, lambda session: (
        void_silent(session, ChannelPost, silent, now), void_silent(session, Batch, silent, now)))
    return len(batch_ids), len(post_ids)
