"""Digests: what a digest list's next email holds, when it is due, and sending one now.

A digest takes the articles published since the list's previous digest that match
its sections, grouped by section in the list's order, newest first. With none it
is recorded as skipped. Each scheduled run has a run key (the due time); the key is
unique per list, so two schedulers running at once plan one digest.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from croniter import croniter
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from distributor.audience.lists import get_list
from distributor.config import Settings
from distributor.email.compose import compile_digest
from distributor.errors import InvalidInput, Unavailable
from distributor.outbox import wake
from distributor.outbox.plan import plan_send, sections_match
from distributor.states import SendState, SubscriptionStatus
from distributor.store import Article, Database, MailingList, Send, Subscription

MISSED_RUN_WINDOW = timedelta(hours=6)  # after downtime, a run older than this is not sent


def _cron(mailing_list: MailingList, at: datetime) -> croniter:
    return croniter(mailing_list.schedule, at.astimezone(ZoneInfo(mailing_list.timezone)))


def next_run(mailing_list: MailingList, after: datetime) -> datetime:
    """The next scheduled time after `after`, in UTC (the cron runs in the list's zone)."""
    return _cron(mailing_list, after).get_next(datetime).astimezone(UTC)


def last_due(mailing_list: MailingList, now: datetime) -> datetime:
    """The latest scheduled time at or before `now`, in UTC."""
    return _cron(mailing_list, now + timedelta(seconds=1)).get_prev(datetime).astimezone(UTC)


def due_lists(db: Database, now: datetime) -> list[tuple[str, datetime]]:
    """Digest lists whose latest scheduled time has come and has no digest yet."""
    due = []
    with db.session() as session:
        for mailing_list in session.scalars(select(MailingList).where(
                MailingList.kind == "digest")):
            when = last_due(mailing_list, now)
            if when < mailing_list.created_at or now - when > MISSED_RUN_WINDOW:
                continue
            taken = session.scalar(select(Send.id).where(
                Send.list_id == mailing_list.id, Send.run_key == run_key(when)))
            if taken is None:
                due.append((mailing_list.name, when))
    return due


def run_key(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")


def previous_until(session: Session, mailing_list: MailingList) -> datetime:
    last = session.scalar(select(func.max(Send.until)).where(
        Send.list_id == mailing_list.id, Send.kind == "digest",
        Send.state != SendState.FAILED))
    return last or mailing_list.created_at


def digest_articles(session: Session, mailing_list: MailingList, since: datetime,
                    until: datetime) -> list[Article]:
    articles = session.scalars(
        select(Article).where(Article.published_at > since, Article.published_at <= until)
        .order_by(Article.published_at.desc(), Article.id.desc())).all()
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
            since = since or previous_until(session, mailing_list)
            articles = digest_articles(session, mailing_list, since, now)
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
            send = plan_send(session, mailing_list, "digest", settings.batch_size,
                             since=since, until=now, article_ids=[a.id for a in articles],
                             run_key=key)
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
