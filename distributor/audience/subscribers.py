"""One reader at a time: who they are, which lists they are on, and who must not be
written to again.

`subscribe` is the one way onto a list (admin API, CLI, public form), `suppress`
the one way off every list for good (a bounce, a complaint, an erasure), `token_holder` the
one check of a signed link.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from distributor.audience.lists import check_timezone, clean_name, get_list
from distributor.audience.tokens import email_digest, read_token
from distributor.audience.tracking import erase_events
from distributor.errors import InvalidInput, NotFound
from distributor.states import SubscriptionStatus
from distributor.store import (
    BounceEvent,
    Database,
    MailingList,
    Subscriber,
    Subscription,
    Suppression,
)

MAX_ID = 2**31 - 1  # ids are INTEGER columns: PostgreSQL refuses anything larger


def normalise_email(value: str, field_name: str = "email") -> str:
    """The one stored form of an address: lower case, the domain in its ASCII (IDNA)
    form, so that `leser@bücher.de` and `leser@xn--bcher-kva.de` are one reader and
    SMTP can carry the domain. A non-ASCII local part is kept (it needs SMTPUTF8)."""
    try:
        result = validate_email(value.strip(), check_deliverability=False, allow_smtputf8=True)
    except EmailNotValidError as exc:
        raise InvalidInput(f"{field_name}: {exc}", {field_name: str(exc)}) from None
    return f"{result.local_part}@{result.ascii_domain}".lower()


def subscriber_named(session: Session, email: str, name: str, rename: bool = True
                     ) -> Subscriber:
    """The subscriber with this address, created when new. An operator's name replaces
    theirs (`rename`); a name typed into the public form never does."""
    subscriber = session.scalar(select(Subscriber).where(Subscriber.email == email))
    if subscriber is None:
        subscriber = Subscriber(email=email, name=name)
        session.add(subscriber)
        session.flush()
    elif rename and name and name != subscriber.name:
        subscriber.name = name
    return subscriber


def subscribe(session: Session, subscriber: Subscriber, mailing_list: MailingList,
              sections: Iterable[str] = (),
              status: SubscriptionStatus = SubscriptionStatus.ACTIVE, rejoin: bool = False
              ) -> tuple[Subscription, bool]:
    """Put a subscriber on a list in `status` (active, or unconfirmed for double opt-in).
    A new subscription is made; an unconfirmed one moves to `status`; an unsubscribed
    one only with `rejoin` (the reader asked to leave: only they, or an operator who
    says so, bring them back). Sections are kept unless new ones are given. Returns the
    subscription and whether it changed."""
    sections = list(sections)
    subscription = session.scalar(select(Subscription).where(
        Subscription.list_id == mailing_list.id, Subscription.subscriber_id == subscriber.id))
    if subscription is None:
        subscription = Subscription(list_id=mailing_list.id, subscriber_id=subscriber.id,
                                    status=status, sections=sections)
        session.add(subscription)
        session.flush()
        return subscription, True
    movable = subscription.status == SubscriptionStatus.UNCONFIRMED or (
        rejoin and subscription.status == SubscriptionStatus.UNSUBSCRIBED)
    if movable and subscription.status != status:
        subscription.status = status
        subscription.sections = sections or subscription.sections
        return subscription, True
    return subscription, False


def suppression_reason(session: Session, email: str) -> str | None:
    return session.scalar(select(Suppression.reason).where(
        Suppression.email_hash == email_digest(email)))


def is_suppressed(session: Session, email: str) -> bool:
    return session.scalar(select(Suppression.id).where(
        Suppression.email_hash == email_digest(email))) is not None


def suppress(session: Session, email: str, reason: str) -> None:
    """Never write to this address again (only a hash of it is kept)."""
    if not is_suppressed(session, email):
        session.add(Suppression(email_hash=email_digest(email), reason=reason))


@dataclass(frozen=True)
class Added:
    subscription: Subscription
    outcome: str  # added | resubscribed | already subscribed | time zone set


def add_subscriber(db: Database, email: str, list_name: str, name: str = "",
                   sections: Iterable[str] = (), resubscribe: bool = False,
                   timezone: str | None = None) -> Added:
    """An operator puts someone on a list (CLI, admin API): active at once. Someone who
    unsubscribed comes back only with `resubscribe`; a suppressed address (erased,
    bounced, complained) never does: it would never be mailed. `timezone` (IANA) is
    where local-time digests reach them at the list's hour."""
    email = normalise_email(email)
    name = clean_name(name)
    sections = [clean_name(s, "section") for s in sections]
    if timezone:
        check_timezone(timezone)
    with db.session() as session:
        mailing_list = get_list(session, list_name)
        reason = suppression_reason(session, email)
        if reason is not None:
            raise InvalidInput(f"{email} is suppressed ({reason}): it is never mailed, so it is "
                               "not added", {"email": f"suppressed ({reason})"})
        subscriber = subscriber_named(session, email, name)
        before = session.scalar(select(Subscription.status).where(
            Subscription.list_id == mailing_list.id, Subscription.subscriber_id == subscriber.id))
        if before == SubscriptionStatus.UNSUBSCRIBED and not resubscribe:
            raise InvalidInput(f"{email} unsubscribed from {list_name}; add them again only with "
                               "their consent, with --resubscribe",
                               {"email": "unsubscribed: give resubscribe to add them again"})
        subscription, changed = subscribe(session, subscriber, mailing_list, sections,
                                          rejoin=resubscribe)
        moved = bool(timezone) and subscriber.timezone != timezone
        if moved:
            subscriber.timezone = timezone
        if not changed:
            return Added(subscription, "time zone set" if moved else "already subscribed")
        rejoined = before == SubscriptionStatus.UNSUBSCRIBED
        return Added(subscription, "resubscribed" if rejoined else "added")


