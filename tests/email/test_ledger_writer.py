"""The ledger rows a batch writes per reader go through the driver's own cursor
(ledger_writer.py): they must read back through the ORM exactly as if SQLAlchemy had
written them, on each backend, and fail as SQLAlchemy's errors. Rows that arrive while
another commits are committed together, each writer still waiting for its own."""

from __future__ import annotations

import sqlite3
import threading
import time
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from distributor.audience.lists import create_list
from distributor.email.ledger_writer import LedgerWriter, _group_for
from distributor.states import DeliveryState
from distributor.store import Delivery, Send
from tests.peers import wait_for


@pytest.fixture()
def send_id(db) -> int:
    mailing_list = create_list(db, "daily", instant=False, schedule="0 7 * * *")
    with db.session() as session:
        send = Send(kind="digest", list_id=mailing_list.id)
        session.add(send)
        session.flush()
        return send.id


def test_rows_read_back_as_the_orm_wrote_them(db, send_id):
    before = datetime.now(UTC)
    writer = LedgerWriter(db.engine.connect())
    try:
        writer.record(send_id, 1, DeliveryState.SENT, None, retried=False)
        writer.record(send_id, 2, DeliveryState.DEFERRED, "451 4.3.0 try later", retried=False)
        writer.record(send_id, 2, DeliveryState.SENT, None, retried=True)
    finally:
        writer.close()
    with db.session() as session:  # another connection: each row was committed by itself
        rows = {d.subscriber_id: d for d in session.scalars(
            select(Delivery).where(Delivery.send_id == send_id))}
    assert {k: (d.state, d.attempts, d.error) for k, d in rows.items()} == {
        1: (DeliveryState.SENT, 1, None), 2: (DeliveryState.SENT, 2, None)}
    for row in rows.values():
        assert row.at.tzinfo is not None
        assert before - timedelta(seconds=1) <= row.at <= datetime.now(UTC)


def test_a_second_row_for_the_same_reader_fails_as_sqlalchemys_error(db, send_id):
    writer = LedgerWriter(db.engine.connect())
    try:
        writer.record(send_id, 7, DeliveryState.SENT, None, retried=False)
        with pytest.raises(IntegrityError):
            writer.record(send_id, 7, DeliveryState.SENT, None, retried=False)
    finally:
        writer.close()
    with db.session() as session:
        assert session.scalar(select(Delivery.attempts).where(Delivery.subscriber_id == 7)) == 1


@contextmanager
def writes_held(db):
    """Another connection holds the ledger's write lock until the block ends."""
    if db.is_sqlite:
        holder = sqlite3.connect(db.engine.url.database, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            holder.execute("ROLLBACK")
            holder.close()
    else:
        with db.engine.connect() as holder, holder.begin():
            holder.exec_driver_sql("LOCK TABLE deliveries IN SHARE ROW EXCLUSIVE MODE")
            yield


def _write_at_once(db, send_id, subscriber_ids, held_before=None):
    """Each id written by a thread of its own while the lock is held; once all but the
    leader's are queued, the lock goes. Returns {subscriber id: error or None}."""
    group = _group_for(db.engine)
    outcomes: dict[int, Exception | None] = {}

    def write(subscriber_id: int) -> None:
        writer = LedgerWriter(db.engine.connect())
        try:
            writer.record(send_id, subscriber_id, DeliveryState.SENT, None, retried=False)
            outcomes[subscriber_id] = None
        except Exception as exc:
            outcomes[subscriber_id] = exc
        finally:
            writer.close()

    with writes_held(db):
        threads = [threading.Thread(target=write, args=(i,)) for i in subscriber_ids]
        threads[0].start()
        wait_for(lambda: group.writing, timeout=10, what="the first writer to lead")
        for thread in threads[1:]:
            thread.start()
        wait_for(lambda: len(group.queued) == len(subscriber_ids) - 1, timeout=10,
                 what="the other writers queued behind it")
        time.sleep(0.2)
        assert outcomes == {}, "a writer returned before its row was committed"
    for thread in threads:
        thread.join(30)
    return outcomes


def test_rows_that_arrive_while_one_commits_go_together_each_writer_waiting_for_its_own(
        db, send_id):
    group = _group_for(db.engine)
    before = (group.transactions, group.rows)
    assert _write_at_once(db, send_id, [1, 2, 3, 4, 5]) == dict.fromkeys([1, 2, 3, 4, 5])
    # The first row alone (it waited for the lock), then the four queued behind it in one.
    assert (group.transactions - before[0], group.rows - before[1]) == (2, 5)
    with db.session() as session:
        assert sorted(session.scalars(select(Delivery.subscriber_id).where(
            Delivery.send_id == send_id))) == [1, 2, 3, 4, 5]


def test_an_error_in_a_grouped_row_reaches_only_its_writer(db, send_id):
    writer = LedgerWriter(db.engine.connect())
    writer.record(send_id, 7, DeliveryState.SENT, None, retried=False)
    writer.close()
    outcomes = _write_at_once(db, send_id, [100, 7, 101])
    assert outcomes[100] is None and outcomes[101] is None
    assert isinstance(outcomes[7], IntegrityError)
    with db.session() as session:
        assert sorted(session.scalars(select(Delivery.subscriber_id).where(
            Delivery.send_id == send_id))) == [7, 100, 101]
