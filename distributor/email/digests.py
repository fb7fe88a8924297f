"""Digests: what a digest list's next email holds, when it is due, and sending one now.

A digest takes the matching articles that arrived and that no earlier digest of the
list carried (digest_items), grouped by section in the list's order, newest first:
each article goes out once per list whatever its date and whenever it arrives. With
none it is recorded as skipped. Each scheduled run has a run key (the due time); the key is
unique per list, so two schedulers running at once plan one digest.

A list with local_time sends each edition at the schedule's hour in each reader's own
zone. The edition (one send, one content) is planned when the first zone's hour comes,
its batches cut per zone and each held until its zone's hour: a reader is in one batch
of one send per edition, so no DST change gives anyone two or none.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from distributor.audience.lists import get_list
from distributor.config import Settings
from distributor.email.compose import compile_digest
from distributor.errors import InvalidInput, Unavailable
from distributor.outbox import wake
from distributor.outbox.plan import plan_send, sections_match, zones
from distributor.states import SendState, SubscriptionStatus
from distributor.store import Article, Database, DigestItem, MailingList, Send, Subscription

MISSED_RUN_WINDOW = timedelta(hours=6)  # after downtime, a run older than this is not sent
# Clocks on Earth differ by up to 26 h (UTC-12 to UTC+14): how far a local-time edition
# reaches before and after its hour in the list's zone.
CLOCK_SPREAD = timedelta(hours=26)


def _cron(mailing_list: MailingList, at: datetime) -> croniter:
    return croniter(mailing_list.schedule, at.astimezone(ZoneInfo(mailing_list.timezone)))


def next_run(mailing_list: MailingList, after: datetime) -> datetime:
    """The next scheduled time after `after`, in UTC (the cron runs in the list's zone)."""
    return _cron(mailing_list, after).get_next(datetime).astimezone(UTC)


def last_due(mailing_list: MailingList, now: datetime) -> datetime:
    """The latest scheduled time at or before `now`, in UTC."""
    return _cron(mailing_list, now + timedelta(seconds=1)).get_prev(datetime).astimezone(UTC)


def same_clock(when: datetime, from_zone: str, to_zone: str) -> datetime:
    """The moment (UTC) when clocks in `to_zone` read what clocks in `from_zone` read at
    `when`. A time a DST change skips comes an hour later; one it repeats, the first
    time. An unknown zone reads as `from_zone`."""
    wall = when.astimezone(ZoneInfo(from_zone)).replace(tzinfo=None)
    try:
        zone = ZoneInfo(to_zone)
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo(from_zone)
    return wall.replace(tzinfo=zone).astimezone(UTC)


def _edition_due(session: Session, mailing_list: MailingList, now: datetime
                 ) -> datetime | None:
    """A local-time list: the edition (its time in the list's zone) whose first reader's
    hour has come, that its last reader's hour has not left behind by more than the
    missed-run window, and that is not planned yet."""
    present = zones(session, mailing_list) or {mailing_list.timezone}
    cron = _cron(mailing_list, now - MISSED_RUN_WINDOW - CLOCK_SPREAD)
    for _ in range(200):  # local-time schedules run at most hourly (lists.py checks)
        when = cron.get_next(datetime).astimezone(UTC)
        if when > now + CLOCK_SPREAD:
            return None
        hours = [same_clock(when, mailing_list.timezone, zone) for zone in present]
        if (min(hours) <= now and now - max(hours) <= MISSED_RUN_WINDOW
                and min(hours) >= mailing_list.created_at
                and not _planned(session, mailing_list, when)):
            return when
    return None


def _planned(session: Session, mailing_list: MailingList, when: datetime) -> bool:
    return session.scalar(select(Send.id).where(
        Send.list_id == mailing_list.id, Send.run_key == run_key(when))) is not None


def due_lists(db: Database, now: datetime) -> list[tuple[str, datetime]]:
    """Digest lists whose latest scheduled time has come and has no digest yet."""
    due = []
    with db.session() as session:
        for mailing_list in session.scalars(select(MailingList).where(
                MailingList.kind == "digest")):
            if mailing_list.local_time:
                when = _edition_due(session, mailing_list, now)
                if when is not None:
                    due.append((mailing_list.name, when))
                continue
            when = last_due(mailing_list, now)
            if when < mailing_list.created_at or now - when > MISSED_RUN_WINDOW:
                continue
            if not _planned(session, mailing_list, when):
                due.append((mailing_list.name, when))
    return due


def run_key(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")


def previous_until(session: Session, mailing_list: MailingList) -> datetime:
    last = session.scalar(select(func.max(Send.until)).where(
        Send.list_id == mailing_list.id, Send.kind == "digest",
        Send.state != SendState.FAILED))
    return last or mailing_list.created_at


def carried(list_id: int):
    """The ids of the articles the list's digests carried (a failed send carried none)."""
    return (select(DigestItem.article_id).join(Send, Send.id == DigestItem.send_id)
            .where(DigestItem.list_id == list_id, Send.state != SendState.FAILED))


def digest_articles(session: Session, mailing_list: MailingList, first_window: float,
                    since: datetime | None = None) -> list[Article]:
    """What the list's next digest carries, newest first. By default: every matching
    article that arrived since the list began (less `first_window`, so a new list's
    first digest is not empty) and that no earlier digest of the list carried; the
    order and the dates articles arrive with do not matter. With `since` (by hand):
    what was published after that time, carried before or not."""
    query = select(Article)
    if since is not None:
        query = query.where(Article.published_at > since)
    else:
        floor = mailing_list.created_at - timedelta(seconds=first_window)
        query = query.where(Article.created_at > floor,
                            Article.id.not_in(carried(mailing_list.id)))
    articles = session.scalars(
        query.order_by(Article.published_at.desc(), Article.id.desc())).all()
    return [a for a in articles if sections_match(mailing_list.sections, a.section)]


@dataclass
class DigestResult:
    list_name: str
    state: str  # planned | skipped | duplicate | dry-run
    enqueued: bool = False  # its batches were handed to the workers (else the sweeper will)
    send_id: int | None = None
    articles: int = 0
    recipients: int = 0
    since: datetime | None = None
    until: datetime | None = None

    def as_dict(self) -> dict:
        return {"list": self.list_name, "state": self.state, "send_id": self.send_id,
                "articles": self.articles, "recipients": self.recipients}


def trigger_digest(db: Database, settings: Settings, list_name: str, *,
                   since: datetime | None = None, scheduled_for: datetime | None = None,
                   dry_run: bool = False, now: datetime | None = None) -> DigestResult:
    """Plan a digest for `list_name` (or, with dry_run, render it once and count)."""
    now = now or datetime.now(UTC)
    key = run_key(scheduled_for) if scheduled_for else f"manual-{uuid.uuid4().hex[:16]}"
    try:
        with db.session() as session:
            mailing_list = get_list(session, list_name)
            if mailing_list.kind != "digest":
                raise InvalidInput(f"{list_name!r} is an instant list, not a digest list",
                                   {"list": "not a digest list"})
            # One digest of a list is planned at a time (PostgreSQL; SQLite writes one by one).
            session.execute(select(MailingList.id).where(MailingList.id == mailing_list.id)
                            .with_for_update())
            articles = digest_articles(session, mailing_list, settings.first_digest_window,
                                       since)
            since = since or previous_until(session, mailing_list)
            result = DigestResult(list_name, SendState.PLANNED, articles=len(articles),
                                  since=since, until=now)
            if dry_run:
                result.state = "dry-run"
                result.recipients = session.scalar(select(func.count()).where(
                    Subscription.list_id == mailing_list.id,
                    Subscription.status == SubscriptionStatus.ACTIVE)) or 0
                if articles:
                    compile_digest(settings, mailing_list, articles, now, message_key="dry-run")
                session.rollback()
                return result
            if not articles:
                send = Send(kind="digest", list_id=mailing_list.id, state=SendState.SKIPPED,
                            since=since, until=now, run_key=key, finished_at=now)
                session.add(send)
                session.flush()
                result.state, result.send_id = SendState.SKIPPED, send.id
                return result
            release = None
            if mailing_list.local_time and scheduled_for is not None:
                def release(zone: str) -> datetime | None:
                    hour = same_clock(scheduled_for, mailing_list.timezone, zone)
                    return hour if hour > now else None
            send = plan_send(session, mailing_list, "digest", settings.batch_size,
                             since=since, until=now, article_ids=[a.id for a in articles],
                             run_key=key, release=release)
            session.add_all(DigestItem(send_id=send.id, list_id=mailing_list.id,
                                       article_id=article.id) for article in articles)
            mailing_list.last_digest_at = now
            session.flush()
            result.send_id, result.recipients = send.id, send.planned
            return result
    except IntegrityError:
        return DigestResult(list_name, "duplicate")


def send_now(db: Database, settings: Settings, dispatcher: wake.Dispatcher, list_name: str, *,
             since: datetime | None = None, scheduled_for: datetime | None = None,
             dry_run: bool = False) -> DigestResult:
    """Plan a digest and hand its batches to the workers: what the CLI, the API, the
    dashboard and the schedule all call. A broker that does not answer loses nothing:
    the batches are planned in the database and the sweeper enqueues them."""
    result = trigger_digest(db, settings, list_name, since=since, scheduled_for=scheduled_for,
                            dry_run=dry_run)
    if result.state == SendState.PLANNED:
        try:
            wake.enqueue_send(db, dispatcher, result.send_id, datetime.now(UTC))
            result.enqueued = True
        except Unavailable:
            result.enqueued = False
    return result
