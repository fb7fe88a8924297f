"""Readers: the one subscribe, the one suppress, and signed links that name exactly one
person on one list."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from distributor.audience.lists import create_list
from distributor.audience.optin import confirm, request_subscription
from distributor.audience.subscribers import (
    add_subscriber,
    remove_subscriber,
    subscribe,
    subscriber_named,
    suppress,
    unsubscribe,
)
from distributor.audience.tokens import confirm_token, unsubscribe_token
from distributor.errors import InvalidInput
from distributor.states import SubscriptionStatus
from distributor.store import MailingList, Subscription, Suppression

SECRET = "test-secret-key-0123456789abcdef"


def status(db, email: str, list_name: str) -> str:
    from distributor.store import Subscriber

    with db.session() as session:
        return session.scalar(select(Subscription.status)
                              .join(Subscriber, Subscriber.id == Subscription.subscriber_id)
                              .join(MailingList, MailingList.id == Subscription.list_id)
                              .where(Subscriber.email == email, MailingList.name == list_name))


def test_subscribe_adds_once_and_brings_back_who_left_only_when_told(db):
    create_list(db, "daily", instant=True)
    with db.session() as session:
        daily = session.scalar(select(MailingList))
        asha = subscriber_named(session, "asha@example.com", "Asha")
        assert subscribe(session, asha, daily)[1] is True
        assert subscribe(session, asha, daily)[1] is False  # already there: unchanged
        subscription = session.scalar(select(Subscription))
        subscription.status = SubscriptionStatus.BOUNCED
        assert subscribe(session, asha, daily)[1] is False  # a bounce is not undone here
        subscription.status = SubscriptionStatus.UNSUBSCRIBED
        assert subscribe(session, asha, daily, ["Defence"])[1] is False  # they left
        assert subscribe(session, asha, daily, ["Defence"], rejoin=True)[1] is True
        assert (subscription.status, subscription.sections) == ("active", ["Defence"])


def test_suppress_keeps_one_hash_per_address(db):
    with db.session() as session:
        suppress(session, "Gone@Example.com", "bounced")
        suppress(session, "gone@example.com", "erased")
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Suppression)) == 1


def test_unsubscribe_link_works_once_for_its_owner_and_never_when_altered(db):
    create_list(db, "daily", instant=True)
    subscription = add_subscriber(db, "asha@example.com", "daily").subscription
    token = unsubscribe_token(SECRET, subscription.subscriber_id, subscription.list_id,
                              "asha@example.com")
    assert unsubscribe(db, SECRET, token) == "daily"
    assert unsubscribe(db, SECRET, token) == "daily"  # idempotent
    assert status(db, "asha@example.com", "daily") == SubscriptionStatus.UNSUBSCRIBED
    with pytest.raises(InvalidInput):
        unsubscribe(db, SECRET, token[:-2] + "xx")
    other = unsubscribe_token(SECRET, subscription.subscriber_id, subscription.list_id,
                              "someone-else@example.com")
    with pytest.raises(InvalidInput):
        unsubscribe(db, SECRET, other)


def test_double_opt_in_waits_for_the_confirm_link(db):
    create_list(db, "weekly", instant=True, double_opt_in=True)
    subscription_id = request_subscription(db, "ravi@example.com", "weekly")
    assert subscription_id is not None
    assert status(db, "ravi@example.com", "weekly") == SubscriptionStatus.UNCONFIRMED
    with db.session() as session:
        row = session.get(Subscription, subscription_id)
        token = confirm_token(SECRET, row.subscriber_id, row.list_id, "ravi@example.com")
    assert confirm(db, SECRET, token) == "weekly"
    assert status(db, "ravi@example.com", "weekly") == SubscriptionStatus.ACTIVE
    assert request_subscription(db, "ravi@example.com", "weekly") is None  # already active


def test_an_erased_address_is_never_subscribed_again_from_the_form(db):
    create_list(db, "daily", instant=True)
    add_subscriber(db, "asha@example.com", "daily")
    assert remove_subscriber(db, "asha@example.com", erase=True) == "erased"
    assert request_subscription(db, "asha@example.com", "daily") is None
    assert status(db, "asha@example.com", "daily") is None
