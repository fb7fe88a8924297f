"""Digests: schedules in the list's own time zone, content, grouping, skipping, run keys."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from distributor.audience.lists import create_list
from distributor.audience.subscribers import add_subscriber
from distributor.email.digests import due_lists, last_due, next_run, trigger_digest
from distributor.inbound.article import ingest
from distributor.store import MailingList, Send


def test_a_list_at_seven_in_kolkata_is_due_at_half_past_one_utc(db):
    create_list(db, "daily", instant=False, schedule="0 7 * * *", timezone="Asia/Kolkata")
    with db.session() as session:
        daily = session.scalar(select(MailingList))
    after = datetime(2026, 11, 29, 0, 0, tzinfo=UTC)
    assert next_run(daily, after) == datetime(2026, 11, 29, 1, 30, tzinfo=UTC)
    assert last_due(daily, datetime(2026, 11, 29, 1, 30, tzinfo=UTC)) == \
        datetime(2026, 11, 29, 1, 30, tzinfo=UTC)
    assert last_due(daily, datetime(2026, 11, 29, 1, 29, tzinfo=UTC)) == \
        datetime(2026, 11, 28, 1, 30, tzinfo=UTC)


def test_a_list_is_due_once_per_scheduled_time(db, make_settings):
    settings = make_settings()
    create_list(db, "daily", instant=False, schedule="0 7 * * *", timezone="Asia/Kolkata")
    add_subscriber(db, "a@example.com", "daily")
    with db.session() as session:
        session.execute(update(MailingList).values(
            created_at=datetime(2026, 11, 1, tzinfo=UTC)))
    ingest(db, settings, {"url": "https://n.example/1", "title": "One",
                          "published_at": "2026-11-28T12:00:00Z"})
    now = datetime(2026, 11, 29, 1, 31, tzinfo=UTC)
    due = due_lists(db, now)
    assert due == [("daily", datetime(2026, 11, 29, 1, 30, tzinfo=UTC))]

    first = trigger_digest(db, settings, "daily", scheduled_for=due[0][1], now=now)
    second = trigger_digest(db, settings, "daily", scheduled_for=due[0][1], now=now)
    assert (first.state, second.state) == ("planned", "duplicate")
    assert due_lists(db, now) == []
    assert due_lists(db, now + timedelta(hours=7)) == []  # a missed run is not sent late


def test_a_digest_holds_what_is_new_and_the_next_one_is_skipped(db, make_settings):
    settings = make_settings()
    create_list(db, "asia", instant=False, schedule="0 7 * * *",
                sections=["South Asia and Beyond", "Defence"])
    add_subscriber(db, "a@example.com", "asia")
    with db.session() as session:
        session.execute(update(MailingList).values(created_at=datetime(2026, 1, 1, tzinfo=UTC)))
    for n, section in enumerate(["South Asia and Beyond", "Defence", "Business"]):
        ingest(db, settings, {"url": f"https://n.example/{n}", "title": f"Story {n}",
                              "section": section, "published_at": f"2026-11-2{n}T10:00:00Z"})
    first = trigger_digest(db, settings, "asia")
    assert first.state == "planned" and first.articles == 2 and first.recipients == 1
    second = trigger_digest(db, settings, "asia")
    assert second.state == "skipped" and second.articles == 0
    with db.session() as session:
        states = [s.state for s in session.scalars(select(Send).order_by(Send.id))]
    assert states == ["planned", "skipped"]


def test_a_dry_run_renders_and_counts_but_stores_nothing(db, make_settings):
    settings = make_settings()
    create_list(db, "daily", instant=False, schedule="0 7 * * *")
    add_subscriber(db, "a@example.com", "daily")
    ingest(db, settings, {"url": "https://n.example/1", "title": "One"})
    result = trigger_digest(db, settings, "daily", since=datetime(2000, 1, 1, tzinfo=UTC),
                            dry_run=True)
    assert (result.state, result.articles, result.recipients) == ("dry-run", 1, 1)
    with db.session() as session:
        assert session.scalar(select(Send)) is None


def test_an_instant_list_has_no_digest(db, make_settings):
    import pytest

    from distributor.errors import InvalidInput

    create_list(db, "breaking", instant=True)
    with pytest.raises(InvalidInput, match="instant"):
        trigger_digest(db, make_settings(), "breaking")
