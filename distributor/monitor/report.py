"""What a list did over a period: sends, delivery, bounces, clicks over time, the
articles readers clicked most, and how instant lists compare with digests.
`distributor report list NAME --since 7d` and the dashboard's list page show it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from distributor.audience.lists import get_list
from distributor.audience.tracking import CLICK, OFF, OPEN, PER_SUBSCRIBER
from distributor.errors import InvalidInput
from distributor.states import DeliveryState, SendState
from distributor.store import (
    Article,
    Database,
    Delivery,
    MailingList,
    ReaderEvent,
    Send,
    SendTotal,
)
from distributor.values import parse_duration

TOP_ARTICLES = 10
FIGURES = (DeliveryState.SENT, DeliveryState.FAILED, DeliveryState.BOUNCED)  # per day
MAX_DAYS = 366


def parse_since(value: str, now: datetime) -> datetime:
    """'7d', '12h' -> that long before now; at most a year."""
    try:
        seconds = parse_duration(value)
    except ValueError as exc:
        raise InvalidInput(f"since: {exc}", {"since": str(exc)}) from None
    if not 0 < seconds <= MAX_DAYS * 86400:
        raise InvalidInput("since: between 1s and 366d", {"since": "between 1s and 366d"})
    return now - timedelta(seconds=seconds)


def _day(session: Session, column):
    """The UTC calendar day of a timestamp, as 'YYYY-MM-DD', on either database."""
    if session.get_bind().dialect.name == "postgresql":
        return func.to_char(func.timezone("UTC", column), "YYYY-MM-DD")
    return func.strftime("%Y-%m-%d", column)


def _days(since: datetime, until: datetime) -> list[str]:
    first, last = since.astimezone(UTC).date(), until.astimezone(UTC).date()
    return [(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]


def _delivery_by_day(session: Session, sends) -> dict[tuple[str, str], int]:
    """(day of the send, state) -> readers, with the rolled-up ledger rows too."""
    day = _day(session, Send.created_at)
    rows = session.execute(select(day, Delivery.state, func.count())
                           .join(Send, Send.id == Delivery.send_id)
                           .where(Send.id.in_(sends)).group_by(day, Delivery.state)).all()
    rolled = session.execute(select(day, SendTotal.state, func.sum(SendTotal.count))
                             .join(Send, Send.id == SendTotal.send_id)
                             .where(Send.id.in_(sends)).group_by(day, SendTotal.state)).all()
    counts: dict[tuple[str, str], int] = {}
    for d, state, n in [*rows, *rolled]:
        counts[(d, state)] = counts.get((d, state), 0) + int(n or 0)
    return counts


def _events(session: Session, where) -> dict[tuple[str, str], int]:
    day = _day(session, ReaderEvent.at)
    return {(d, kind): n for d, kind, n in session.execute(
        select(day, ReaderEvent.kind, func.count()).where(*where)
        .group_by(day, ReaderEvent.kind))}


def list_report(db: Database, list_name: str, since: datetime,
                now: datetime | None = None) -> dict:
    now = now or datetime.now(UTC)
    with db.session() as session:
        mailing_list = get_list(session, list_name)
        sends = select(Send.id).where(Send.list_id == mailing_list.id, Send.created_at >= since,
                                      Send.state != SendState.SKIPPED)
        editions = session.scalar(select(func.count()).select_from(sends.subquery()))
        delivery = _delivery_by_day(session, sends)
        events = _events(session, (ReaderEvent.list_id == mailing_list.id,
                                   ReaderEvent.at >= since))
        by_day = [{"day": d, **{str(s): delivery.get((d, s), 0) for s in FIGURES},
                   "clicks": events.get((d, CLICK), 0),
                   "opens": events.get((d, OPEN), 0)} for d in _days(since, now)]
        totals = {key: sum(row[key] for row in by_day)
                  for key in (*map(str, FIGURES), "clicks", "opens")}
        sent = totals[DeliveryState.SENT]
        clickers = None
        if mailing_list.tracking == PER_SUBSCRIBER:
            clickers = session.scalar(select(func.count(ReaderEvent.subscriber_id.distinct()))
                                      .where(ReaderEvent.list_id == mailing_list.id,
                                             ReaderEvent.kind == CLICK,
                                             ReaderEvent.at >= since))
        top = session.execute(
            select(Article.title, Article.url, func.count().label("clicks"))
            .join(ReaderEvent, ReaderEvent.article_id == Article.id)
            .where(ReaderEvent.list_id == mailing_list.id, ReaderEvent.kind == CLICK,
                   ReaderEvent.at >= since)
            .group_by(Article.id, Article.title, Article.url)
            .order_by(func.count().desc(), Article.id.desc()).limit(TOP_ARTICLES)).all()
        return {
            "list": mailing_list.name, "kind": mailing_list.kind,
            "tracking": mailing_list.tracking, "opens_counted": mailing_list.track_opens,
            "since": since.isoformat(), "until": now.isoformat(),
            "editions": editions, **totals, "unique_clickers": clickers,
            "click_rate": round(totals["clicks"] / sent, 4) if sent else None,
            "by_day": by_day,
            "top_articles": [{"title": t, "url": u, "clicks": c} for t, u, c in top],
            "compare": kind_comparison(session, since),
        }


def kind_comparison(session: Session, since: datetime) -> dict[str, dict]:
    """Instant lists against digest lists: readers reached and clicks, over tracked lists."""
    tracked = select(MailingList.id).where(MailingList.tracking != OFF)
    result = {}
    for kind in ("instant", "digest"):
        lists = tracked.where(MailingList.kind == kind)
        sent = session.scalar(
            select(func.count()).select_from(Delivery).join(Send, Send.id == Delivery.send_id)
            .where(Send.list_id.in_(lists), Send.created_at >= since,
                   Delivery.state == DeliveryState.SENT)) or 0
        clicks = session.scalar(select(func.count()).select_from(ReaderEvent).where(
            ReaderEvent.list_id.in_(lists), ReaderEvent.kind == CLICK,
            ReaderEvent.at >= since)) or 0
        result[kind] = {"sent": sent, "clicks": clicks,
                        "click_rate": round(clicks / sent, 4) if sent else None}
    return result


def article_clicks(db: Database, guid: str) -> list[dict]:
    """Clicks on one article per list and channel (the dashboard's article page)."""
    with db.session() as session:
        article_id = select(Article.id).where(Article.guid == guid).scalar_subquery()
        rows = session.execute(
            select(MailingList.name, ReaderEvent.channel, func.count())
            .outerjoin(MailingList, MailingList.id == ReaderEvent.list_id)
            .where(ReaderEvent.article_id == article_id, ReaderEvent.kind == CLICK)
            .group_by(MailingList.name, ReaderEvent.channel)
            .order_by(func.count().desc())).all()
    return [{"list": name, "channel": channel, "clicks": n} for name, channel, n in rows]
