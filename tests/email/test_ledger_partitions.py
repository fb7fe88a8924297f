"""PostgreSQL: the ledger is partitioned by ranges of send id, so retention drops a
whole old partition (no row-by-row delete) and the send it held still reports its
figures and keeps its bounces. SQLite keeps one table (tests/email/test_ledger.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from alembic import command
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import IntegrityError

from distributor.audience.lists import create_list
from distributor.audience.subscribers import add_subscriber
from distributor.email.batch import run_batch
from distributor.email.ledger import prune
from distributor.email.transport import open_transport
from distributor.inbound.article import ingest
from distributor.monitor.deliveries import deliveries
from distributor.states import DeliveryState
from distributor.store import Batch, Database, Delivery, Send, partitions
from distributor.store.migrate import alembic_config
from tests.conftest import new_database_url

DAY = 86400.0


@pytest.fixture()
def pg(backend, postgres, tmp_path, make_settings, smtp_server):
    if backend != "postgresql":
        pytest.skip("partitions are PostgreSQL's: this runs in the postgresql pass")
    settings = make_settings(smtp_url=smtp_server.url,
                             database_url=new_database_url(backend, postgres, tmp_path))
    db = Database(settings.database_url.get_secret_value())
    db.upgrade()
    yield db, settings
    db.dispose()


def send_alert(db, settings, smtp_server, guid: str) -> int:
    ingest(db, settings, {"guid": guid, "url": f"https://n.example/{guid}", "title": guid})
    with db.session() as session:
        send_id = session.scalar(select(Send.id).order_by(Send.id.desc()).limit(1))
        batch_id = session.scalar(select(Batch.id).where(Batch.send_id == send_id))
    run_batch(db, settings, open_transport(smtp_server.url), batch_id)
    return send_id


def figures(db, guid) -> dict:
    [send] = deliveries(db, guid)["sends"]
    return {k: send[k] for k in ("state", "planned", "sent", "failed", "skipped")}


def tables(db) -> set[str]:
    with db.engine.connect() as connection:
        return {p.name for p in partitions.partitions(connection)}


def test_retention_drops_an_old_partition_and_its_sends_keep_their_figures(pg, smtp_server):
    db, settings = pg
    assert tables(db) == {"deliveries_s0", "deliveries_s1000", "deliveries_s2000"}
    create_list(db, "breaking", instant=True)
    for n in range(4):
        add_subscriber(db, f"part{n}@example.com", "breaking")
    smtp_server.handler.rcpt_replies["part3@example.com"] = "550 5.1.1 no such user"
    try:
        old = send_alert(db, settings, smtp_server, "old")
        with db.engine.begin() as connection:  # later sends are numbered from 1500 on
            connection.execute(text("SELECT setval('sends_id_seq', 1499)"))
        new = send_alert(db, settings, smtp_server, "new")
    finally:
        del smtp_server.handler.rcpt_replies["part3@example.com"]
    assert (old, new) == (1, 1500)
    before, recent_before = figures(db, "old"), figures(db, "new")
    assert (before["sent"], before["failed"]) == (3, 1)
    with db.session() as session:
        session.execute(update(Send).where(Send.id == old)
                        .values(finished_at=datetime.now(UTC) - timedelta(days=40)))

    result = prune(db, 30 * DAY, datetime.now(UTC))

    assert (result.sends, result.rows) == (1, 3)
    assert "deliveries_s0" not in tables(db)  # dropped whole, not emptied row by row
    assert tables(db) == {"deliveries_s1000", "deliveries_s2000", "deliveries_s3000"}  # 2 ahead
    assert figures(db, "old") == before
    assert figures(db, "new") == recent_before
    with db.session() as session:
        kept = session.scalars(select(Delivery.state).where(Delivery.send_id == old)).all()
        recent = session.scalar(select(func.count()).select_from(Delivery)
                                .where(Delivery.send_id == new))
    assert kept == [DeliveryState.BOUNCED]  # the bounce keeps its row (default partition)
    assert recent == recent_before["sent"]  # the recent send keeps its rows
    assert prune(db, 30 * DAY, datetime.now(UTC)).sends == 0  # once


def test_the_ledger_still_refuses_a_second_row_for_one_reader_of_one_send(pg, smtp_server):
    """The unique (send_id, subscriber_id) holds across partitions: the key is in it."""
    db, settings = pg
    create_list(db, "breaking", instant=True)
    add_subscriber(db, "once@example.com", "breaking")
    send_id = send_alert(db, settings, smtp_server, "once")
    with db.engine.connect() as connection:
        row = connection.execute(select(Delivery.subscriber_id).where(
            Delivery.send_id == send_id)).scalar()
        with pytest.raises(IntegrityError, match="send_id_subscriber_id_key"):
            connection.execute(text(
                "INSERT INTO deliveries (send_id, subscriber_id, state, attempts, at) "
                "VALUES (:s, :r, 'sent', 1, now())"), {"s": send_id, "r": row})


def test_the_migration_keeps_every_ledger_row_both_ways(pg, smtp_server):
    db, settings = pg
    create_list(db, "breaking", instant=True)
    for n in range(3):
        add_subscriber(db, f"moved{n}@example.com", "breaking")
    send_alert(db, settings, smtp_server, "moved")

    def ledger() -> list[tuple]:
        with db.engine.connect() as connection:
            return connection.execute(text(
                "SELECT id, send_id, subscriber_id, state FROM deliveries ORDER BY id")).all()

    before = ledger()
    assert len(before) == 3
    command.downgrade(alembic_config(db.engine), "0008")
    assert ledger() == before
    with db.engine.connect() as connection:
        assert not partitions.is_partitioned(connection)
    db.upgrade()
    assert ledger() == before
    with db.engine.connect() as connection:
        assert partitions.is_partitioned(connection)
    send_alert(db, settings, smtp_server, "after")  # ids go on from the same sequence
    assert len(ledger()) == 6 and len({row[0] for row in ledger()}) == 6
