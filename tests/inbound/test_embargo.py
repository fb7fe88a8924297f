"""Embargoes: an article published in the future is stored and planned at once, and
nothing of it goes before its time; moved and cancelled embargoes; two beats release
once. Driven with the in-memory dispatcher and a controlled clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from distributor.audience.lists import create_list
from distributor.audience.subscribers import add_subscriber
from distributor.errors import NotFound
from distributor.inbound.publish import publish, unpublish
from distributor.monitor.deliveries import deliveries
from distributor.outbox import wake
from distributor.outbox.wake import MemoryDispatcher
from distributor.states import BatchState, PostState, SendState
from distributor.store import Batch, ChannelPost, Database, Send

HOOK = {"name": "hook", "type": "webhook", "url": "https://hooks.example.org/x"}


@pytest.fixture()
def newsroom(make_settings):
    settings = make_settings(channels=[HOOK])
    db = Database(settings.database_url.get_secret_value())
    db.upgrade()
    create_list(db, "breaking", instant=True)
    add_subscriber(db, "a@example.com", "breaking")
    yield db, settings
    db.dispose()


def embargoed(db, settings, dispatcher, hours: float, guid: str = "g1"):
    when = datetime.now(UTC) + timedelta(hours=hours)
    return publish(db, settings, dispatcher, {"guid": guid, "url": "https://n.example/e",
                                              "title": "Budget", "published_at": when.isoformat()})


def test_an_embargoed_article_is_planned_now_and_woken_only_at_its_time(newsroom):
    db, settings = newsroom
    dispatcher = MemoryDispatcher()
    result = embargoed(db, settings, dispatcher, hours=2)
    assert result.status.startswith("scheduled for")
    now = datetime.now(UTC)
    assert wake.fan_out(db, dispatcher, result.article_id, now) == (0, 0)
    assert wake.release(db, dispatcher, now) == (0, 0)
    assert wake.sweep(db, dispatcher, now + timedelta(hours=1)) == (0, 0)
    assert dispatcher.ids("channels.post") == dispatcher.ids("email.send_batch") == []
    assert deliveries(db, "g1")["scheduled_for"] == result.scheduled_for.isoformat()

    at_time = result.scheduled_for + timedelta(seconds=1)
    assert wake.release(db, dispatcher, at_time) == (1, 1)
    assert wake.release(db, dispatcher, at_time) == (0, 0)  # a second beat releases nothing
    assert len(dispatcher.ids("channels.post")) == len(dispatcher.ids("email.send_batch")) == 1


def test_publishing_the_guid_again_with_a_new_time_moves_the_embargo(newsroom):
    db, settings = newsroom
    dispatcher = MemoryDispatcher()
    first = embargoed(db, settings, dispatcher, hours=2)
    moved = embargoed(db, settings, dispatcher, hours=5)
    assert moved.moved and not moved.created and moved.status.startswith("embargo moved")
    three_hours = datetime.now(UTC) + timedelta(hours=3)
    assert wake.release(db, dispatcher, three_hours) == (0, 0)  # the old time has no effect
    assert wake.release(db, dispatcher, three_hours + timedelta(hours=3)) == (1, 1)
    assert first.article_id == moved.article_id


def test_moving_an_embargo_into_the_past_sends_it_now(newsroom):
    db, settings = newsroom
    dispatcher = MemoryDispatcher()
    embargoed(db, settings, dispatcher, hours=2)
    now_then = embargoed(db, settings, dispatcher, hours=-0.01)
    assert now_then.moved
    assert dispatcher.ids("publish.fan_out") == [now_then.article_id] * 2
    assert wake.fan_out(db, dispatcher, now_then.article_id, datetime.now(UTC)) == (1, 1)


def test_an_unpublished_embargo_sends_nothing(newsroom):
    db, settings = newsroom
    dispatcher = MemoryDispatcher()
    embargoed(db, settings, dispatcher, hours=1)
    assert unpublish(db, "g1") == {"guid": "g1", "posts_cancelled": 1, "sends_cancelled": 1}
    assert wake.release(db, dispatcher, datetime.now(UTC) + timedelta(hours=2)) == (0, 0)
    assert wake.sweep(db, dispatcher, datetime.now(UTC) + timedelta(hours=3)) == (0, 0)
    with db.session() as session:
        assert session.scalar(select(ChannelPost.state)) == PostState.CANCELLED
        assert session.scalar(select(Send.state)) == SendState.CANCELLED
        assert session.scalar(select(Batch.state)) == BatchState.CANCELLED
    with pytest.raises(NotFound):
        unpublish(db, "no-such-guid")


def test_an_article_without_a_future_date_goes_at_once(newsroom):
    db, settings = newsroom
    dispatcher = MemoryDispatcher()
    result = publish(db, settings, dispatcher, {"url": "https://n.example/now", "title": "Now"})
    assert result.status == "accepted" and result.scheduled_for is None
    assert dispatcher.ids("publish.fan_out") == [result.article_id]
    assert wake.fan_out(db, dispatcher, result.article_id, datetime.now(UTC)) == (1, 1)
