"""The bounce mailbox poller against a real IMAP server (Dovecot), with real bounce
samples (tests/email/data/bounces/SOURCES.md)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from distributor.api import create_app
from distributor.email.mailbox import mailbox_status, poll_mailbox
from distributor.errors import MailboxError
from distributor.monitor import snapshot
from distributor.outbox.wake import MemoryDispatcher
from distributor.states import SubscriptionStatus
from distributor.store import BounceEvent, Subscriber, Subscription
from tests import imap_server
from tests.imap_server import dovecot  # noqa: F401  (the fixture)

DATA = Path(__file__).parent / "data" / "bounces"
POSTFIX_RECIPIENT = "kijitora@example.org"  # lhost-postfix-01.eml's failed recipient
ARF_RECIPIENT = "this-local-part-does-not-exist-on-yahoo@yahoo.com"  # arf-02.eml's


@pytest.fixture()
def mailbox(dovecot):  # noqa: F811  (the imported fixture)
    dovecot.empty()
    yield dovecot
    dovecot.empty()


def bounces_config(tmp_path: Path, url: str, handled_folder: str | None = None) -> str:
    """A config file with [bounces]; given as CONFIG= (DISTRIBUTOR_CONFIG) to `alert`."""
    path = tmp_path / "bounces.toml"
    lines = ['[publisher]', 'name = "StratNews Test"', 'address = "1 Test Road, Delhi"',
             "", "[bounces]", f'imap = "{url}"']
    if handled_folder:
        lines.append(f'handled_folder = "{handled_folder}"')
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def status_of(job, email: str) -> set[str]:
    with job.db.session() as session:
        return set(session.scalars(select(Subscription.status).join(
            Subscriber, Subscriber.id == Subscription.subscriber_id).where(Subscriber.email == email)))


def events(job) -> int:
    with job.db.session() as session:
        return session.scalar(select(func.count()).select_from(BounceEvent))


def with_return_path(raw: bytes, path: str) -> bytes:
    return f"Delivered-To: {path}\n".encode() + raw


def test_the_poller_applies_each_report_and_puts_it_away(alert, smtp_server, mailbox, tmp_path):
    job = alert(readers=1, extra=(POSTFIX_RECIPIENT, ARF_RECIPIENT),
                bounce_address="bounces@news.example.org",
                CONFIG=bounces_config(tmp_path, mailbox.url, handled_folder="Handled"))
    job.run()
    verp_reader = job.emails[2]
    path = smtp_server.handler.to(verp_reader)[-1].mail_from  # bounces+<token>@...
    mailbox.append((DATA / "lhost-postfix-01.eml").read_bytes())  # by the failed address
    mailbox.append((DATA / "arf-02.eml").read_bytes())
    mailbox.append(with_return_path((DATA / "lhost-yahoo-01.eml").read_bytes(), path))
    mailbox.append((DATA / "rfc3834-01.eml").read_bytes())
    mailbox.append((DATA / "is-not-bounce-01.eml").read_bytes())

    polled = poll_mailbox(job.db, job.settings)

    assert (polled.seen, polled.handled, polled.unparsed) == (5, 4, 1)
    assert polled.kinds == {"dsn": 1, "arf": 1, "nonstandard": 1, "autoreply": 1}
    assert status_of(job, POSTFIX_RECIPIENT) == {SubscriptionStatus.BOUNCED}
    assert status_of(job, ARF_RECIPIENT) == {SubscriptionStatus.COMPLAINED}
    assert status_of(job, verp_reader) == {SubscriptionStatus.BOUNCED}  # 5.1.1 via its token
    assert mailbox.count("INBOX") == 1  # the unreadable one stays for a person to look at
    assert mailbox.count("Handled") == 4
    [state] = mailbox_status(job.db)
    assert (state["status"], state["handled"], state["unparsed"], state["error"]) == (
        "ok", 4, 1, None)
    assert "bounces" not in state["mailbox"] and imap_server.PASSWORD not in state["mailbox"]


def test_a_report_read_twice_counts_once(alert, smtp_server, mailbox, tmp_path):
    """As when a poll dies after writing the database and before deleting the message."""
    job = alert(readers=0, extra=(POSTFIX_RECIPIENT,),
                CONFIG=bounces_config(tmp_path, mailbox.url))
    raw = (DATA / "lhost-postfix-01.eml").read_bytes()
    mailbox.append(raw)
    assert poll_mailbox(job.db, job.settings).taken.counts == {"recorded": 1}
    assert mailbox.count() == 0  # deleted: no handled_folder
    mailbox.append(raw)
    again = poll_mailbox(job.db, job.settings)
    assert again.taken.counts == {"duplicate": 1} and again.handled == 1
    assert events(job) == 1


def test_a_refused_login_is_recorded_for_status_without_the_password(alert, mailbox, tmp_path):
    wrong = mailbox.url.replace(imap_server.PASSWORD, "wrong-password-xyz")
    job = alert(readers=0, CONFIG=bounces_config(tmp_path, wrong))
    mailbox.append((DATA / "lhost-postfix-01.eml").read_bytes())
    with pytest.raises(MailboxError) as refused:
        poll_mailbox(job.db, job.settings)
    assert "login" in str(refused.value) and "wrong-password-xyz" not in str(refused.value)
    [state] = mailbox_status(job.db)
    assert state["status"] == "error" and "login" in state["error"]
    assert mailbox.count() == 1  # untouched
    # Shown where operators look; /health names it as a warning (sending goes on without it).
    assert snapshot(job.db, None, job.settings)["bounce_mailboxes"][0]["error"] == state["error"]
    health = TestClient(create_app(job.settings, job.db, MemoryDispatcher())).get("/health").json()
    assert any(w.startswith("bounce mailbox") and "login" in w for w in health["warnings"])
    assert "wrong-password-xyz" not in str(health)


def test_an_unreachable_mailbox_is_an_error_not_a_crash(alert, tmp_path):
    from tests.peers import free_port

    url = f"imap://u:p@127.0.0.1:{free_port()}/INBOX"
    job = alert(readers=0, CONFIG=bounces_config(tmp_path, url))
    with pytest.raises(MailboxError, match="cannot reach"):
        poll_mailbox(job.db, job.settings)
    assert mailbox_status(job.db)[0]["status"] == "error"
