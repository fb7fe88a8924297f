"""The ledger past retention: rows of long-finished sends are rolled up into per-send
figures and deleted; reports keep their numbers; failures keep their rows; a pruned
send cannot be retried into duplicates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from distributor.audience.lists import create_list
from distributor.audience.subscribers import add_subscriber
from distributor.email.batch import run_batch
from distributor.email.ledger import prune
from distributor.email.transport import open_transport
from distributor.errors import InvalidInput
from distributor.inbound.article import ingest
from distributor.monitor.deliveries import deliveries
from distributor.monitor.failures import retry
from distributor.outbox.wake import MemoryDispatcher
from distributor.states import BatchState, DeliveryState
from distributor.store import Batch, Database, Delivery, Send

DAY = 86400.0


@pytest.fixture()
def sent_alert(make_settings, smtp_server):
    """An alert to four readers, one of whom the server refuses for good."""
    settings = make_settings(smtp_url=smtp_server.url)
    db = Database(settings.database_url.get_secret_value())
    db.upgrade()
    create_list(db, "breaking", instant=True)
    for n in range(4):
        add_subscriber(db, f"ledger{n}@example.com", "breaking")
    ingest(db, settings, {"guid": "old", "url": "https://n.example/old", "title": "Old"})
    smtp_server.handler.rcpt_replies["ledger3@example.com"] = "550 5.1.1 no such user"
    try:
        with db.session() as session:
            batch_id = session.scalar(select(Batch.id))
        run_batch(db, settings, open_transport(smtp_server.url), batch_id)
    finally:
        del smtp_server.handler.rcpt_replies["ledger3@example.com"]
    yield db
    db.dispose()


def figures(db) -> dict:
    [send] = deliveries(db, "old")["sends"]
    return {k: send[k] for k in ("state", "planned", "sent", "failed", "skipped")}


def rows(db, state) -> int:
    with db.session() as session:
        return session.scalar(select(func.count()).select_from(Delivery)
                              .where(Delivery.state == state))


def test_a_pruned_send_reports_the_same_figures_and_keeps_its_bounces(sent_alert):
    db = sent_alert
    before = figures(db)
    assert (before["sent"], before["failed"]) == (3, 1)
    assert prune(db, 30 * DAY, datetime.now(UTC)).sends == 0  # ended just now: kept
    result = prune(db, 30 * DAY, datetime.now(UTC) + timedelta(days=31))
    assert (result.sends, result.rows) == (1, 3)
    assert rows(db, DeliveryState.SENT) == 0 and rows(db, DeliveryState.BOUNCED) == 1
    assert figures(db) == before
    assert prune(db, 30 * DAY, datetime.now(UTC) + timedelta(days=32)).sends == 0  # once


def test_a_pruned_send_is_not_retried_into_duplicates(sent_alert):
    db = sent_alert
    with db.session() as session:
        batch_id = session.scalar(select(Batch.id))
        session.execute(update(Batch).values(state=BatchState.FAILED))
        send_finished = session.scalar(select(Send.finished_at))
    assert send_finished is not None
    prune(db, 30 * DAY, datetime.now(UTC) + timedelta(days=31))
    with pytest.raises(InvalidInput, match="pruned"):
        retry(db, MemoryDispatcher(), f"batch:{batch_id}")
