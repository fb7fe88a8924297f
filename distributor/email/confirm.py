"""Double opt-in: email the link that confirms a subscription."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import parseaddr

from sqlalchemy import or_, update

from distributor.audience.optin import CONFIRMABLE
from distributor.config import Settings
from distributor.email.compose import compile_confirm, recipient
from distributor.email.dkim import dkim_signer
from distributor.email.transport import Transport
from distributor.errors import DeliveryError
from distributor.store import Database, MailingList, Subscriber, Subscription

CONFIRM_EVERY = timedelta(hours=1)


def confirmation_message(settings: Settings, subscriber: Subscriber,
                         mailing_list: MailingList) -> bytes:
    compiled = compile_confirm(settings, subscriber.id, subscriber.email, mailing_list)
    reader = recipient(settings, mailing_list.id, subscriber.id, subscriber.email,
                       subscriber.name)
    return dkim_signer(settings, compiled.domain)(compiled.fill(reader))


def send_confirmation(db: Database, settings: Settings, transport: Transport,
                      subscription_id: int, now: datetime | None = None) -> bool:
    """Email the confirm link; False when there is nothing to confirm any more, or one
    went to this reader within the hour (a form submitted again and again must not
    turn us into a mail cannon aimed at them)."""
    now = now or datetime.now(UTC)
    with db.session() as session:
        claimed = session.execute(
            update(Subscription).where(
                Subscription.id == subscription_id, Subscription.status.in_(CONFIRMABLE),
                or_(Subscription.confirm_sent_at.is_(None),
                    Subscription.confirm_sent_at <= now - CONFIRM_EVERY))
            .values(confirm_sent_at=now))
        if claimed.rowcount != 1:
            return False
        subscription = session.get(Subscription, subscription_id)
        subscriber = session.get(Subscriber, subscription.subscriber_id)
        mailing_list = session.get(MailingList, subscription.list_id)
        message = confirmation_message(settings, subscriber, mailing_list)
        address = subscriber.email
        envelope = parseaddr(mailing_list.from_address or settings.from_address)[1]
    try:
        connection = transport.connect()
        try:
            connection.send(envelope, address, message)
        finally:
            connection.close()
    except DeliveryError:
        with db.session() as session:  # not sent: the task's retry may send it
            session.execute(update(Subscription).where(
                Subscription.id == subscription_id, Subscription.confirm_sent_at == now)
                .values(confirm_sent_at=None))
        raise
    return True
