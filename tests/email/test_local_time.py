"""Each reader's morning: a local-time digest list sends each edition at the schedule's
hour in every subscriber's own zone, one send per edition, batches released zone by
zone, and across a DST change nobody gets an edition twice or misses one. Counted at a
real SMTP server; the clock is the test's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from distributor.audience.lists import create_list, update_list
from distributor.audience.subscribers import add_subscriber
from distributor.email.batch import run_batch
from distributor.email.digests import due_lists, same_clock, trigger_digest
from distributor.email.transport import open_transport
from distributor.errors import InvalidInput
from distributor.inbound.article import ingest
from distributor.outbox import wake
from distributor.store import Batch, Database, MailingList, Send
from tests.conftest import new_database_url
from tests.peers import SMTPServer

READERS = {  # address: zone (None: the list's, Asia/Kolkata)
    "kolkata@example.com": None,
    "auckland@example.com": "Pacific/Auckland",
    "london@example.com": "Europe/London",
    "newyork@example.com": "America/New_York",
    "losangeles@example.com": "America/Los_Angeles",
}


@pytest.fixture()
def server():
    with SMTPServer() as smtp:
        yield smtp


@pytest.fixture()
def created():
    """When the test's list was made (its first edition is the first after that)."""
    return datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture()
def stack(backend, postgres, tmp_path, make_settings, server, created):
    url = new_database_url(backend, postgres, tmp_path)
    settings = make_settings(database_url=url, smtp_url=server.url)
    db = Database(url)
    db.upgrade()
    create_list(db, "morning", instant=False, schedule="0 7 * * *", timezone="Asia/Kolkata",
                local_time=True)
    for email, zone in READERS.items():
        add_subscriber(db, email, "morning", timezone=zone)
    with db.session() as session:
        session.execute(update(MailingList).values(created_at=created))
    yield settings, db
    db.dispose()


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


class Run:
    """Beat and workers by hand: release what is due, send each released batch."""

    def __init__(self, settings, db: Database):
        self.settings, self.db = settings, db
        self.transport = open_transport(settings.smtp_url.get_secret_value(), 10)
        self.dispatcher = wake.MemoryDispatcher()

    def tick(self, now: datetime) -> None:
        for name, when in due_lists(self.db, now):
            result = trigger_digest(self.db, self.settings, name, scheduled_for=when, now=now)
            if result.send_id:
                wake.enqueue_send(self.db, self.dispatcher, result.send_id, now)
        wake.release(self.db, self.dispatcher, now)
        for batch_id in self.dispatcher.ids("email.send_batch"):
            run_batch(self.db, self.settings, self.transport, batch_id, now=now)
        self.dispatcher.calls.clear()


@pytest.mark.parametrize("created", [datetime(2026, 11, 30, 12, tzinfo=UTC)])
def test_an_edition_reaches_each_reader_at_seven_in_their_own_zone(stack, server):
    settings, db = stack
    ingest(db, settings, {"url": "https://n.example/1", "title": "Overnight in Delhi"})
    run = Run(settings, db)
    edition = utc(2026, 12, 1, 1, 30)  # 07:00 in Kolkata
    # 07:00 in Auckland (NZDT, +13), Kolkata (+5:30), London (+0), New York (EST, -5),
    # Los Angeles (PST, -8)
    hours = {"auckland@example.com": utc(2026, 11, 30, 18, 0),
             "kolkata@example.com": edition,
             "london@example.com": utc(2026, 12, 1, 7, 0),
             "newyork@example.com": utc(2026, 12, 1, 12, 0),
             "losangeles@example.com": utc(2026, 12, 1, 15, 0)}
    assert due_lists(db, hours["auckland@example.com"] - timedelta(minutes=1)) == []
    for email, hour in sorted(hours.items(), key=lambda item: item[1]):
        run.tick(hour - timedelta(minutes=1))
        assert server.handler.counts([email]) == {email: 0}, f"{email} before 07:00"
        run.tick(hour)
        assert server.handler.counts([email]) == {email: 1}, f"{email} at 07:00"
    run.tick(utc(2026, 12, 1, 17, 0))  # before the next edition starts in Auckland
    assert server.handler.counts(READERS) == dict.fromkeys(READERS, 1)
    with db.session() as session:  # one edition: one send, its content chosen once
        sends = session.scalars(select(Send)).all()
        zones = sorted(session.scalars(select(Batch.timezone)))
    assert [(s.kind, s.run_key, s.planned) for s in sends] == \
        [("digest", "2026-12-01T01:30Z", 5)]
    assert zones == ["America/Los_Angeles", "America/New_York", "Asia/Kolkata",
                     "Europe/London", "Pacific/Auckland"]


