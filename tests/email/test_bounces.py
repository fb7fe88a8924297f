"""Bounces and complaints reach the right reader and do what the policy says, through
the real SMTP path (refusals at RCPT, the VERP return path) and late reports."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from distributor.audience.bounces import Report, apply_report, classify, events_of, find_status
from distributor.audience.lists import create_list
from distributor.audience.subscribers import add_subscriber, is_suppressed
from distributor.audience.tokens import read_verp_token
from distributor.bootstrap import load_settings
from distributor.email.bounces import take_all
from distributor.email.reputation import list_rates
from distributor.errors import ConfigError
from distributor.monitor.progress import recent_sends
from distributor.states import (
    BatchState,
    BounceKind,
    DeliveryState,
    Outcome,
    SendState,
    SubscriptionStatus,
)
from distributor.store import Batch, BounceEvent, MailingList, Send, Subscriber, Subscription


def statuses(db, email: str) -> dict[str, str]:
    with db.session() as session:
        return dict(session.execute(
            select(MailingList.name, Subscription.status)
            .join(Subscription, Subscription.list_id == MailingList.id)
            .join(Subscriber, Subscriber.id == Subscription.subscriber_id)
            .where(Subscriber.email == email)).all())


def suppressed(db, email: str) -> bool:
    with db.session() as session:
        return is_suppressed(session, email)


def test_status_codes_sort_into_hard_and_soft_as_rfc_3463_says():
    assert classify("5.1.1", True) == BounceKind.HARD  # bad destination mailbox address
    assert classify("5.1.10", True) == BounceKind.HARD  # RFC 7505: null MX
    assert classify("5.2.1", True) == BounceKind.HARD  # mailbox disabled
    assert classify("5.2.2", True) == BounceKind.SOFT  # mailbox full
    assert classify("5.7.1", True) == BounceKind.SOFT  # refused by policy
    assert classify("4.4.7", False) == BounceKind.SOFT  # delivery time expired
    assert classify("2.0.0", False) is None  # a DSN that says "delivered"
    assert classify(None, True) == BounceKind.HARD and classify(None, False) == BounceKind.SOFT
    assert find_status("550-5.1.1 The email account that you tried to reach does not exist") \
        == "5.1.1"
    assert find_status("550 relay 10.1.1.1 denied") is None


def test_a_policy_refusal_at_rcpt_keeps_the_reader_on_their_other_lists(alert, smtp_server):
    job = alert(readers=1)
    reader = job.emails[0]
    create_list(job.db, "weekly", instant=False, schedule="0 7 * * 1")
    add_subscriber(job.db, reader, "weekly")
    smtp_server.handler.rcpt_replies[reader] = "550 5.7.1 Message rejected by policy"
    try:
        result = job.run()
    finally:
        del smtp_server.handler.rcpt_replies[reader]
    assert result.failed == 1 and job.ledger()[reader][0] == DeliveryState.BOUNCED
    assert not suppressed(job.db, reader)
    assert set(statuses(job.db, reader).values()) == {SubscriptionStatus.ACTIVE}
    shown = events_of(job.db, reader)
    assert [(e["kind"], e["status"], e["source"]) for e in shown["events"]] == [
        (BounceKind.SOFT, "5.7.1", "smtp")]
    assert "rejected by policy" in shown["events"][0]["reason"]


def test_an_unknown_user_at_rcpt_is_bounced_everywhere(alert, smtp_server):
    job = alert(readers=1)
    reader = job.emails[0]
    create_list(job.db, "weekly", instant=False, schedule="0 7 * * 1")
    add_subscriber(job.db, reader, "weekly")
    smtp_server.handler.rcpt_replies[reader] = "550 5.1.1 <x>: Recipient address rejected"
    try:
        job.run()
    finally:
        del smtp_server.handler.rcpt_replies[reader]
    assert suppressed(job.db, reader)
    assert set(statuses(job.db, reader).values()) == {SubscriptionStatus.BOUNCED}


def sent_return_path(smtp_server, email: str) -> str:
    return smtp_server.handler.to(email)[-1].mail_from


def test_each_reader_gets_a_signed_return_path_that_leads_back_to_them(alert, smtp_server):
    job = alert(readers=2, bounce_address="bounces@news.example.org")
    job.run()
    paths = {e: sent_return_path(smtp_server, e) for e in job.emails}
    assert len(set(paths.values())) == 2
    for email, path in paths.items():
        local, _, domain = path.partition("@")
        assert domain == "news.example.org" and local.startswith("bounces+")
        send_id, subscriber_id, _ = read_verp_token(local.removeprefix("bounces+"))
        assert (send_id, subscriber_id) == (job.send_id, job.subscriber_id(email))
        # The message itself still comes from the list's sender.
        assert "news@news.example.org" in smtp_server.handler.to(email)[-1].message["From"]
    gone = job.emails[0]
    token = paths[gone].partition("@")[0].removeprefix("bounces+").upper()  # case mangled
    taken = take_all(job.db, job.settings, [Report(
        kind=BounceKind.HARD, key="dsn-1", source="mailbox", reason="550 5.1.1 gone",
        status="5.1.1", verp=token, email="someone-else@example.com")])
    assert taken.counts == {"recorded": 1}
    assert suppressed(job.db, gone) and not suppressed(job.db, job.emails[1])
    assert set(statuses(job.db, gone).values()) == {SubscriptionStatus.BOUNCED}


def test_a_forged_return_path_changes_nothing(alert, smtp_server):
    job = alert(readers=1, bounce_address="bounces@news.example.org")
    job.run()
    reader = job.emails[0]
    forged = f"{job.send_id}-{job.subscriber_id(reader)}-{'0' * 20}"
    taken = take_all(job.db, job.settings, [Report(
        kind=BounceKind.COMPLAINT, key="forged", source="mailbox", reason="abuse",
        verp=forged, email=reader)])  # the address in the report is not trusted either
    assert taken.counts == {"forged": 1}
    assert not suppressed(job.db, reader)
    assert set(statuses(job.db, reader).values()) == {SubscriptionStatus.ACTIVE}
    with job.db.session() as session:
        assert session.scalar(select(BounceEvent.id)) is None


def test_a_complaint_unsubscribes_from_every_list_and_suppresses(alert, smtp_server):
    job = alert(readers=1)
    reader = job.emails[0]
    create_list(job.db, "weekly", instant=False, schedule="0 7 * * 1")
    add_subscriber(job.db, reader, "weekly")
    report = Report(kind=BounceKind.COMPLAINT, key="arf-1", source="mailbox",
                    reason="abuse report", email=reader.upper())
    assert take_all(job.db, job.settings, [report, report]).counts == {
        "recorded": 1, "duplicate": 1}
    assert suppressed(job.db, reader)
    assert set(statuses(job.db, reader).values()) == {SubscriptionStatus.COMPLAINED}


def test_soft_bounces_suppress_only_after_the_limit_within_the_window(alert, smtp_server):
    job = alert(readers=1, soft_bounce_limit="3", soft_bounce_window="7d")
    reader = job.emails[0]

    def soft(n: int, days_ago: float = 0):
        with job.db.session() as session:
            return apply_report(session, job.settings, Report(
                kind=BounceKind.SOFT, key=f"soft-{n}", source="mailbox", status="5.2.2",
                reason="552 5.2.2 mailbox full", email=reader),
                now=datetime.now(UTC) - timedelta(days=days_ago))

    soft(1, days_ago=30)  # outside the window: it does not count
    soft(2)
    soft(3)
    assert not suppressed(job.db, reader)
    assert "3 of 3" not in soft(4).effect
    assert suppressed(job.db, reader)
    assert set(statuses(job.db, reader).values()) == {SubscriptionStatus.BOUNCED}


def test_policy_refusals_past_the_limit_end_only_that_list(alert, smtp_server):
    job = alert(readers=1, soft_bounce_limit="2")
    reader = job.emails[0]
    create_list(job.db, "weekly", instant=False, schedule="0 7 * * 1")
    add_subscriber(job.db, reader, "weekly")
    reports = [Report(kind=BounceKind.SOFT, key=f"p{n}", source="mailbox", status="5.7.1",
                      reason="550 5.7.1 blocked", email=reader, send_id=job.send_id)
               for n in range(3)]
    take_all(job.db, job.settings, reports)
    after = statuses(job.db, reader)
    assert after.pop("weekly") == SubscriptionStatus.ACTIVE
    assert set(after.values()) == {SubscriptionStatus.BOUNCED}
    assert not suppressed(job.db, reader)


def test_a_send_whose_first_thousand_readers_bounce_eight_percent_pauses(alert, smtp_server):
    job = alert(readers=1100, batch_size="2000")
    gone = job.emails[:1000:12][:80] + job.emails[5:1000:125]  # 88 of the first 1,000
    for email in gone:
        smtp_server.handler.rcpt_replies[email] = "550 5.1.1 no such user"
    try:
        result = job.run()
    finally:
        for email in gone:
            del smtp_server.handler.rcpt_replies[email]
    assert result.state == Outcome.PAUSED
    assert "hard bounces" in result.error and "over 5.0%" in result.error
    with job.db.session() as session:
        send = session.get(Send, job.send_id)
        assert send.state == SendState.PAUSED and send.error == result.error
        assert session.get(Batch, job.batch_id).state == BatchState.PAUSED
    reached = sum(1 for state, _ in job.ledger().values()
                  if state in (DeliveryState.SENT, DeliveryState.BOUNCED))
    assert reached == 1000  # it stopped at the first reader past the floor
    # What status, /v1/status and the dashboard show of it.
    [shown] = recent_sends(job.db, datetime.now(UTC) - timedelta(hours=1))
    assert shown["reputation"]["hard_bounce_rate"] == 0.088
    with job.db.session() as session:
        [per_list] = list_rates(session, datetime.now(UTC) - timedelta(days=7))
    assert (per_list["reached"], per_list["hard_bounces"]) == (1000, 88)


def test_a_late_complaint_rate_past_the_limit_pauses_an_open_send(alert, smtp_server):
    job = alert(readers=3, reputation_floor="2")
    job.run()
    with job.db.session() as session:  # as if it were still going out
        session.get(Send, job.send_id).state = SendState.RUNNING
    taken = take_all(job.db, job.settings, [Report(
        kind=BounceKind.COMPLAINT, key="c1", source="postmark", reason="SpamComplaint",
        email=job.emails[0], send_id=job.send_id)])
    assert "spam complaints" in taken.paused[job.send_id]
    with job.db.session() as session:
        assert session.get(Send, job.send_id).state == SendState.PAUSED


@pytest.mark.parametrize(("env", "named"), [
    ({"DISTRIBUTOR_BOUNCE_ADDRESS": "Bounces <bounces@news.example.org>"}, "DISTRIBUTOR_BOUNCE_ADDRESS"),
    ({"DISTRIBUTOR_BOUNCE_ADDRESS": "bounces+x@news.example.org"}, "DISTRIBUTOR_BOUNCE_ADDRESS"),
    ({"DISTRIBUTOR_SOFT_BOUNCE_LIMIT": "0"}, "DISTRIBUTOR_SOFT_BOUNCE_LIMIT"),
    ({"DISTRIBUTOR_SOFT_BOUNCE_WINDOW": "a month"}, "DISTRIBUTOR_SOFT_BOUNCE_WINDOW"),
    ({"DISTRIBUTOR_HARD_BOUNCE_PAUSE": "5%"}, "DISTRIBUTOR_HARD_BOUNCE_PAUSE"),
])
def test_bad_bounce_settings_are_named(tmp_path, env, named):
    with pytest.raises(ConfigError, match=named) as refused:
        load_settings({"DISTRIBUTOR_VAR_DIR": str(tmp_path), **env})
    assert "\n" not in str(refused.value)


@pytest.mark.parametrize(("imap", "message"), [
    ("pop3://u:secret-pw-123@host/INBOX", "imaps://"),
    ("imaps://host/INBOX", "user:password@host"),
    ("imaps://u:secret-pw-123@host:nope/INBOX", "port"),
])
def test_a_bad_mailbox_url_is_refused_without_its_password(tmp_path, imap, message):
    path = tmp_path / "distributor.toml"
    path.write_text(f'[bounces]\nimap = "{imap}"\n')
    with pytest.raises(ConfigError, match=message) as refused:
        load_settings({"DISTRIBUTOR_VAR_DIR": str(tmp_path), "DISTRIBUTOR_CONFIG": str(path)})
    assert "bounces.imap" in str(refused.value) and "secret-pw-123" not in str(refused.value)


def test_the_mailbox_password_is_a_secret_for_the_logs(tmp_path):
    path = tmp_path / "distributor.toml"
    path.write_text('[bounces]\nimap = "imaps://u:secret-pw-123@host/INBOX"\n'
                    'mailgun_signing_key = "mailgun-key-0123"\n')
    settings = load_settings({"DISTRIBUTOR_VAR_DIR": str(tmp_path),
                              "DISTRIBUTOR_CONFIG": str(path)})
    assert {"secret-pw-123", "mailgun-key-0123"} <= set(settings.secret_values())
    assert "secret-pw-123" not in repr(settings)
