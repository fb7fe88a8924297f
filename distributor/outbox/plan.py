"""Fan-out planning: the outbox rows (channel posts, sends cut into batches)
written in the same transaction as the article or digest trigger."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, func, or_, select, text, update
from sqlalchemy.orm import Session

from distributor.config import Settings
from distributor.states import SEND_ENDED, BatchState, PostState, SendState, SubscriptionStatus
from distributor.store import Article, Batch, ChannelPost, MailingList, Send, Subscriber, Subscription
from distributor.store.tables import UTCDateTime

# A reader who paused (the preference centre) is planned into no send until the pause ends.
_UNPAUSED = "(subscriptions.paused_until IS NULL OR subscriptions.paused_until <= :now)"

_BOUNDS = text("""
    SELECT subscriber_id, rn, total FROM (
        SELECT subscriber_id,
               row_number() OVER (ORDER BY subscriber_id) AS rn,
               count(*) OVER () AS total
        FROM subscriptions WHERE list_id = :list_id AND status = 'active' AND """ + _UNPAUSED + """
    ) ranked
    WHERE (rn - 1) % :size = 0 OR rn % :size = 0 OR rn = total
    ORDER BY subscriber_id
""").bindparams(bindparam("now", type_=UTCDateTime))

# The same per time zone (the subscriber's, else the list's): each range holds one zone.
_ZONE_BOUNDS = text("""
    SELECT zone, subscriber_id, rn, total FROM (
        SELECT COALESCE(subscribers.timezone, :list_zone) AS zone, subscriber_id,
               row_number() OVER (PARTITION BY COALESCE(subscribers.timezone, :list_zone)
                                  ORDER BY subscriber_id) AS rn,
               count(*) OVER (PARTITION BY COALESCE(subscribers.timezone, :list_zone)) AS total
        FROM subscriptions JOIN subscribers ON subscribers.id = subscriptions.subscriber_id
        WHERE list_id = :list_id AND status = 'active' AND """ + _UNPAUSED + """
    ) ranked
    WHERE (rn - 1) % :size = 0 OR rn % :size = 0 OR rn = total
    ORDER BY zone, subscriber_id
