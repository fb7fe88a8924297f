"""The public side of subscribing: the subscribe form, double opt-in confirmation.

The form answers the same way whatever the address's history, so nobody can learn
from it who is subscribed; and it never changes an existing reader's name or state:
for someone it knows it can only (re)send a confirmation, which the reader must click."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select

from distributor.audience.lists import clean_name, get_list
from distributor.audience.subscribers import (
    is_suppressed,
    normalise_email,
    subscribe,
    subscriber_named,
    token_holder,
)
from distributor.errors import InvalidInput
from distributor.states import SubscriptionStatus
from distributor.store import Database, Subscription

# A confirmation link activates these: a new reader, or one who left and asked back in.
CONFIRMABLE = (SubscriptionStatus.UNCONFIRMED, SubscriptionStatus.UNSUBSCRIBED)


def request_subscription(db: Database, email: str, list_name: str, name: str = "",
                         sections: Iterable[str] = (), double_opt_in: bool = False
                         ) -> int | None:
    """Subscribe from the public form. Returns the subscription id when a confirmation
    email must go out: a new reader of a double opt-in list (or of any list when
    `double_opt_in`, as the hosted sign-up page asks), one who has not confirmed
    yet, or one who unsubscribed and asks to come back (whatever the list's opt-in).
    None otherwise: already active, suppressed, or a new reader of a single opt-in list."""
    email = normalise_email(email)
    name = clean_name(name)
    sections = [clean_name(s, "section") for s in sections]
    with db.session() as session:
        mailing_list = get_list(session, list_name)
        if is_suppressed(session, email):
            return None  # a bounced or erased address is not written to again
        wanted = (SubscriptionStatus.UNCONFIRMED if mailing_list.double_opt_in or double_opt_in
                  else SubscriptionStatus.ACTIVE)
        subscriber = subscriber_named(session, email, name, rename=False)
        subscription, _ = subscribe(session, subscriber, mailing_list, sections, wanted)
        if subscription.status in CONFIRMABLE:
            return subscription.id
        return None


def confirm(db: Database, secret: str, token: str) -> str:
    """Activate the subscription a confirm token names; return the list's name."""
    with db.session() as session:
        subscriber, mailing_list = token_holder(session, secret, token, "confirm")
        subscription = session.scalar(select(Subscription).where(
            Subscription.list_id == mailing_list.id,
            Subscription.subscriber_id == subscriber.id))
        if subscription is None:
            raise InvalidInput("this link is not valid", {"token": "invalid"})
        if subscription.status in CONFIRMABLE:
            subscription.status = SubscriptionStatus.ACTIVE
        return mailing_list.name
