"""Double opt-in: email the link that confirms a subscription."""

from __future__ import annotations

from email.utils import parseaddr

from distributor.config import Settings
from distributor.email.compose import compile_confirm, recipient
from distributor.email.dkim import dkim_signer
from distributor.email.transport import Transport
from distributor.states import SubscriptionStatus
from distributor.store import Database, MailingList, Subscriber, Subscription


def confirmation_message(settings: Settings, subscriber: Subscriber,
                         mailing_list: MailingList) -> bytes:
    compiled = compile_confirm(settings, subscriber.id, subscriber.email, mailing_list)
    reader = recipient(settings, mailing_list.id, subscriber.id, subscriber.email,
                       subscriber.name)
    return dkim_signer(settings, compiled.domain)(compiled.fill(reader))


def send_confirmation(db: Database, settings: Settings, transport: Transport,
                      subscription_id: int) -> bool:
    """Email the confirm link; False when there is nothing to confirm any more."""
    with db.session() as session:
        subscription = session.get(Subscription, subscription_id)
        if subscription is None or subscription.status != SubscriptionStatus.UNCONFIRMED:
            return False
        subscriber = session.get(Subscriber, subscription.subscriber_id)
        mailing_list = session.get(MailingList, subscription.list_id)
        message = confirmation_message(settings, subscriber, mailing_list)
        address = subscriber.email
        envelope = parseaddr(mailing_list.from_address or settings.from_address)[1]
    connection = transport.connect()
    try:
        connection.send(envelope, address, message)
    finally:
        connection.close()
    return True
