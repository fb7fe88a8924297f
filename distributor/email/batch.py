"""Send one batch of an email send: stream its recipients, skip those already in
the ledger or suppressed, send over one SMTP connection, record each result.

The ledger row is written right after the server's 250, so a killed worker
repeats at most the one message that was in flight.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parseaddr

from sqlalchemy import bindparam, exists, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from distributor.audience.subscribers import bounce
from distributor.audience.tokens import email_digest
from distributor.config import Settings
from distributor.email.compose import compile_send, recipient, send_key
from distributor.email.dkim import dkim_signer
from distributor.email.message import CompiledEmail
from distributor.email.transport import Transport
from distributor.errors import PermanentError, RecipientRefused, TransientError
from distributor.outbox import leases
from distributor.outbox.retry import backoff
from distributor.states import (
    DELIVERY_FINISHED,
    OPEN,
    SEND_OPEN,
    SEND_STOPPED,
    BatchState,
    DeliveryState,
    Outcome,
    SendState,
    SubscriptionStatus,
)
from distributor.store import Batch, Database, Delivery, Send, Subscriber, Subscription, Suppression

MAX_BATCH_ATTEMPTS = 10
GIVE_UP_IN_BATCH = 5  # consecutive transient failures before a batch stops and retries later


@dataclass
class BatchResult:
    state: Outcome
    sent: int = 0
    deferred: int = 0
    failed: int = 0
    skipped: int = 0
    retry_in: float | None = None
    error: str | None = None


class _CompiledCache:
    """The messages this worker is busy with, compiled once per send and preference set."""

    def __init__(self, size: int = 32):
        self.size = size
        self.items: OrderedDict[tuple, CompiledEmail | None] = OrderedDict()

    def get(self, key: tuple, build) -> CompiledEmail | None:
        if key in self.items:
            self.items.move_to_end(key)
            return self.items[key]
        compiled = build()
        self.items[key] = compiled
        if len(self.items) > self.size:
            self.items.popitem(last=False)
        return compiled


compiled_cache = _CompiledCache()


_DELIVERIES = Delivery.__table__
# Built once: per recipient only the parameters change (statement building dominated).
_INSERT = _DELIVERIES.insert()
_RETRIED = (_DELIVERIES.update()
            .where(_DELIVERIES.c.send_id == bindparam("b_send"),
                   _DELIVERIES.c.subscriber_id == bindparam("b_subscriber"))
            .values(attempts=_DELIVERIES.c.attempts + 1))


def _record(connection: Connection, send_id: int, subscriber_id: int, state: DeliveryState,
            error: str | None, retried: bool) -> None:
    """One ledger row, committed at once: this runs once per recipient."""
    if retried:
        connection.execute(_RETRIED, {"b_send": send_id, "b_subscriber": subscriber_id,
                                      "state": state, "error": error, "at": datetime.now(UTC)})
    else:
        connection.execute(_INSERT, {"send_id": send_id, "subscriber_id": subscriber_id,
                                     "state": state, "error": error, "attempts": 1,
                                     "at": datetime.now(UTC)})
    connection.commit()


def _finish_send_if_complete(session: Session, send_id: int) -> None:
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


def _recipients(session: Session, send: Send, batch: Batch):
    finished = exists().where(Delivery.send_id == send.id,
                              Delivery.subscriber_id == Subscriber.id,
                              Delivery.state.in_(DELIVERY_FINISHED))
    return session.execute(
        select(Subscriber.id, Subscriber.email, Subscriber.name, Subscription.sections)
        .join(Subscription, Subscription.subscriber_id == Subscriber.id)
        .where(Subscription.list_id == send.list_id, Subscription.status == SubscriptionStatus.ACTIVE,
               Subscriber.id.between(batch.first_id, batch.last_id), ~finished)
        .order_by(Subscriber.id)).all()


def run_batch(db: Database, settings: Settings, transport: Transport, batch_id: int,
              now: datetime | None = None) -> BatchResult:
    now = now or datetime.now(UTC)
    lease = settings.lease_seconds
    with db.session() as session:
        if not leases.claim(session, Batch, batch_id, now, lease):
            batch = session.get(Batch, batch_id)
            busy = batch is not None and batch.state == BatchState.RUNNING
            return BatchResult(Outcome.BUSY if busy else Outcome.DONE)
        batch = session.get(Batch, batch_id)
        send = session.get(Send, batch.send_id)
        if send.state in SEND_STOPPED:
            batch.state, batch.lease_until = send.state, None
            return BatchResult(Outcome(send.state))
        send.state = SendState.RUNNING

        def compiled_for(preferences: tuple[str, ...]) -> CompiledEmail | None:
            # Keyed by the send's Message-ID tag, not its id: a reset database numbers
            # sends from 1 again while this worker still holds the old ones.
            return compiled_cache.get((send_key(settings, send), preferences),
                                      lambda: compile_send(session, settings, send, preferences))

        recipients = _recipients(session, send, batch)
        deferred = set(session.scalars(
            select(Delivery.subscriber_id).where(
                Delivery.send_id == send.id, Delivery.state == DeliveryState.DEFERRED,
                Delivery.subscriber_id.between(batch.first_id, batch.last_id))))
        suppressed = set(session.scalars(select(Suppression.email_hash).where(
            Suppression.email_hash.in_([email_digest(r.email) for r in recipients]))))
        send_id, list_id, attempts = send.id, send.list_id, batch.attempts
        try:  # render now: a template an operator broke fails this send, not the queue
            messages = {p: compiled_for(p) for p in
                        {(), *(_preferences(r.sections) for r in recipients)}}
        except Exception as exc:
            why = f"rendering failed: {type(exc).__name__}: {exc}"
            fail_send(session, send.id, why)
            return BatchResult(Outcome.FAILED, error=why)

    result = BatchResult(Outcome.DONE)
    sender = parseaddr(settings.from_address)[1]
    sign = dkim_signer(settings)
    consecutive = 0
    connection = transport.connect()
    ledger = db.engine.connect()
    try:
        for index, (subscriber_id, email, name, sections) in enumerate(recipients):
            existing = subscriber_id in deferred
            if email_digest(email) in suppressed:
                _record(ledger, send_id, subscriber_id, DeliveryState.SKIPPED, "suppressed", existing)
                result.skipped += 1
                continue
            compiled = messages[_preferences(sections)]
            if compiled is None:
                _record(ledger, send_id, subscriber_id, DeliveryState.SKIPPED,
                        "nothing in their sections", existing)
                result.skipped += 1
                continue
            reader = recipient(settings, list_id, subscriber_id, email, name)
            try:
                connection.send(sender, email, sign(compiled.fill(reader)))
            except RecipientRefused as exc:
                _record(ledger, send_id, subscriber_id, DeliveryState.BOUNCED, str(exc), existing)
                with db.session() as session:
                    bounce(session, subscriber_id, email)
                result.failed += 1
                consecutive = 0
            except PermanentError as exc:
                _record(ledger, send_id, subscriber_id, DeliveryState.FAILED, str(exc), existing)
                result.failed += 1
                consecutive = 0
            except TransientError as exc:
                _record(ledger, send_id, subscriber_id, DeliveryState.DEFERRED, str(exc), existing)
                result.deferred += 1
                result.error = str(exc)
                consecutive += 1
            else:
                _record(ledger, send_id, subscriber_id, DeliveryState.SENT, None, existing)
                result.sent += 1
                consecutive = 0
            if consecutive >= settings.smtp_pause_after:
                why = f"paused after {consecutive} consecutive failures; last: {result.error}"
                with db.session() as session:
                    pause_send(session, send_id, why)
                return BatchResult(Outcome.PAUSED, sent=result.sent, deferred=result.deferred,
                                   failed=result.failed, error=why)
            if consecutive >= GIVE_UP_IN_BATCH:
                result.deferred += len(recipients) - index - 1
                break
            if index % 100 == 99:
                with db.session() as session:
                    leases.renew(session, Batch, batch_id, datetime.now(UTC), lease)
    except Exception:
        _release(db, batch_id)  # let the next try claim it without waiting out the lease
        raise
    finally:
        connection.close()
        ledger.close()

    with db.session() as session:
        batch = session.get(Batch, batch_id)
        batch.lease_until = None
        if result.deferred and attempts < MAX_BATCH_ATTEMPTS:
            result.state = Outcome.RETRY
            result.retry_in = backoff(attempts, settings.email_retry_base)
            batch.next_attempt_at = datetime.now(UTC) + timedelta(seconds=result.retry_in)
        else:
            if result.deferred:
                session.execute(update(Delivery).where(
                    Delivery.send_id == send_id, Delivery.state == DeliveryState.DEFERRED,
                    Delivery.subscriber_id.between(batch.first_id, batch.last_id))
                    .values(state=DeliveryState.FAILED))
            batch.state = BatchState.DONE
            session.flush()
            _finish_send_if_complete(session, send_id)
    return result


def _release(db: Database, batch_id: int) -> None:
    try:
        with db.session() as session:
            session.execute(update(Batch).where(Batch.id == batch_id).values(lease_until=None))
    except SQLAlchemyError:
        pass  # the lease runs out by itself; the sweeper takes it from there


def _preferences(sections: list[str] | None) -> tuple[str, ...]:
    return tuple(sorted({s.casefold() for s in sections or []}))
