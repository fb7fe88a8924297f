"""The public side of subscribing: the subscribe form, double opt-in confirmation.

The form answers the same way whatever the address's history, so nobody can learn
from it who is subscribed."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select

from distributor.audience import (
    _upsert_subscriber,
    clean_name,
    get_list,
    is_suppressed,
    normalise_email,
)
from distributor.config import Settings
from distributor.errors import InvalidInput
from distributor.mail.dkim import dkim_signer
from distributor.mail.transport import Transport
from distributor.render.email import Recipient, compile_email
from distributor.store import Database, MailingList, Subscriber, Subscription
from distributor.tokens import confirm_token, email_digest, read_token, unsubscribe_token


def request_subscription(db: Database, email: str, list_name: str, name: str = "",
                         sections: Iterable[str] = ()) -> int | None:
    """Subscribe from the public form. Returns the subscription id when a confirmation
    email must go out; None otherwise (already active, suppressed, or single opt-in)."""
    email = normalise_email(email)
    name = clean_name(name)
    sections = [clean_name(s, "section") for s in sections]
    with db.session() as session:
        mailing_list = get_list(session, list_name)
        if is_suppressed(session, email):
            return None  # a bounced or erased address is not written to again
        subscriber = _upsert_subscriber(session, email, name)
        subscription = session.scalar(select(Subscription).where(
            Subscription.list_id == mailing_list.id,
            Subscription.subscriber_id == subscriber.id))
        wanted = "unconfirmed" if mailing_list.double_opt_in else "active"
        if subscription is None:
            subscription = Subscription(list_id=mailing_list.id, subscriber_id=subscriber.id,
                                        status=wanted, sections=sections)
            session.add(subscription)
        elif subscription.status in ("unsubscribed", "unconfirmed"):
            subscription.status = wanted
            subscription.sections = sections or subscription.sections
        else:
            return None
        session.flush()
        return subscription.id if wanted == "unconfirmed" else None


def confirm(db: Database, secret: str, token: str) -> str:
    """Activate the subscription a confirm token names; return the list's name."""
    subscriber_id, list_id, digest = read_token(secret, token, "confirm")
    with db.session() as session:
        subscriber = session.get(Subscriber, subscriber_id)
        subscription = session.scalar(select(Subscription).where(
            Subscription.list_id == list_id, Subscription.subscriber_id == subscriber_id))
        if subscriber is None or subscription is None or \
                email_digest(subscriber.email)[:16] != digest:
            raise InvalidInput("this link is not valid", {"token": "invalid"})
        if subscription.status == "unconfirmed":
            subscription.status = "active"
        return session.get(MailingList, list_id).name


def confirmation_message(settings: Settings, subscriber: Subscriber,
                         mailing_list: MailingList) -> bytes:
    token = confirm_token(settings.secret, subscriber.id, mailing_list.id, subscriber.email)
    confirm_url = f"{settings.public_url}/confirm/{token}"
    compiled = compile_email(settings, "confirm", {"confirm_url": confirm_url},
                             subject=f"Confirm your subscription to {mailing_list.name}",
                             list_name=mailing_list.name,
                             message_key=f"confirm-{mailing_list.id}")
    unsubscribe = unsubscribe_token(settings.secret, subscriber.id, mailing_list.id,
                                    subscriber.email)
    recipient = Recipient(subscriber.id, subscriber.email, subscriber.name,
                          f"{settings.public_url}/unsubscribe/{unsubscribe}")
    return dkim_signer(settings)(compiled.fill(recipient))


def send_confirmation(db: Database, settings: Settings, transport: Transport,
                      subscription_id: int) -> bool:
    """Email the confirm link; False when there is nothing to confirm any more."""
    from email.utils import parseaddr

    with db.session() as session:
        subscription = session.get(Subscription, subscription_id)
        if subscription is None or subscription.status != "unconfirmed":
            return False
        subscriber = session.get(Subscriber, subscription.subscriber_id)
        mailing_list = session.get(MailingList, subscription.list_id)
        message = confirmation_message(settings, subscriber, mailing_list)
        address = subscriber.email
    connection = transport.connect()
    try:
        connection.send(parseaddr(settings.from_address)[1], address, message)
    finally:
        connection.close()
    return True
