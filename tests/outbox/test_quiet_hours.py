"""Quiet hours: an alert planned inside a list's window waits for its end, in the
list's own time zone; breaking news does not wait; waiting does not make it stale."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from distributor.audience.lists import check_quiet, create_list
from distributor.audience.subscribers import add_subscriber
from distributor.email.batch import run_batch
from distributor.email.transport import open_transport
from distributor.errors import InvalidInput
from distributor.inbound.article import ingest
from distributor.outbox import wake
from distributor.outbox.plan import quiet_until
from distributor.outbox.wake import MemoryDispatcher
from distributor.states import Outcome
from distributor.store import Batch, Database, MailingList

# 23:00 in Kolkata (UTC+5:30) is 17:30 UTC; the window ends at 06:00 there, 00:30 UTC.
LATE_EVENING = datetime(2026, 11, 29, 17, 30, tzinfo=UTC)
MORNING = datetime(2026, 11, 30, 0, 30, tzinfo=UTC)


def kolkata(quiet: str) -> MailingList:
    return MailingList(name="x", kind="instant", timezone="Asia/Kolkata", quiet=quiet)


@pytest.mark.parametrize(("quiet", "at", "until"), [
    ("22:00-06:00", LATE_EVENING, MORNING),
    ("22:00-06:00", datetime(2026, 11, 29, 21, 0, tzinfo=UTC), MORNING),  # 02:30 there
    ("22:00-06:00", datetime(2026, 11, 29, 16, 29, tzinfo=UTC), None),  # 21:59 there
    ("22:00-06:00", MORNING, None),  # 06:00 sharp: over
    ("13:00-14:00", datetime(2026, 11, 29, 7, 45, tzinfo=UTC),
     datetime(2026, 11, 29, 8, 30, tzinfo=UTC)),
])
def test_the_window_is_read_in_the_lists_zone_and_may_run_past_midnight(quiet, at, until):
    assert quiet_until(kolkata(quiet), at) == until


@pytest.mark.parametrize("bad", ["22-06", "25:00-06:00", "10:00-10:00", "night"])
def test_a_malformed_window_is_refused(bad):
    with pytest.raises(InvalidInput, match="quiet"):
        check_quiet(bad)


@pytest.fixture()
def quiet_list(make_settings):
    settings = make_settings()
    db = Database(settings.database_url.get_secret_value())
    db.upgrade()
    create_list(db, "night", instant=True, timezone="Asia/Kolkata", quiet="22:00-06:00")
    add_subscriber(db, "a@example.com", "night")
    yield db, settings
    db.dispose()


def held_until(db) -> datetime | None:
    with db.session() as session:
        return session.scalar(select(Batch.next_attempt_at).order_by(Batch.id.desc()))


def test_an_alert_at_eleven_at_night_goes_at_six(quiet_list):
    db, settings = quiet_list
    ingest(db, settings, {"url": "https://n.example/late", "title": "Late",
                          "published_at": LATE_EVENING.isoformat()}, now=LATE_EVENING)
    assert held_until(db) == MORNING
    dispatcher = MemoryDispatcher()
    assert wake.release(db, dispatcher, MORNING - timedelta(minutes=1)) == (0, 0)
    assert wake.release(db, dispatcher, MORNING) == (0, 1)
    # Seven hours after publication, but on time for its list: not stale (max_age 6h).
    transport = open_transport(settings.smtp_url.get_secret_value())
    batch_id = dispatcher.ids("email.send_batch")[0]
    result = run_batch(db, settings, transport, batch_id, now=MORNING + timedelta(minutes=1))
    assert (result.state, result.sent) == (Outcome.DONE, 1)


def test_breaking_news_goes_through_quiet_hours(quiet_list):
    db, settings = quiet_list
    ingest(db, settings, {"url": "https://n.example/war", "title": "Breaking",
                          "priority": "breaking", "published_at": LATE_EVENING.isoformat()},
           now=LATE_EVENING)
    assert held_until(db) is None
