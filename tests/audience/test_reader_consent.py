"""The reader decides: whoever unsubscribed comes back only when they, or an operator who
says so, ask; the public form never renames or re-activates anyone; a confirmation goes
at most once an hour; exports keep preferences and cannot carry a spreadsheet formula;
an Excel (Windows-1252) file is read as what it is."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from distributor.audience.bulk import decode_csv, export_csv, import_csv
from distributor.audience.lists import create_list
from distributor.audience.optin import confirm, request_subscription
from distributor.audience.subscribers import add_subscriber, remove_subscriber
from distributor.audience.tokens import confirm_token
from distributor.email.confirm import send_confirmation
from distributor.email.transport import open_transport
from distributor.errors import InvalidInput
from distributor.states import SubscriptionStatus
from distributor.store import Subscriber, Subscription
from tests.conftest import SECRET_KEY


def status(db, email: str) -> str | None:
    with db.session() as session:
        return session.scalar(select(Subscription.status).join(
            Subscriber, Subscriber.id == Subscription.subscriber_id)
            .where(Subscriber.email == email))


def test_an_operator_brings_back_who_unsubscribed_only_with_resubscribe(db):
    create_list(db, "daily", instant=True)
    add_subscriber(db, "asha@example.com", "daily")
    remove_subscriber(db, "asha@example.com", "daily")
    with pytest.raises(InvalidInput, match="resubscribe"):
        add_subscriber(db, "asha@example.com", "daily")
    assert status(db, "asha@example.com") == SubscriptionStatus.UNSUBSCRIBED
    again = add_subscriber(db, "asha@example.com", "daily", resubscribe=True)
    assert (again.outcome, again.subscription.status) == ("resubscribed", "active")
    assert add_subscriber(db, "asha@example.com", "daily").outcome == "already subscribed"


def test_an_erased_address_is_refused_not_reported_active(db):
    create_list(db, "daily", instant=True)
    add_subscriber(db, "gone@example.com", "daily")
    remove_subscriber(db, "gone@example.com", erase=True)
    with pytest.raises(InvalidInput, match="suppressed \\(erased\\)"):
        add_subscriber(db, "gone@example.com", "daily", resubscribe=True)


def test_the_public_form_never_renames_nor_reactivates(db):
    create_list(db, "daily", instant=True)  # single opt-in
    add_subscriber(db, "alice@example.com", "daily", name="Alice")
    remove_subscriber(db, "alice@example.com", "daily")
    pending = request_subscription(db, "alice@example.com", "daily",
                                   name="URGENT: verify your account")
    with db.session() as session:
        alice = session.scalar(select(Subscriber))
        assert alice.name == "Alice"
        token = confirm_token(SECRET_KEY, alice.id, session.scalar(
            select(Subscription.list_id)), alice.email)
    assert pending is not None  # a confirmation goes out ...
    assert status(db, "alice@example.com") == SubscriptionStatus.UNSUBSCRIBED  # ... nothing else
    assert confirm(db, SECRET_KEY, token) == "daily"  # her click brings her back
    assert status(db, "alice@example.com") == SubscriptionStatus.ACTIVE


def test_a_confirmation_goes_at_most_once_an_hour(db, make_settings, tmp_path):
    settings = make_settings()
    create_list(db, "weekly", instant=True, double_opt_in=True)
    subscription_id = request_subscription(db, "ravi@example.com", "weekly")
    transport = open_transport(f"maildir:{tmp_path / 'mail'}")
    now = datetime.now(UTC)
    assert send_confirmation(db, settings, transport, subscription_id, now)
    assert not send_confirmation(db, settings, transport, subscription_id,
                                 now + timedelta(minutes=59))
    assert send_confirmation(db, settings, transport, subscription_id, now + timedelta(hours=1))
    assert len(list((tmp_path / "mail" / "new").iterdir())) == 2


def test_export_keeps_sections_neutralises_formulas_and_imports_back_unchanged(db):
    create_list(db, "daily", instant=True)
    create_list(db, "asia", instant=True)
    add_subscriber(db, "a@example.com", "daily", name="=HYPERLINK(\"http://evil\")")
    add_subscriber(db, "a@example.com", "asia", sections=["Defence", "Economy"],
                   timezone="Asia/Kolkata")
    out = io.StringIO()
    export_csv(db, out)
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert rows[0] == ["email", "name", "lists", "sections", "timezone"]
    names = {row[1] for row in rows[1:]}
    assert names == {"'=HYPERLINK(\"http://evil\")"}  # a spreadsheet shows it as text
    assert ["a@example.com", "'=HYPERLINK(\"http://evil\")", "asia", "Defence;Economy",
            "Asia/Kolkata"] in rows
    report = import_csv(db, io.StringIO(out.getvalue()))
    assert (report.imported, report.unchanged, report.errors) == (0, 2, [])
    with db.session() as session:
        assert session.scalar(select(Subscriber.name)) == "=HYPERLINK(\"http://evil\")"


def test_an_unsubscribed_reader_in_an_import_is_counted_not_brought_back(db):
    create_list(db, "daily", instant=True)
    add_subscriber(db, "b@example.com", "daily")
    remove_subscriber(db, "b@example.com", "daily")
    report = import_csv(db, io.StringIO("email,name,lists\nb@example.com,B,daily\n"))
    assert (report.kept_unsubscribed, status(db, "b@example.com")) == (1, "unsubscribed")
    report = import_csv(db, io.StringIO("email,name,lists\nb@example.com,B,daily\n"),
                        resubscribe=True)
    assert (report.resubscribed, status(db, "b@example.com")) == (1, "active")


def test_an_excel_windows_1252_file_is_refused_with_what_to_do_or_read_as_told():
    excel = "email,name,lists\nm@example.com,Jürgen Müller – Köln,daily\n".encode("cp1252")
    with pytest.raises(InvalidInput, match="--encoding cp1252"):
        decode_csv(excel)
    text, charset = decode_csv(excel, "cp1252")
    assert "Jürgen Müller – Köln" in text and charset == "cp1252"
    assert decode_csv("\ufeffemail\n".encode()) == ("email\n", "utf-8")
    with pytest.raises(InvalidInput, match="not ascii: line 2"):
        decode_csv(excel, "ascii")
