"""Send one batch of an email send: stream its recipients, skip those already in
the ledger or suppressed, send over one SMTP connection, record each result.

The ledger row is written right after the server's 250, so a killed worker
repeats at most the one message that was in flight.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import exists, false, or_, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from distributor.audience.tokens import email_digest
from distributor.config import Settings
from distributor.email import reputation
from distributor.email.bounces import refused_at_rcpt, return_path
from distributor.email.closing import (
    MAX_BATCH_ATTEMPTS,
    batch_broke,
    close_batch,
    expire_send,
    fail_send,
    hold_batch,
    pause_send,
    release,
    short,
)
from distributor.email.compose import compile_send, recipient, send_key
from distributor.email.dkim import dkim_signer
from distributor.email.ledger_writer import LedgerWriter
from distributor.email.message import CompiledEmail
from distributor.email.pace import THROTTLE_HOLD, Pace
from distributor.email.transport import Connection, Transport
from distributor.errors import PermanentError, RecipientRefused, Throttled, TransientError
from distributor.mutations import disabled
from distributor.outbox import leases
from distributor.outbox.plan import alert_due, members
from distributor.states import (
    DELIVERY_FINISHED,
    SEND_STOPPED,
    BatchState,
    DeliveryState,
    Outcome,
    SendState,
    SubscriptionStatus,
)
from distributor.store import (
    DEFERRED_ROW,
    Article,
    Batch,
    Database,
    Delivery,
    MailingList,
    Send,
    Subscriber,
    Subscription,
    Suppression,
)
from distributor.values import format_duration

__all__ = ["MAX_BATCH_ATTEMPTS", "BatchResult", "fail_send", "pause_send", "run_batch"]

log = logging.getLogger("distributor.email")
REPUTATION_EVERY = 100  # readers between two looks at the send's bounce rate (once one failed)
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
    list_name: str | None = None
    tally: dict[str, int] = field(default_factory=dict)  # final ledger states, for /metrics
    retries: int = 0  # readers tried again in this run


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


def _note(ledger: LedgerWriter, result: BatchResult, send_id: int, subscriber_id: int,
          state: DeliveryState, error: str | None, retried: bool) -> None:
    """Record one reader's result in the ledger, and count it for /metrics."""
    ledger.record(send_id, subscriber_id, state, error, retried)
    if state != DeliveryState.DEFERRED:
        result.tally[state] = result.tally.get(state, 0) + 1
    result.retries += retried


def _stale(session: Session, send: Send, now: datetime) -> str | None:
    """Why an alert is no longer news, or None. Digests keep their own rule."""
    if send.kind != "alert":
        return None
    mailing_list = session.get(MailingList, send.list_id)
    published_at = session.get(Article, send.article_id).published_at
    # Counted from when the alert was meant to go: quiet hours do not age it.
    age = (now - alert_due(mailing_list, published_at)).total_seconds()
    if age <= mailing_list.max_age:
        return None
    return (f"expired: {age / 3600:.1f} h late when its turn came, over the list's "
            f"max_age of {format_duration(mailing_list.max_age)}")


def _recipients(session: Session, send: Send, batch: Batch, covered, now: datetime):
    # The ledger is read over the batch's own range of readers, stated outright: without
    # it PostgreSQL, misled by statistics taken before the send began, sorted every row
    # of the send for each batch (a million-reader send slowed to 250/s).
    finished = exists().where(Delivery.send_id == send.id,
                              Delivery.subscriber_id.between(batch.first_id, batch.last_id),
                              Delivery.subscriber_id == Subscriber.id,
                              Delivery.state.in_(DELIVERY_FINISHED))
    if disabled("ledger"):
        finished = false()
    unpaused = or_(Subscription.paused_until.is_(None), Subscription.paused_until <= now)
    return session.execute(
        select(Subscriber.id, Subscriber.email, Subscriber.name, Subscription.sections)
        .join(Subscription, Subscription.subscriber_id == Subscriber.id)
        .where(Subscription.list_id == send.list_id, Subscription.status == SubscriptionStatus.ACTIVE,
               unpaused, covered, ~finished)
        .order_by(Subscriber.id)).all()