def test_across_a_dst_change_each_reader_gets_each_edition_once(stack, server):
    """New York springs forward on 2027-03-14, London on 2027-03-28: a week of editions
    on either side, ticked every 15 minutes, gives each reader one email a day."""
    settings, db = stack
    run = Run(settings, db)
    start = utc(2027, 3, 10, 0, 0)
    days = 0
    for quarter in range(4 * 24 * 21):  # three weeks
        now = start + timedelta(minutes=15 * quarter)
        if quarter == 0 or (now.hour, now.minute) == (12, 0):  # news before each edition
            ingest(db, settings, {"url": f"https://n.example/{days}", "title": f"Day {days}"})
            days += 1
        run.tick(now)
    with db.session() as session:
        editions = session.scalar(select(func.count(Send.id)))
        hours = {zone: set() for zone in ("America/New_York", "Europe/London")}
        for zone, at in session.execute(select(Batch.timezone, Batch.next_attempt_at)
                                        .where(Batch.timezone.in_(hours))):
            hours[zone].add(at.hour)
    # Mar 10 to Mar 31: Auckland's 07:00 of Mar 31 is Mar 30 18:00 UTC, inside the run.
    assert editions == 22
    assert server.handler.counts(READERS) == {
        "kolkata@example.com": 21, "auckland@example.com": 22, "london@example.com": 21,
        "newyork@example.com": 21, "losangeles@example.com": 21}
    # 07:00 local before and after each change: EST/EDT, GMT/BST.
    assert hours == {"America/New_York": {12, 11}, "Europe/London": {7, 6}}


def test_a_time_the_clock_skips_comes_an_hour_later_and_a_repeated_one_once():
    # 02:30 does not exist in New York on 2027-03-14: 03:30 EDT (07:30 UTC).
    assert same_clock(utc(2027, 3, 14, 2, 30), "UTC", "America/New_York") == \
        utc(2027, 3, 14, 7, 30)
    # 01:30 happens twice on 2026-11-01: the first (EDT, 05:30 UTC).
    assert same_clock(utc(2026, 11, 1, 1, 30), "UTC", "America/New_York") == \
        utc(2026, 11, 1, 5, 30)
    # An unknown stored zone reads as the list's.
    assert same_clock(utc(2026, 12, 1, 1, 30), "Asia/Kolkata", "Mars/Olympus") == \
        utc(2026, 12, 1, 1, 30)


def test_local_time_needs_a_digest_schedule_that_runs_at_most_hourly(db):
    with pytest.raises(InvalidInput, match="local_time"):
        create_list(db, "alerts", instant=True, local_time=True)
    with pytest.raises(InvalidInput, match="more often than hourly"):
        create_list(db, "busy", instant=False, schedule="*/10 * * * *", local_time=True)
    create_list(db, "daily", instant=False, schedule="0 7 * * *")
    with pytest.raises(InvalidInput, match="more often than hourly"):
        update_list(db, "daily", schedule="*/5 * * * *", local_time=True)
    assert update_list(db, "daily", local_time=True).local_time


def test_a_subscriber_time_zone_is_checked(db):
    create_list(db, "daily", instant=False, schedule="0 7 * * *")
    with pytest.raises(InvalidInput, match="timezone"):
        add_subscriber(db, "a@example.com", "daily", timezone="Mars/Olympus")
    assert add_subscriber(db, "a@example.com", "daily", timezone="Asia/Tokyo").outcome == "added"
    assert add_subscriber(db, "a@example.com", "daily",
                          timezone="Europe/Paris").outcome == "time zone set"
