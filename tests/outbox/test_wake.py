"""The outbox: planning cuts sends into keyset batches, wake-ups name rows, the sweeper
finds work whose wake-up was lost. Driven with the in-memory dispatcher."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from distributor.audience.lists import create_list
from distributor.audience.subscribers import add_subscriber
from distributor.inbound.article import ingest
from distributor.outbox import leases, wake
from distributor.outbox.plan import sections_match
from distributor.outbox.wake import MemoryDispatcher
from distributor.states import PostState
from distributor.store import Batch, ChannelPost, Database, Send

HOOK = {"name": "hook", "type": "webhook", "url": "https://hooks.example.org/x"}


def publish_to_readers(make_settings, readers: int, batch_size: str = "2"):
    settings = make_settings(channels=[HOOK], batch_size=batch_size)
    db = Database(settings.database_url.get_secret_value())
    db.upgrade()
    create_list(db, "breaking", instant=True)
    for n in range(readers):
        add_subscriber(db, f"r{n}@example.com", "breaking")
    article = ingest(db, settings, {"url": "https://news.example.org/a", "title": "A"})
    return db, article.article_id


def test_a_send_is_cut_into_keyset_batches_of_the_configured_size(make_settings):
    db, _ = publish_to_readers(make_settings, readers=5)
    with db.session() as session:
        send = session.scalar(select(Send))
        ranges = session.execute(select(Batch.first_id, Batch.last_id).order_by(Batch.id)).all()
    assert send.planned == 5
    assert [last - first + 1 for first, last in ranges] == [2, 2, 1]


def test_fan_out_wakes_every_planned_post_and_batch_once(make_settings):
    db, article_id = publish_to_readers(make_settings, readers=3)
    dispatcher = MemoryDispatcher()
    assert wake.fan_out(db, dispatcher, article_id, datetime.now(UTC)) == (1, 2)
    assert len(dispatcher.ids("channels.post")) == 1
    assert len(dispatcher.ids("email.send_batch")) == 2


def test_the_sweeper_wakes_only_work_whose_wake_up_was_lost(make_settings):
    db, article_id = publish_to_readers(make_settings, readers=4)
    now = datetime.now(UTC)
    wake.fan_out(db, MemoryDispatcher(), article_id, now)
    assert wake.sweep(db, MemoryDispatcher(), now) == (0, 0)  # just enqueued: not lost
    later = now + timedelta(minutes=5)
    with db.session() as session:
        held = session.scalar(select(Batch.id).order_by(Batch.id))
        assert leases.claim(session, Batch, held, later, lease_seconds=600)
    dispatcher = MemoryDispatcher()
    assert wake.sweep(db, dispatcher, later) == (1, 1)  # the leased batch is someone's
    assert held not in dispatcher.ids("email.send_batch")


def test_a_claimed_row_is_not_claimed_twice_until_its_lease_runs_out(make_settings):
    db, _ = publish_to_readers(make_settings, readers=1)
    now = datetime.now(UTC)
    with db.session() as session:
        post_id = session.scalar(select(ChannelPost.id))
        assert leases.claim(session, ChannelPost, post_id, now, 60)
        assert not leases.claim(session, ChannelPost, post_id, now + timedelta(seconds=30), 60)
        assert leases.claim(session, ChannelPost, post_id, now + timedelta(seconds=61), 60)
        session.execute(update(ChannelPost).values(state=PostState.SENT))
        assert not leases.claim(session, ChannelPost, post_id, now + timedelta(hours=1), 60)


def test_sections_route_case_insensitively_and_no_filter_takes_everything():
    assert sections_match([], None) and sections_match([], "Business")
    assert sections_match(["South Asia and Beyond"], "south asia AND beyond")
    assert not sections_match(["Defence"], None)
    assert not sections_match(["Defence"], "Business")
