"""The public subscribe form, double opt-in and unsubscribe tokens."""

from __future__ import annotations

from sqlalchemy import select

from distributor.audience.lists import create_list
from distributor.audience.tokens import confirm_token, unsubscribe_token
from distributor.email.confirm import confirmation_message
from distributor.store import MailingList, Subscriber, Subscription
from tests.conftest import SECRET_KEY


class ConfirmDispatcher:
    def __init__(self):
        self.confirmations = []

    def confirm(self, subscription_id):
        self.confirmations.append(subscription_id)


def status_of(db, email):
    with db.session() as session:
        return session.scalar(select(Subscription.status).join(
            Subscriber, Subscriber.id == Subscription.subscriber_id).where(Subscriber.email == email))


def test_the_form_answers_the_same_whoever_asks(client, db, dispatcher, redis_client):
    create_list(db, "weekly", instant=False, schedule="0 8 * * 1", double_opt_in=True)
    dispatcher.confirm = ConfirmDispatcher().confirm
    new = client.post("/subscribe", data={"email": "new@example.com", "list": "weekly"})
    known = client.post("/subscribe", data={"email": "new@example.com", "list": "weekly"})
    assert new.status_code == known.status_code == 202
    assert new.text == known.text
    as_json = client.post("/subscribe", json={"email": "x@example.com", "list": "weekly"})
    assert as_json.status_code == 202 and as_json.json()["status"] == "ok"
    assert status_of(db, "new@example.com") == "unconfirmed"
    bad = client.post("/subscribe", json={"email": "nope", "list": "weekly"})
    assert bad.status_code == 422 and "email" in bad.json()["fields"]
    missing = client.post("/subscribe", json={"list": "weekly"})
    assert missing.status_code == 422 and missing.json()["fields"] == {"email": "required"}


def test_the_form_is_rate_limited_per_address(client, db, redis_client):
    create_list(db, "daily", instant=True)
    codes = [client.post("/subscribe", json={"email": f"r{n}@example.com", "list": "daily"},
                         headers={"Accept": "application/json"}).status_code for n in range(12)]
    assert codes[:10] == [202] * 10 and codes[10:] == [429, 429]


def test_confirming_activates_and_a_changed_token_does_not(client, db, settings):
    client.app.state.dispatcher.confirm = lambda _id: None
    create_list(db, "weekly", instant=False, schedule="0 8 * * 1", double_opt_in=True)
    client.post("/subscribe", json={"email": "c@example.com", "list": "weekly"})
    with db.session() as session:
        subscriber = session.scalar(select(Subscriber))
        weekly = session.scalar(select(MailingList))
    raw = confirmation_message(settings, subscriber, weekly)
    assert b"/confirm/" in raw
    token = confirm_token(SECRET_KEY, subscriber.id, weekly.id, subscriber.email)
    assert client.get(f"/confirm/{token}x").status_code == 400
    other = confirm_token(SECRET_KEY, subscriber.id, weekly.id, "someone@else.org")
    assert client.post(f"/confirm/{other}").status_code == 400
    # A mail scanner that follows the link gets a page with a button, and confirms nobody.
    scanned = client.get(f"/confirm/{token}")
    assert scanned.status_code == 200 and '<form method="post"' in scanned.text
    assert status_of(db, "c@example.com") == "unconfirmed"
    assert client.post(f"/confirm/{token}").status_code == 200
    assert status_of(db, "c@example.com") == "active"


def test_unsubscribe_tokens_cannot_be_forged_or_moved(client, db):
    create_list(db, "daily", instant=True)
    create_list(db, "other", instant=True)
    client.post("/v1/subscribers", headers={"Authorization": "Bearer test-api-token-abcdef"},
                json={"email": "u@example.com", "list": "daily"})
    with db.session() as session:
        subscriber = session.scalar(select(Subscriber))
        ids = dict(session.execute(select(MailingList.name, MailingList.id)).all())
    wrong_key = unsubscribe_token("another-key", subscriber.id, ids["daily"], subscriber.email)
    other_list = unsubscribe_token(SECRET_KEY, subscriber.id, ids["other"], subscriber.email)
    other_person = unsubscribe_token(SECRET_KEY, subscriber.id, ids["daily"], "x@example.com")
    for token in (wrong_key, other_person, "garbage"):
        assert client.post(f"/unsubscribe/{token}").status_code == 400
    client.post(f"/unsubscribe/{other_list}")  # names a list they are not on: changes nothing
    assert status_of(db, "u@example.com") == "active"
    good = unsubscribe_token(SECRET_KEY, subscriber.id, ids["daily"], subscriber.email)
    assert client.post(f"/unsubscribe/{good}",
                       data={"List-Unsubscribe": "One-Click"}).status_code == 200
    assert status_of(db, "u@example.com") == "unsubscribed"
