"""How a run of a batch ends in the outbox: done, retried later, paused, failed, or
stopped by an error nobody expected. Every end that is not plain success leaves its
reason on the batch (or the send), where `deliveries`, `status`, `failures list` and
the dashboard read it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import exists, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from distributor.outbox.plan import members
from distributor.outbox.retry import backoff
from distributor.states import OPEN, SEND_OPEN, BatchState, DeliveryState, SendState
from distributor.store import DEFERRED_ROW, Batch, Database, Delivery, MailingList, Send, Subscriber

MAX_BATCH_ATTEMPTS = 10
MAX_ERROR = 500  # characters of an error kept on a row
HELD = "held: "  # starts the error of a batch that waits for its route's pace (not a failure)


def short(error: str) -> str:
    first = error.strip().splitlines()[0] if error.strip() else error
    return first[:MAX_ERROR]


def finish_send_if_complete(session: Session, send_id: int) -> None:
    open_batches = exists().where(Batch.send_id == send_id,
                                  Batch.state.not_in((BatchState.DONE, BatchState.FAILED)))
    session.execute(update(Send).where(Send.id == send_id, Send.state.in_(SEND_OPEN),
                                       ~open_batches)
                    .values(state=SendState.DONE, finished_at=datetime.now(UTC)))


def pause_send(session: Session, send_id: int, why: str) -> None:
    session.execute(update(Send).where(Send.id == send_id).values(state=SendState.PAUSED, error=why))
    session.execute(update(Batch).where(Batch.send_id == send_id,
                                        Batch.state.in_(OPEN))
                    .values(state=BatchState.PAUSED, lease_until=None))


def fail_send(session: Session, send_id: int, why: str) -> None:
    session.execute(update(Send).where(Send.id == send_id)
                    .values(state=SendState.FAILED, error=why, finished_at=datetime.now(UTC)))
    session.execute(update(Batch).where(Batch.send_id == send_id,
                                        Batch.state.in_(OPEN))
                    .values(state=BatchState.FAILED, error=why, lease_until=None))


def close_batch(db: Database, batch_id: int, send_id: int, *, attempts: int, deferred: bool,
                error: str | None, retry_base: float) -> tuple[float | None, int]:
    """The end of a run that went through its recipients: seconds until the next try
    when some wait for one, else None (the batch is done; what still waited failed);
    and how many readers were given up on."""
    with db.session() as session:
        batch = session.get(Batch, batch_id)
        batch.lease_until = None
        batch.error = short(error) if error else None
        if deferred and attempts < MAX_BATCH_ATTEMPTS:
            retry_in = backoff(attempts, retry_base)
            batch.next_attempt_at = datetime.now(UTC) + timedelta(seconds=retry_in)
            return retry_in, 0
        given_up = 0
        if deferred:
            list_zone = session.scalar(select(MailingList.timezone).join(
                Send, Send.list_id == MailingList.id).where(Send.id == send_id))
            covered = select(Subscriber.id).where(members(batch, list_zone))
            given_up = session.execute(update(Delivery).where(
                Delivery.send_id == send_id, DEFERRED_ROW,
                Delivery.subscriber_id.in_(covered))
                .values(state=DeliveryState.FAILED)).rowcount
        batch.state = BatchState.DONE
        session.flush()
        finish_send_if_complete(session, send_id)
        return None, given_up


def expire_send(session: Session, send_id: int, why: str) -> None:
    """Stale news stays unsent: the send ends, its batches with it, no email goes."""
    session.execute(update(Send).where(Send.id == send_id)
                    .values(state=SendState.EXPIRED, error=why, finished_at=datetime.now(UTC)))
    session.execute(update(Batch).where(Batch.send_id == send_id, Batch.state.in_(OPEN))
                    .values(state=BatchState.DONE, error=why, lease_until=None))


def hold_batch(db: Database, batch_id: int, wait: float, why: str) -> None:
    """The route asked us to slow down: try the rest after `wait` seconds, and give back
    the attempt this run took (throttling is nobody's failure)."""
    with db.session() as session:
        session.execute(update(Batch).where(Batch.id == batch_id).values(
            lease_until=None, error=short(HELD + why), attempts=Batch.attempts - 1,
            next_attempt_at=datetime.now(UTC) + timedelta(seconds=wait)))


def batch_broke(db: Database, batch_id: int, send_id: int, attempts: int, why: str,
                retry_base: float) -> float | None:
    """An error nobody expected stopped a run: keep it on the batch, try again later, and
    after MAX_BATCH_ATTEMPTS fail the batch (it shows in `failures list`) instead of
    trying forever. Returns the seconds until the next try, None when the batch failed.
    Raises when even this cannot be written (the database is gone: the task retries)."""
    with db.session() as session:
        batch = session.get(Batch, batch_id)
        batch.lease_until, batch.error = None, short(why)
        if attempts < MAX_BATCH_ATTEMPTS:
            retry_in = backoff(attempts, retry_base)
            batch.next_attempt_at = datetime.now(UTC) + timedelta(seconds=retry_in)
            return retry_in
        batch.state = BatchState.FAILED
        session.flush()
        finish_send_if_complete(session, send_id)
        return None


def release(db: Database, batch_id: int) -> None:
    try:
        with db.session() as session:
            session.execute(update(Batch).where(Batch.id == batch_id).values(lease_until=None))
    except SQLAlchemyError:
        pass  # the lease runs out by itself; the sweeper takes it from there
