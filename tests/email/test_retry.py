"""`failures retry` of email work, as an operator uses it after fixing the cause: a
failed send or a failed batch is re-opened, woken, and then reaches every reader once;
what cannot be retried says why and changes nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from distributor.email.closing import fail_send
from distributor.errors import InvalidInput, NotFound, Unavailable
from distributor.monitor.failures import list_failures, retry, retry_all
from distributor.outbox.wake import MemoryDispatcher
from distributor.states import BatchState, SendState
from distributor.store import Batch, Delivery, Send


def states(alert) -> tuple[str, str]:
    with alert.db.session() as session:
        return (session.scalar(select(Send.state).where(Send.id == alert.send_id)),
                session.scalar(select(Batch.state).where(Batch.id == alert.batch_id)))


def test_a_failed_send_retried_by_id_reaches_every_reader_once(alert, smtp_server):
    sent = alert(readers=3)
    with sent.db.session() as session:
        fail_send(session, sent.send_id, "rendering failed: the template was broken")
    [failure] = [f for f in list_failures(sent.db) if f["kind"] == "alert send"]
    assert failure == {**failure, "id": f"send:{sent.send_id}", "retryable": True}

    dispatcher = MemoryDispatcher()
    retried = retry(sent.db, dispatcher, failure["id"])
    assert retried.enqueued and retried.what == f"alert send {sent.send_id} (1 batches)"
    assert dispatcher.ids("email.send_batch") == [sent.batch_id]
    assert states(sent) == (SendState.RUNNING, BatchState.PLANNED)
    before = len(smtp_server.handler.messages)
    assert sent.run().sent == 3
    assert len(smtp_server.handler.messages) - before == 3
    assert states(sent) == (SendState.DONE, BatchState.DONE)
    with pytest.raises(InvalidInput, match="not failed"):  # done: nothing to re-open
        retry(sent.db, dispatcher, failure["id"])


def test_a_failed_batch_retried_by_id_reopens_its_send(alert):
    sent = alert(readers=2)
    with sent.db.session() as session:
        session.execute(update(Batch).values(state=BatchState.FAILED, error="ten tries"))
    [failure] = [f for f in list_failures(sent.db) if f["kind"] == "email batch"]
    dispatcher = MemoryDispatcher()
    assert retry(sent.db, dispatcher, failure["id"]).what == f"batch of send {sent.send_id}"
    assert dispatcher.ids("email.send_batch") == [sent.batch_id]
    assert states(sent) == (SendState.RUNNING, BatchState.PLANNED)
    assert sent.run().sent == 2


def test_retry_all_takes_every_retryable_failure_and_leaves_the_rest(alert):
    sent = alert(readers=2, extra=("gone@example.com",))
    sent.run()
    with sent.db.session() as session:
        delivery_id = session.scalar(select(Delivery.id).limit(1))
        fail_send(session, sent.send_id, "stopped by hand")
    with pytest.raises(InvalidInput, match="not retried"):
        retry(sent.db, MemoryDispatcher(), f"delivery:{delivery_id}")
    retried = retry_all(sent.db, MemoryDispatcher())
    assert [r.id for r in retried] == [f"send:{sent.send_id}"]


def test_retry_of_what_does_not_exist_or_is_not_failed_changes_nothing(alert):
    sent = alert(readers=1)
    for failure_id, error in ((f"send:{sent.send_id + 99}", NotFound),
                              (f"batch:{sent.batch_id + 99}", NotFound),
                              (f"send:{sent.send_id}", InvalidInput),
                              (f"batch:{sent.batch_id}", InvalidInput)):
        with pytest.raises(error):
            retry(sent.db, MemoryDispatcher(), failure_id)
    assert states(sent) == (SendState.PLANNED, BatchState.PLANNED)


class BrokerDown(MemoryDispatcher):
    def send_batch(self, batch_id: int, countdown: float | None = None) -> None:
        raise Unavailable("broker does not answer")


def test_a_retry_while_the_broker_is_down_is_reopened_for_the_sweeper(alert):
    sent = alert(readers=1)
    with sent.db.session() as session:
        fail_send(session, sent.send_id, "stopped by hand")
    retried = retry(sent.db, BrokerDown(), f"batch:{sent.batch_id}")
    assert not retried.enqueued and "sweeper" in retried.status
    assert retried.as_dict()["status"] == retried.status
    assert states(sent)[1] == BatchState.PLANNED
