"""A confirm link is good for seven days (audience/tokens.py CONFIRM_MAX_AGE): an older
one is refused with a page that says it expired, and confirms nobody."""

from __future__ import annotations

import time

from itsdangerous import TimestampSigner
from sqlalchemy import select

from distributor.audience.lists import create_list
from distributor.audience.tokens import CONFIRM_MAX_AGE, confirm_token
from distributor.store import MailingList, Subscriber, Subscription
from tests.conftest import SECRET_KEY


def made_ago(seconds: float, monkeypatch, *args) -> str:
    """A confirm token as it was signed `seconds` ago (the signer's clock, moved back)."""
    with monkeypatch.context() as patch:
        patch.setattr(TimestampSigner, "get_timestamp", lambda self: int(time.time() - seconds))
        return confirm_token(SECRET_KEY, *args)


def test_a_confirm_link_older_than_seven_days_is_refused_and_confirms_nobody(
        client, db, monkeypatch):
    client.app.state.dispatcher.confirm = lambda _id: None
    create_list(db, "weekly", instant=False, schedule="0 8 * * 1", double_opt_in=True)
    client.post("/subscribe", json={"email": "late@example.com", "list": "weekly"})
    with db.session() as session:
        subscriber = session.scalar(select(Subscriber))
        weekly = session.scalar(select(MailingList))
        ids = (subscriber.id, weekly.id, subscriber.email)

    stale = made_ago(CONFIRM_MAX_AGE + 60, monkeypatch, *ids)
    for method in ("get", "post"):
        answer = getattr(client, method)(f"/confirm/{stale}")
        assert answer.status_code == 400 and "this link has expired" in answer.text
    with db.session() as session:
        assert session.scalar(select(Subscription.status)) == "unconfirmed"

    fresh = made_ago(CONFIRM_MAX_AGE - 60, monkeypatch, *ids)  # within the week: still good
    assert client.post(f"/confirm/{fresh}").status_code == 200
    with db.session() as session:
        assert session.scalar(select(Subscription.status)) == "active"
