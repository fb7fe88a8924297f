"""Reading what comes back to the bounce address, on real messages from real mail
systems (tests/email/data/bounces/SOURCES.md says where each came from)."""

from __future__ import annotations

from pathlib import Path

import pytest

from distributor.email.reports import ARF, AUTOREPLY, DSN, NONSTANDARD, UNPARSED, read_report
from distributor.states import BounceKind

DATA = Path(__file__).parent / "data" / "bounces"
BOUNCES = "bounces@news.example.org"
TOKEN = "12-34-0123456789abcdef0123"


def sample(name: str, to_our_return_path: bool = False) -> bytes:
    raw = (DATA / name).read_bytes()
    if to_our_return_path:  # as the receiving MTA records the envelope recipient
        raw = f"Delivered-To: bounces+{TOKEN}@news.example.org\n".encode() + raw
    return raw


@pytest.mark.parametrize(("name", "kind", "status", "email"), [
    ("lhost-postfix-01.eml", DSN, "5.1.1", "kijitora@example.org"),
    ("lhost-amazonses-01.eml", DSN, "5.1.0", "shironeko@example.co.jp"),  # 5.0.0: the diagnostic says more
    ("lhost-exim-01.eml", NONSTANDARD, None, "kijitora@example.ed.jp"),
    ("lhost-gmail-01.eml", NONSTANDARD, None, "userunknown@example.jp"),
    ("flufl-microsoft-01.eml", NONSTANDARD, None, "userx@example.COM"),
])
def test_hard_bounces_name_the_failed_recipient(name, kind, status, email):
    read = read_report(sample(name), BOUNCES)
    assert read.kind == kind
    [report] = read.reports
    assert (report.kind, report.status, report.email) == (BounceKind.HARD, status, email)
    assert report.reason and report.key.startswith("mailbox:")


def test_a_mangled_bounce_that_kept_our_return_path_is_tied_to_its_reader():
    for name, status in (("lhost-office365-01.eml", "5.1.10"), ("lhost-yahoo-01.eml", "5.1.1")):
        assert read_report(sample(name), BOUNCES).kind == UNPARSED  # no recipient in a known form
        [report] = read_report(sample(name, to_our_return_path=True), BOUNCES).reports
        assert (report.verp, report.status, report.kind) == (TOKEN, status, BounceKind.HARD)


def test_the_token_is_found_wherever_the_report_kept_it():
    [report] = read_report(sample("lhost-postfix-01.eml", to_our_return_path=True), BOUNCES).reports
    assert report.verp == TOKEN and report.email == "kijitora@example.org"
    assert read_report(sample("lhost-postfix-01.eml"), None).reports[0].verp is None


@pytest.mark.parametrize("name", ["arf-01.eml", "arf-02.eml"])
def test_an_abuse_report_is_a_complaint(name):
    read = read_report(sample(name), BOUNCES)
    assert read.kind == ARF
    [report] = read.reports
    assert report.kind == BounceKind.COMPLAINT and "Feedback-Type: abuse" in report.reason
    assert report.email


def test_an_autoreply_is_recognised_and_carries_no_event():
    read = read_report(sample("rfc3834-01.eml"), BOUNCES)
    assert (read.kind, read.reports) == (AUTOREPLY, [])


def test_an_ordinary_message_or_garbage_is_unparsed_never_an_error():
    assert read_report(sample("is-not-bounce-01.eml"), BOUNCES).kind == UNPARSED
    for junk in (b"", b"\xff\xfe\x00garbage", b"Content-Type: multipart/report; report-type="
                 b"delivery-status; boundary=x\n\n--x\nContent-Type: message/delivery-status\n\n"):
        assert read_report(junk, BOUNCES).kind == UNPARSED


def test_a_delayed_notice_is_not_a_bounce():
    raw = (b"From: MAILER-DAEMON@mx.example.org\nMessage-ID: <d1@mx>\nContent-Type: multipart/report;"
           b" report-type=delivery-status; boundary=b\n\n--b\nContent-Type: text/plain\n\nstill trying\n"
           b"--b\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.org\n\n"
           b"Final-Recipient: rfc822; slow@example.org\nAction: delayed\nStatus: 4.4.7\n--b--\n")
    read = read_report(raw, BOUNCES)
    assert (read.kind, read.reports) == (DSN, [])