def run_batch(db: Database, settings: Settings, transport: Transport, batch_id: int,
              now: datetime | None = None, pace: Pace | None = None) -> BatchResult:
    """One run of one batch. `pace` (when given) keeps the mail route's shared rate and
    its holds; without it a throttling reply still stops the run and retries the rest."""
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
        stale = _stale(session, send, now)
        if stale:
            expire_send(session, send.id, stale)
            return BatchResult(Outcome.EXPIRED, error=stale)
        send.state = SendState.RUNNING
        mailing_list = session.get(MailingList, send.list_id)
        list_name, covered = mailing_list.name, members(batch, mailing_list.timezone)

        def compiled_for(preferences: tuple[str, ...]) -> CompiledEmail | None:
            # Keyed by the send's Message-ID tag, not its id: a reset database numbers
            # sends from 1 again while this worker still holds the old ones.
            return compiled_cache.get((send_key(settings, send), preferences),
                                      lambda: compile_send(session, settings, send, preferences))

        recipients = _recipients(session, send, batch, covered, now)
        deferred = set(session.scalars(
            select(Delivery.subscriber_id).where(
                Delivery.send_id == send.id, DEFERRED_ROW,
                Delivery.subscriber_id.in_(select(Subscriber.id).where(covered)))))
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

    result = BatchResult(Outcome.DONE, list_name=list_name)
    connection = ledger = None
    try:
        connection = transport.connect()
        ledger = LedgerWriter(db.engine.connect())
        stop = _deliver(db, settings, connection, ledger, result, pace, send_id, list_id,
                        batch_id, recipients, messages, deferred, suppressed)
    except Exception as exc:  # a fault of the batch, not of one reader: keep it on the batch
        why = short(f"batch stopped by an unexpected error: {type(exc).__name__}: {exc}")
        log.exception("batch=%s %s", batch_id, why)
        if ledger is not None:  # its failed transaction may hold a lock the next write needs
            ledger.close()
            ledger = None
        try:
            retry_in = batch_broke(db, batch_id, send_id, attempts, why, settings.email_retry_base)
        except SQLAlchemyError:
            release(db, batch_id)  # let the next try claim it without waiting out the lease
            raise
        result.error, result.retry_in = why, retry_in
        result.state = Outcome.FAILED if retry_in is None else Outcome.RETRY
        return result
    finally:
        if connection is not None:
            connection.close()
        if ledger is not None:
            ledger.close()

    if isinstance(stop, _Lost):  # the batch is someone else's now: write nothing to it
        log.warning("batch=%s %s", batch_id, stop.why)
        result.state, result.error = Outcome.BUSY, stop.why
        return result
    if isinstance(stop, _Paused):
        with db.session() as session:
            pause_send(session, send_id, stop.why)
        result.state, result.error = Outcome.PAUSED, stop.why
        return result
    if isinstance(stop, _Throttled):
        hold_batch(db, batch_id, stop.wait, stop.why)
        result.state, result.retry_in, result.error = Outcome.RETRY, stop.wait, stop.why
        return result
    result.retry_in, given_up = close_batch(db, batch_id, send_id, attempts=attempts,
                                            deferred=bool(result.deferred), error=result.error,
                                            retry_base=settings.email_retry_base)
    if given_up:  # readers still deferred after the last try: failed now
        result.tally[DeliveryState.FAILED] = result.tally.get(DeliveryState.FAILED, 0) + given_up
    if result.retry_in is not None:
        result.state = Outcome.RETRY
    return result


@dataclass
class _Paused:
    why: str


@dataclass
class _Lost:
    why: str


@dataclass
class _Throttled:
    wait: float
    why: str