""").bindparams(bindparam("now", type_=UTCDateTime))


def sections_match(wanted: list[str], section: str | None) -> bool:
    """No filter takes everything; otherwise the section must match, ignoring case."""
    if not wanted:
        return True
    return section is not None and section.casefold() in {w.casefold() for w in wanted}



def batch_bounds(session: Session, list_id: int, size: int) -> tuple[list[tuple[int, int]], int]:
    """Keyset ranges [first, last] of about `size` active subscribers each, and their count.
    Only the range ends leave the database, never the whole id list. A reader who paused
    is not counted until the pause ends."""
    bounds: list[tuple[int, int]] = []
    first = total = 0
    params = {"list_id": list_id, "size": size, "now": datetime.now(UTC)}
    for subscriber_id, rn, total in session.execute(_BOUNDS, params):
        if (rn - 1) % size == 0:
            first = subscriber_id
        if rn % size == 0 or rn == total:
            bounds.append((first, subscriber_id))
    return bounds, total


def zone_batch_bounds(session: Session, mailing_list: MailingList, size: int
                      ) -> tuple[list[tuple[str, int, int]], int]:
    """(zone, first, last) ranges of about `size` active subscribers of one time zone
    each (a subscriber without one counts in the list's), and their count."""
    bounds: list[tuple[str, int, int]] = []
    first = count = 0
    params = {"list_id": mailing_list.id, "list_zone": mailing_list.timezone, "size": size,
              "now": datetime.now(UTC)}
    for zone, subscriber_id, rn, total in session.execute(_ZONE_BOUNDS, params):
        if (rn - 1) % size == 0:
            first = subscriber_id
        if rn % size == 0 or rn == total:
            bounds.append((zone, first, subscriber_id))
            count += rn - (rn - 1) // size * size
    return bounds, count


def zones(session: Session, mailing_list: MailingList) -> set[str]:
    """The time zones the list's active subscribers live in."""
    zone = func.coalesce(Subscriber.timezone, mailing_list.timezone)
    return set(session.scalars(
        select(zone).distinct().join(Subscription, Subscription.subscriber_id == Subscriber.id)
        .where(Subscription.list_id == mailing_list.id,
               Subscription.status == SubscriptionStatus.ACTIVE)))


def members(batch: Batch, list_timezone: str):
    """The condition on Subscriber rows that a batch covers."""
    covered = Subscriber.id.between(batch.first_id, batch.last_id)
    if batch.timezone is None:
        return covered
    return covered & (func.coalesce(Subscriber.timezone, list_timezone) == batch.timezone)


def plan_send(session: Session, mailing_list: MailingList, kind: str, batch_size: int,
              article_id: int | None = None, since: datetime | None = None,
              until: datetime | None = None, article_ids: list[int] | None = None,
              run_key: str | None = None, not_before: datetime | None = None,
              release: Callable[[str], datetime | None] | None = None) -> Send:
    """A send cut into batches, held until `not_before`; with `release`, one set of
    batches per time zone, each held until release(zone) (a reader's own hour)."""
    send = Send(kind=kind, list_id=mailing_list.id, article_id=article_id, since=since,
                until=until, article_ids=article_ids or [], state=SendState.PLANNED,
                run_key=run_key)
    session.add(send)
    session.flush()
    if release is None:
        ranges, total = batch_bounds(session, mailing_list.id, batch_size)
        batches = [Batch(send_id=send.id, first_id=first, last_id=last,
                         next_attempt_at=not_before) for first, last in ranges]
    else:
        zoned, total = zone_batch_bounds(session, mailing_list, batch_size)
        batches = [Batch(send_id=send.id, first_id=first, last_id=last, timezone=zone,
                         next_attempt_at=release(zone)) for zone, first, last in zoned]
    send.planned = total
    if not batches:
        send.state = SendState.DONE
    session.add_all(batches)
    return send


def quiet_until(mailing_list: MailingList, at: datetime) -> datetime | None:
    """When the list's quiet hours that `at` falls in end (UTC); None outside them."""
    if not mailing_list.quiet:
        return None
    start, end = (time.fromisoformat(part) for part in mailing_list.quiet.split("-"))
    local = at.astimezone(ZoneInfo(mailing_list.timezone))
    now = local.time().replace(tzinfo=None)
    inside = start <= now < end if start < end else (now >= start or now < end)
    if not inside:
        return None
    day = local.date() + timedelta(days=1 if end <= now else 0)
    return datetime.combine(day, end, tzinfo=local.tzinfo).astimezone(UTC)


def alert_due(mailing_list: MailingList, published_at: datetime, breaking: bool = False
              ) -> datetime:
    """When an alert of an article published then is meant to go: at once, or at the
    end of the list's quiet hours (breaking news does not wait)."""
    if breaking:
        return published_at
    return quiet_until(mailing_list, published_at) or published_at


def plan_article(session: Session, article: Article, settings: Settings,
                 now: datetime, breaking: bool = False) -> None:
    """One post per matching channel, one alert send per matching instant list. An
    article published in the future (an embargo) is planned now and held until then;
    an alert to a list in its quiet hours is held until they end. Held rows carry the
    time in next_attempt_at, which wake.release honours."""
    at = max(article.published_at, now)
    not_before = at if article.published_at > now else None
    for channel in settings.channels:
        if sections_match(channel.sections, article.section):
            session.add(ChannelPost(article_id=article.id, channel=channel.name,
                                    next_attempt_at=not_before))
    instant = session.scalars(select(MailingList).where(MailingList.kind == "instant"))
    for mailing_list in instant:
        if sections_match(mailing_list.sections, article.section):
            due = alert_due(mailing_list, at, breaking)
            plan_send(session, mailing_list, "alert", settings.batch_size, article_id=article.id,
                      not_before=due if due > now else None)


def reschedule(session: Session, article: Article, when: datetime, now: datetime) -> bool:
    """Move an embargo that has not been released yet; False when something of the
    article has already been handed to the workers (then it stands)."""
    held = [ChannelPost.article_id == article.id, ChannelPost.enqueued_at.is_not(None)]
    if session.scalar(select(ChannelPost.id).where(*held).limit(1)) is not None:
        return False
    sends = select(Send.id).where(Send.article_id == article.id)
    if session.scalar(select(Batch.id).where(Batch.send_id.in_(sends),
                                             Batch.enqueued_at.is_not(None)).limit(1)):
        return False
    not_before = when if when > now else now
    article.published_at = when
    session.execute(update(ChannelPost).where(ChannelPost.article_id == article.id,
                                              ChannelPost.state == PostState.PLANNED)
                    .values(next_attempt_at=not_before))
    session.execute(update(Batch).where(Batch.send_id.in_(sends),
                                        Batch.state == BatchState.PLANNED)
                    .values(next_attempt_at=not_before))
    return True


def cancel(session: Session, article_id: int, why: str, now: datetime) -> tuple[int, int]:
    """Stop what of an article has not gone yet: posts not yet made, sends with their
    batches that no worker holds (a batch in flight finishes; its readers are in the
    ledger). Returns (posts, sends) cancelled."""
    posts = session.execute(
        update(ChannelPost).where(ChannelPost.article_id == article_id,
                                  ChannelPost.state.in_((PostState.PLANNED, PostState.RETRYING)))
        .values(state=PostState.CANCELLED, error=why, lease_until=None)).rowcount
    send_ids = list(session.scalars(select(Send.id).where(
        Send.article_id == article_id, Send.state.not_in(SEND_ENDED))))
    if send_ids:
        idle = or_(Batch.state.in_((BatchState.PLANNED, BatchState.PAUSED, BatchState.FAILED)),
                   (Batch.state == BatchState.RUNNING)
                   & or_(Batch.lease_until.is_(None), Batch.lease_until < now))
        session.execute(update(Batch).where(Batch.send_id.in_(send_ids), idle)
                        .values(state=BatchState.CANCELLED, error=why, lease_until=None))
        session.execute(update(Send).where(Send.id.in_(send_ids))
                        .values(state=SendState.CANCELLED, error=why, finished_at=now))
    return posts, len(send_ids)
