"""The ledger rows a batch writes per reader go through the driver's own cursor
(ledger_writer.py): they must read back through the ORM exactly as if SQLAlchemy had
written them, on each backend, and fail as SQLAlchemy's errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from distributor.audience.lists import create_list
from distributor.email.ledger_writer import LedgerWriter
from distributor.states import DeliveryState
from distributor.store import Delivery, Send


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
