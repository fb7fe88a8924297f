"""Leases tied to the holder's heartbeat: a silent holder's leases are void at once, a
live holder's never; a holder that lost its row, or its own heartbeat, stops."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from distributor.audience.lists import create_list
from distributor.audience.subscribers import add_subscriber
from distributor.inbound.article import ingest
from distributor.monitor.queues import record_worker, silent_holders
from distributor.outbox import leases, wake
from distributor.outbox.wake import MemoryDispatcher
from distributor.store import Batch, ChannelPost, Database
from tests.conftest import new_database_url


@pytest.fixture()
def outbox(make_settings, backend, postgres, tmp_path):
    settings = make_settings(
        channels=[{"name": "hook", "type": "webhook", "url": "https://hooks.example.org/x"}],
        database_url=new_database_url(backend, postgres, tmp_path), batch_size="2")
    db = Database(settings.database_url.get_secret_value())
    db.upgrade()
    create_list(db, "breaking", instant=True)
    for n in range(4):
        add_subscriber(db, f"r{n}@example.com", "breaking")
    ingest(db, settings, {"url": "https://news.example.org/a", "title": "A"})
    with db.session() as session:
        batches = list(session.scalars(select(Batch.id).order_by(Batch.id)))
        post = session.scalar(select(ChannelPost.id))
    yield db, batches, post
    db.dispose()


@pytest.fixture()
def as_holder(monkeypatch):
    """Make this process the named holder (as a worker's heartbeat does)."""

    def become(name: str | None) -> None:
        monkeypatch.setattr(leases.holder, "name", name)
        leases.holder.beat()

    yield become


def claim(db, table, row_id, now, seconds=120) -> bool:
    with db.session() as session:
        return leases.claim(session, table, row_id, now, seconds)


def test_the_leases_of_a_silent_holder_are_void_and_their_rows_woken_at_once(outbox, as_holder):
    db, (dead_batch, live_batch), post = outbox
    now = datetime.now(UTC)
    as_holder("dead-worker")
    assert claim(db, Batch, dead_batch, now) and claim(db, ChannelPost, post, now)
    as_holder("live-worker")
    assert claim(db, Batch, live_batch, now)

    dispatcher = MemoryDispatcher()
    assert wake.reclaim(db, dispatcher, now + timedelta(seconds=20), {"dead-worker"}) == (1, 1)
    assert dispatcher.calls == [("channels.post", post), ("email.send_batch", dead_batch)]
    # The next worker takes the row well inside the dead holder's 120 s; the live one's
    # lease stands.
    assert claim(db, Batch, dead_batch, now + timedelta(seconds=21))
    assert not claim(db, Batch, live_batch, now + timedelta(seconds=21))
    assert wake.reclaim(db, MemoryDispatcher(), now + timedelta(seconds=22), set()) == (0, 0)


def test_a_row_waiting_for_its_retry_is_not_woken_early(outbox, as_holder):
    db, (batch, _), _ = outbox
    now = datetime.now(UTC)
    as_holder("dead-worker")
    assert claim(db, Batch, batch, now)
    with db.session() as session:  # closing a run frees the lease and sets the next try
        row = session.get(Batch, batch)
        row.lease_until, row.next_attempt_at = None, now + timedelta(minutes=10)
    assert wake.reclaim(db, MemoryDispatcher(), now + timedelta(seconds=20),
                        {"dead-worker"}) == (0, 0)


def test_a_holder_whose_row_was_taken_over_stops_and_takes_nothing_back(outbox, as_holder,
                                                                          monkeypatch):
    db, (batch, _), _ = outbox
    now = datetime.now(UTC)
    monkeypatch.setattr(leases, "CHECK_EVERY", 0.0)
    as_holder("slow-worker")
    assert claim(db, Batch, batch, now)
    hold = leases.Hold(db, Batch, batch, 120)
    assert hold.kept(now)
    wake.reclaim(db, MemoryDispatcher(), now, {"slow-worker"})
    as_holder("next-worker")
    assert claim(db, Batch, batch, now)
    as_holder("slow-worker")
    assert not hold.kept(now)
    with db.session() as session:
        assert session.get(Batch, batch).lease_holder == "next-worker"


def test_a_holder_whose_heartbeat_failed_stops_before_anyone_may_take_over(outbox, as_holder):
    db, (batch, _), _ = outbox
    as_holder("cut-off-worker")
    assert claim(db, Batch, batch, datetime.now(UTC))
    hold = leases.Hold(db, Batch, batch, 120)
    assert hold.kept(datetime.now(UTC))
    leases.holder.last_beat = time.monotonic() - leases.STOP_AFTER
    assert not hold.kept(datetime.now(UTC))
    assert leases.STOP_AFTER < leases.HOLDER_SILENCE


def test_without_a_heartbeat_a_process_holds_by_time_only(outbox, as_holder):
    db, (batch, _), _ = outbox
    as_holder(None)
    now = datetime.now(UTC)
    assert claim(db, Batch, batch, now)
    leases.holder.last_beat = 0.0
    assert leases.Hold(db, Batch, batch, 120).kept(now)
    assert not claim(db, Batch, batch, now + timedelta(seconds=119))
    assert claim(db, Batch, batch, now + timedelta(seconds=121))


def test_silent_holders_are_those_whose_last_beat_is_old_and_never_the_unknown(redis_client):
    prefix = f"t{uuid.uuid4().hex[:8]}:"
    now = time.time()
    record_worker(redis_client, "w1@h", now=now - 20, prefix=prefix, holder="w1@h/1/a")
    record_worker(redis_client, "w2@h", now=now - 5, prefix=prefix, holder="w2@h/2/b")
    record_worker(redis_client, "w3@h", now=now - 20, prefix=prefix)  # holds no leases
    assert silent_holders(redis_client, 15, prefix=prefix, now=now) == {"w1@h/1/a"}
    redis_client.delete(*redis_client.keys(f"{prefix}*"))
    assert silent_holders(redis_client, 15, prefix=prefix, now=now) == set()