def token_holder(session: Session, secret: str, token: str,
                 purpose: str) -> tuple[Subscriber, MailingList]:
    """Whom a signed link names, and for which list; InvalidInput when the link was
    forged, altered, expired or the address has changed hands since."""
    subscriber_id, list_id, digest = read_token(secret, token, purpose)
    subscriber = session.get(Subscriber, subscriber_id)
    mailing_list = session.get(MailingList, list_id)
    if subscriber is None or mailing_list is None or \
            email_digest(subscriber.email)[:16] != digest:
        raise InvalidInput("this link is not valid", {"token": "invalid"})
    return subscriber, mailing_list


def unsubscribe(db: Database, secret: str, token: str) -> str:
    """Apply a signed unsubscribe token; return the list's name. Idempotent."""
    with db.session() as session:
        subscriber, mailing_list = token_holder(session, secret, token, "unsubscribe")
        session.execute(update(Subscription).where(
            Subscription.list_id == mailing_list.id, Subscription.subscriber_id == subscriber.id)
            .values(status=SubscriptionStatus.UNSUBSCRIBED))
        return mailing_list.name


def list_subscribers(db: Database, list_name: str | None = None, status: str | None = None,
                     limit: int = 100, after: int = 0) -> list[dict]:
    """One page of subscriptions, ordered by subscriber id; pass the last id as `after`."""
    statuses = [s.value for s in SubscriptionStatus]
    if status is not None and status not in statuses:
        raise InvalidInput(f"status: one of {', '.join(statuses)}", {"status": "unknown status"})
    if not 1 <= limit <= 1000:
        raise InvalidInput("limit: between 1 and 1000", {"limit": "between 1 and 1000"})
    if not 0 <= after <= MAX_ID:
        raise InvalidInput("after: a subscriber id", {"after": "not a subscriber id"})
    with db.session() as session:
        query = (select(Subscriber.id, Subscriber.email, Subscriber.name, MailingList.name,
                        Subscription.status, Subscription.sections, Subscriber.timezone)
                 .join(Subscription, Subscription.subscriber_id == Subscriber.id)
                 .join(MailingList, MailingList.id == Subscription.list_id)
                 .where(Subscriber.id > after)
                 .order_by(Subscriber.id, MailingList.name))
        if list_name:
            query = query.where(Subscription.list_id == get_list(session, list_name).id)
        if status:
            query = query.where(Subscription.status == status)
        rows = session.execute(query.limit(limit)).all()
    return [{"id": i, "email": e, "name": n, "list": lst, "status": st, "sections": sec,
             "timezone": tz} for i, e, n, lst, st, sec, tz in rows]


def remove_subscriber(db: Database, email: str, list_name: str | None = None,
                      erase: bool = False) -> str:
    """Unsubscribe from one list or all; `erase` deletes the person (GDPR) and keeps only a
    hash of the address so that no send reaches it again."""
    email = normalise_email(email)
    with db.session() as session:
        subscriber = session.scalar(select(Subscriber).where(Subscriber.email == email))
        if subscriber is None:
            raise NotFound(f"no subscriber {email}", {"email": "unknown"})
        if erase:
            suppress(session, email, "erased")
            session.execute(delete(BounceEvent).where(BounceEvent.subscriber_id == subscriber.id))
            erase_events(session, subscriber.id)
            session.execute(delete(Subscription).where(
                Subscription.subscriber_id == subscriber.id))
            session.delete(subscriber)
            return "erased"
        query = select(Subscription).where(Subscription.subscriber_id == subscriber.id)
        if list_name:
            query = query.where(Subscription.list_id == get_list(session, list_name).id)
        for subscription in session.scalars(query):
            subscription.status = SubscriptionStatus.UNSUBSCRIBED
        return SubscriptionStatus.UNSUBSCRIBED
