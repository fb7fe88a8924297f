"""Addresses the lab never sees: internationalised domains (RFC 5890 IDNA), non-ASCII
local parts (RFC 6531 SMTPUTF8), a server that refuses one of them. One odd address
fails that reader alone, with a reason; the batch goes on."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text

from distributor.audience.subscribers import normalise_email
from distributor.email.transport import open_transport
from distributor.monitor.deliveries import deliveries
from distributor.monitor.failures import list_failures
from distributor.outbox.wake import MemoryDispatcher, sweep
from distributor.states import BatchState, DeliveryState, Outcome, SendState
from distributor.store import Article, Batch, Send, Subscriber, Subscription
from tests.peers import SMTPServer

IDN = "leser@bücher.de"
IDN_STORED = "leser@xn--bcher-kva.de"
UTF8_LOCAL = "müller@bücher.de"
UTF8_STORED = "müller@xn--bcher-kva.de"
REFUSED = "jörg@example.org"
# RFC 6531 3.7.1 / RFC 5321 4.2.3: 553 with 5.6.7, "non-ASCII addresses not permitted".
REFUSAL = "553 5.6.7 Non-ASCII addresses not permitted for that recipient"


@pytest.fixture()
def utf8_server():
    with SMTPServer(enable_SMTPUTF8=True) as server:  # offers SMTPUTF8 in its EHLO reply
        yield server


@pytest.fixture()
def ascii_server():
    with SMTPServer(enable_SMTPUTF8=False) as server:  # RFC 5321 ASCII only
        yield server


def test_an_idn_domain_is_stored_in_its_ascii_form_everywhere():
    assert normalise_email(" Leser@Bücher.DE ") == IDN_STORED
    assert normalise_email(IDN_STORED) == IDN_STORED
    assert normalise_email(UTF8_LOCAL) == UTF8_STORED


def test_odd_addresses_fail_alone_and_300_ordinary_readers_get_one_email_each(alert, utf8_server):
    utf8_server.handler.rcpt_replies[REFUSED] = REFUSAL
    job = alert(readers=300, extra=(IDN, UTF8_LOCAL, REFUSED), server=utf8_server)
    result = job.run()
    ordinary = job.emails[3:]
    assert (result.state, result.sent, result.failed) == (Outcome.DONE, 302, 1)
    assert utf8_server.handler.counts(ordinary) == {e.lower(): 1 for e in ordinary}
    assert utf8_server.handler.counts([IDN_STORED, UTF8_STORED, REFUSED]) == {
        IDN_STORED: 1, UTF8_STORED: 1, REFUSED: 0}
    message = utf8_server.handler.to(UTF8_STORED)[0].message
    assert message["To"] == UTF8_STORED  # RFC 6532: the header carries it as UTF-8
    ledger = job.ledger()
    assert ledger[REFUSED][0] == DeliveryState.BOUNCED
    assert len(ledger) == 303
    failures = [f for f in list_failures(job.db) if f["kind"] == "email"]
    assert [(REFUSED in f["what"], f["error"]) for f in failures] == [(True, f"RCPT: {REFUSAL}")]


def test_a_non_ascii_local_part_fails_alone_when_the_server_lacks_smtputf8(alert, ascii_server):
    job = alert(readers=20, extra=(UTF8_LOCAL, IDN), server=ascii_server)
    result = job.run()
    assert (result.state, result.sent, result.failed) == (Outcome.DONE, 21, 1)
    delivered = [IDN_STORED, *job.emails[2:]]
    assert ascii_server.handler.counts(delivered) == {e: 1 for e in delivered}
    state, _ = job.ledger()[UTF8_STORED]
    assert state == DeliveryState.FAILED
    why = next(f["error"] for f in list_failures(job.db) if UTF8_STORED in f["what"])
    assert why == ("the address has a non-ASCII local part and the server does not offer "
                   "SMTPUTF8 (RFC 6531)")
    with job.db.session() as session:
        assert session.get(Send, job.send_id).state == SendState.DONE


def test_an_address_stored_before_the_fix_still_goes_out_with_its_ascii_domain(alert, ascii_server):
    job = alert(readers=2, server=ascii_server)
    with job.db.session() as session:  # as an older version stored it: the Unicode domain
        list_id = session.scalar(select(Subscription.list_id))
        old = Subscriber(email="alt@bücher.de", name="")
        session.add(old)
        session.flush()
        session.add(Subscription(list_id=list_id, subscriber_id=old.id))
        session.execute(text("UPDATE batches SET last_id = :last"), {"last": old.id})
    result = job.run()
    assert (result.state, result.sent) == (Outcome.DONE, 3)
    assert ascii_server.handler.counts(["alt@xn--bcher-kva.de"]) == {"alt@xn--bcher-kva.de": 1}


class FaultyForOne:
    """The real SMTP transport, except that sending to one address raises an error nobody
    foresaw (a bug in a filter, a codec): the batch must fail that reader alone."""

    def __init__(self, url: str, address: str):
        self.real, self.address = open_transport(url, 10), address
        self.description = self.real.description

    def connect(self):
        connection, address = self.real.connect(), self.address

        class Connection:
            def send(self, sender, recipient, message):
                if recipient == address:
                    raise LookupError("unknown encoding: x-broken")
                connection.send(sender, recipient, message)

            def close(self):
                connection.close()

        return Connection()


def test_an_unexpected_error_for_one_reader_fails_that_reader_alone(alert, smtp_server):
    job = alert(readers=5)
    job.transport = FaultyForOne(smtp_server.url, job.emails[1])
    result = job.run()
    assert (result.state, result.sent, result.failed) == (Outcome.DONE, 4, 1)
    others = [e for e in job.emails if e != job.emails[1]]
    assert smtp_server.handler.counts(others) == {e: 1 for e in others}
    assert job.ledger()[job.emails[1]][0] == DeliveryState.FAILED
    why = next(f["error"] for f in list_failures(job.db) if job.emails[1] in f["what"])
    assert why == "unexpected error: LookupError: unknown encoding: x-broken"


def _refuse_ledger_writes(db) -> None:
    """A database that refuses every ledger row (a full disk, a broken trigger)."""
    with db.engine.begin() as connection:
        if db.is_sqlite:
            connection.execute(text(
                "CREATE TRIGGER refuse BEFORE INSERT ON deliveries "
                "BEGIN SELECT RAISE(ABORT, 'ledger refused'); END"))
        else:
            connection.execute(text(
                "CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN "
                "RAISE EXCEPTION 'ledger refused'; END $$ LANGUAGE plpgsql"))
            connection.execute(text("CREATE TRIGGER refuse BEFORE INSERT ON deliveries "
                                    "FOR EACH ROW EXECUTE FUNCTION refuse()"))


def test_an_unexpected_batch_error_is_kept_on_the_batch_shown_and_not_retried_forever(
        alert, smtp_server):
    job = alert(readers=2)
    _refuse_ledger_writes(job.db)
    result = job.run()
    assert result.state == Outcome.RETRY and "ledger refused" in result.error
    with job.db.session() as session:
        guid = session.scalar(select(Article.guid))
        batch = session.get(Batch, job.batch_id)
        assert batch.state == BatchState.RUNNING and "ledger refused" in batch.error
        assert batch.next_attempt_at is not None  # the sweeper waits for it
    report = deliveries(job.db, guid)["sends"][0]
    assert report["state"] == SendState.RUNNING and "ledger refused" in report["error"]
    listed = {f["id"]: f for f in list_failures(job.db)}
    assert "ledger refused" in listed[f"batch:{job.batch_id}"]["error"]

    for _ in range(20):  # every next try breaks the same way; the tries run out
        job.reopen()
        if job.run().state == Outcome.FAILED:
            break
    with job.db.session() as session:
        batch = session.get(Batch, job.batch_id)
        assert batch.state == BatchState.FAILED and batch.attempts == 10
    listed = {f["id"]: f for f in list_failures(job.db)}
    assert listed[f"batch:{job.batch_id}"]["retryable"] is True
    from datetime import UTC, datetime, timedelta
    assert sweep(job.db, MemoryDispatcher(), datetime.now(UTC) + timedelta(days=1)) == (0, 0)