def _deliver(db: Database, settings: Settings, connection: Connection, ledger: LedgerWriter,
             result: BatchResult, pace: Pace | None, send_id: int, list_id: int, batch_id: int,
             recipients, messages, deferred: set[int],
             suppressed: set[str]) -> _Paused | _Throttled | _Lost | None:
    """Send to each reader in turn and record each result at once. Whatever goes wrong
    with one reader (their address, a refusal) fails that reader alone; a throttling
    reply or a long wait for the route's rate stops the run with the rest untouched."""
    signers: dict[str, object] = {}  # per From domain: a list may send as its own
    consecutive = 0
    hold = leases.Hold(db, Batch, batch_id, settings.lease_seconds)
    for index, (subscriber_id, email, name, sections) in enumerate(recipients):
        # Renewed by the clock, not by count: a paced route makes a batch slow, and a
        # lease that ran out (or was voided) would let a second task send to its readers.
        if not hold.kept(datetime.now(UTC)):
            return _Lost(f"lease lost before subscriber {subscriber_id}")
        existing = subscriber_id in deferred
        if email_digest(email) in suppressed:
            _note(ledger, result, send_id, subscriber_id, DeliveryState.SKIPPED, "suppressed",
                  existing)
            result.skipped += 1
            continue
        compiled = messages[_preferences(sections)]
        if compiled is None:
            _note(ledger, result, send_id, subscriber_id, DeliveryState.SKIPPED,
                  "nothing in their sections", existing)
            result.skipped += 1
            continue
        route_pace = getattr(connection, "pace", None) or pace  # routed: the route's own
        wait = route_pace.wait(email.rpartition("@")[2]) if route_pace else 0.0
        if wait:
            return _Throttled(wait, f"waiting {wait:.1f}s for the mail route's rate")
        try:
            sign = signers.get(compiled.domain) or signers.setdefault(
                compiled.domain, dkim_signer(settings, compiled.domain))
            message = sign(compiled.fill(recipient(settings, list_id, subscriber_id, email, name,
                                                     compiled.per_reader)))
            sender = return_path(settings, send_id, subscriber_id, email) or compiled.from_address
            connection.send(sender, email, message)  # VERP, else the list's own sender
        except Throttled as exc:
            hold = (route_pace.slow_down(exc.retry_after) if route_pace
                    else exc.retry_after or THROTTLE_HOLD)
            return _Throttled(hold, f"throttled by the mail server: {exc}")
        except RecipientRefused as exc:
            _note(ledger, result, send_id, subscriber_id, DeliveryState.BOUNCED, str(exc), existing)
            with db.session() as session:
                too_many = refused_at_rcpt(session, settings, send_id, subscriber_id, str(exc))
            result.failed += 1
            consecutive = 0
            if too_many:
                return _Paused(too_many)
        except PermanentError as exc:
            _note(ledger, result, send_id, subscriber_id, DeliveryState.FAILED, str(exc), existing)
            result.failed += 1
            consecutive = 0
        except TransientError as exc:
            _note(ledger, result, send_id, subscriber_id, DeliveryState.DEFERRED, str(exc), existing)
            result.deferred += 1
            result.error = str(exc)
            consecutive += 1
        except Exception as exc:  # tied to this reader (their name, their address...)
            why = short(f"unexpected error: {type(exc).__name__}: {exc}")
            log.exception("send=%s subscriber=%s %s", send_id, subscriber_id, why)
            connection.close()  # the next reader starts on a clean connection
            _note(ledger, result, send_id, subscriber_id, DeliveryState.FAILED, why, existing)
            result.failed += 1
            result.error = why
            consecutive += 1  # the same fault for every reader pauses the send
        else:
            _note(ledger, result, send_id, subscriber_id, DeliveryState.SENT, None, existing)
            result.sent += 1
            consecutive = 0
        if result.failed and (index + 1) % REPUTATION_EVERY == 0:
            with db.session() as session:
                too_many = reputation.watch(session, settings, send_id)
            if too_many:
                return _Paused(too_many)
        if consecutive >= settings.smtp_pause_after:
            return _Paused(f"paused after {consecutive} consecutive failures; last: {result.error}")
        if consecutive >= GIVE_UP_IN_BATCH:
            result.deferred += len(recipients) - index - 1
            return None
    return None


def _preferences(sections: list[str] | None) -> tuple[str, ...]:
    if not sections:  # most readers
        return ()
    return tuple(sorted({s.casefold() for s in sections or []}))
