"""What a bounce or a complaint does to a reader: the policy, and its record.

    hard       5.1.x (no such user, 5.1.10 null MX), 5.2.1 (mailbox disabled), or a
               permanent failure with no status: bounced on every list, suppressed
    soft       4.x.x, 5.2.2 (mailbox full), other 5.x.x: counted; `soft_bounce_limit`
               of them within `soft_bounce_window` make it a hard bounce
    policy     x.7.x (refused by policy or reputation) is soft, and never suppresses the
               address: the limit of them takes the reader off that one list only
    complaint  the reader called it spam (ARF, a provider's complaint): complained on
               every list, suppressed

Every event is stored with its raw reason (`subscribers show EMAIL`), keyed so that
a report read twice counts once (RFC 3463 for the status codes).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from distributor.audience.subscribers import normalise_email, suppress, suppression_reason
from distributor.audience.tokens import read_verp_token, verp_matches
from distributor.config import Settings
from distributor.errors import InvalidInput, NotFound
from distributor.states import BounceKind, SubscriptionStatus
from distributor.store import BounceEvent, Database, MailingList, Send, Subscriber, Subscription

# RFC 3463 section 3.1: class.subject.detail; class 2 success, 4 persistent transient,
# 5 permanent. Section 3.2 names subject 1 "addressing", 7 "security or policy".
_STATUS = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.])")
_HARD = re.compile(r"^5\.(1\.\d+|2\.1)$")
OFF = (SubscriptionStatus.ACTIVE, SubscriptionStatus.UNCONFIRMED)  # what a bounce ends


def find_status(text: str) -> str | None:
    """The first RFC 3463 enhanced status code in a reply or a diagnostic."""
    match = _STATUS.search(text or "")
    return ".".join(match.groups()) if match else None


def classify(status: str | None, permanent: bool) -> BounceKind | None:
    """hard or soft; None for a success status (a DSN may report 'delivered')."""
    if status is None:
        return BounceKind.HARD if permanent else BounceKind.SOFT
    if status.startswith("2."):
        return None
    return BounceKind.HARD if _HARD.match(status) else BounceKind.SOFT


def is_policy(status: str | None) -> bool:
    return bool(status) and status.split(".")[1] == "7"


@dataclass(frozen=True)
class Report:
    """One address a bounce report, complaint or provider event names."""

    kind: BounceKind
    key: str  # names the event: the same report read again has the same key
    source: str  # smtp | mailbox | ses | postmark | sendgrid | mailgun
    reason: str  # the raw diagnostic, as the reporter wrote it
    status: str | None = None
    email: str | None = None  # the failed recipient, as the report gives it
    verp: str | None = None  # the token of our return path, when the report kept it
    send_id: int | None = None
    subscriber_id: int | None = None  # known already: the SMTP server refused this reader


@dataclass(frozen=True)
class Applied:
    outcome: str  # recorded | duplicate | unknown | forged
    send_id: int | None = None
    effect: str = ""  # what it did to the reader, in words


def apply_report(session: Session, settings: Settings, report: Report,
                 now: datetime | None = None) -> Applied:
    """Record one report and apply the policy to the reader it names. A token that does not
    verify changes nothing, and does not fall back to the address in the report."""
    now = now or datetime.now(UTC)
    subscriber, send_id, refusal = _reader(session, settings, report)
    if subscriber is None:
        return Applied(refusal)
    if session.scalar(select(BounceEvent.id).where(BounceEvent.key == report.key)) is not None:
        return Applied("duplicate", send_id)
    try:
        with session.begin_nested():
            session.add(BounceEvent(key=report.key[:300], subscriber_id=subscriber.id,
                                    send_id=send_id, kind=report.kind, status=report.status,
                                    source=report.source, reason=report.reason[:4000], at=now))
    except IntegrityError:  # the same report, taken by another worker just now
        return Applied("duplicate", send_id)
    return Applied("recorded", send_id, _policy(session, settings, subscriber, send_id, report,
                                                now))


def _reader(session: Session, settings: Settings, report: Report
            ) -> tuple[Subscriber | None, int | None, str]:
    """The subscriber a report is about and the send it answers: by the return path's
    token when there is one, else by the address (and the send the report names)."""
    if report.subscriber_id is not None:
        return session.get(Subscriber, report.subscriber_id), report.send_id, "unknown"
    if report.verp is not None:
        parsed = read_verp_token(report.verp)
        subscriber = session.get(Subscriber, parsed[1]) if parsed else None
        if parsed is None or subscriber is None or not verp_matches(
                settings.secret, parsed[0], parsed[1], subscriber.email, parsed[2]):
            return None, None, "forged"
        send_id = parsed[0] if session.get(Send, parsed[0]) is not None else None
        return subscriber, send_id, ""
    if not report.email:
        return None, None, "unknown"
    try:
        email = normalise_email(report.email)
    except InvalidInput:
        return None, None, "unknown"
    subscriber = session.scalar(select(Subscriber).where(Subscriber.email == email))
    send_id = report.send_id if report.send_id and session.get(Send, report.send_id) else None
    return subscriber, send_id, "unknown"


def _policy(session: Session, settings: Settings, subscriber: Subscriber, send_id: int | None,
            report: Report, now: datetime) -> str:
    if report.kind == BounceKind.COMPLAINT:
        _end_everywhere(session, subscriber, SubscriptionStatus.COMPLAINED)
        return "complained: off every list, suppressed"
    if report.kind == BounceKind.HARD:
        _end_everywhere(session, subscriber, SubscriptionStatus.BOUNCED)
        return "bounced: off every list, suppressed"
    limit = settings.soft_bounce_limit
    recent_soft = select(func.count()).select_from(BounceEvent).where(
        BounceEvent.subscriber_id == subscriber.id, BounceEvent.kind == BounceKind.SOFT,
        BounceEvent.at >= now - timedelta(seconds=settings.soft_bounce_window))
    policy_status = BounceEvent.status.like("4.7.%") | BounceEvent.status.like("5.7.%")
    if not is_policy(report.status):
        count = session.scalar(recent_soft.where(BounceEvent.status.is_(None) | ~policy_status))
        if count < limit:
            return f"soft: {count} of {limit}"
        _end_everywhere(session, subscriber, SubscriptionStatus.BOUNCED)
        return f"bounced after {count} soft bounces: off every list, suppressed"
    if send_id is None:  # no list to count it against
        return "soft (policy): counted"
    list_id = session.scalar(select(Send.list_id).where(Send.id == send_id))
    count = session.scalar(recent_soft.join(Send, Send.id == BounceEvent.send_id)
                           .where(Send.list_id == list_id, policy_status))
    if count < limit:
        return f"soft (policy): {count} of {limit} on this list"
    session.execute(update(Subscription).where(
        Subscription.subscriber_id == subscriber.id, Subscription.list_id == list_id,
        Subscription.status.in_(OFF)).values(status=SubscriptionStatus.BOUNCED))
    return "bounced on this list only (policy refusals are not the address's fault)"


def _end_everywhere(session: Session, subscriber: Subscriber, status: SubscriptionStatus) -> None:
    session.execute(update(Subscription).where(
        Subscription.subscriber_id == subscriber.id, Subscription.status.in_(OFF))
        .values(status=status))
    suppress(session, subscriber.email, status)


def events_of(db: Database, email: str, limit: int = 100) -> dict:
    """A reader's subscriptions and their bounce and complaint events, newest first."""
    email = normalise_email(email)
    with db.session() as session:
        subscriber = session.scalar(select(Subscriber).where(Subscriber.email == email))
        if subscriber is None:
            raise NotFound(f"no subscriber {email}", {"email": "unknown"})
        lists = session.execute(
            select(MailingList.name, Subscription.status, Subscription.sections)
            .join(Subscription, Subscription.list_id == MailingList.id)
            .where(Subscription.subscriber_id == subscriber.id).order_by(MailingList.name)).all()
        events = session.scalars(select(BounceEvent).where(
            BounceEvent.subscriber_id == subscriber.id)
            .order_by(BounceEvent.at.desc(), BounceEvent.id.desc()).limit(limit)).all()
        return {
            "email": subscriber.email, "name": subscriber.name, "id": subscriber.id,
            "suppressed": suppression_reason(session, subscriber.email),
            "subscriptions": [{"list": n, "status": s, "sections": sec} for n, s, sec in lists],
            "events": [{"at": e.at.isoformat(), "kind": e.kind, "status": e.status,
                        "source": e.source, "send_id": e.send_id, "reason": e.reason}
                       for e in events],
        }
