"""Fan-out planning: the outbox rows (channel posts, sends cut into batches)
written in the same transaction as the article or digest trigger."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from distributor.config import Settings
from distributor.states import SendState
from distributor.store import Article, Batch, ChannelPost, MailingList, Send

_BOUNDS = text("""
    SELECT subscriber_id, rn, total FROM (
        SELECT subscriber_id,
               row_number() OVER (ORDER BY subscriber_id) AS rn,
               count(*) OVER () AS total
        FROM subscriptions WHERE list_id = :list_id AND status = 'active'
    ) ranked
    WHERE (rn - 1) % :size = 0 OR rn % :size = 0 OR rn = total
    ORDER BY subscriber_id
""")


def sections_match(wanted: list[str], section: str | None) -> bool:
    """No filter takes everything; otherwise the section must match, ignoring case."""
    if not wanted:
        return True
    return section is not None and section.casefold() in {w.casefold() for w in wanted}



def batch_bounds(session: Session, list_id: int, size: int) -> tuple[list[tuple[int, int]], int]:
    """Keyset ranges [first, last] of about `size` active subscribers each, and their count.
    Only the range ends leave the database, never the whole id list."""
    bounds: list[tuple[int, int]] = []
    first = total = 0
    for subscriber_id, rn, total in session.execute(_BOUNDS, {"list_id": list_id, "size": size}):
        if (rn - 1) % size == 0:
            first = subscriber_id
        if rn % size == 0 or rn == total:
            bounds.append((first, subscriber_id))
    return bounds, total


def plan_send(session: Session, mailing_list: MailingList, kind: str, batch_size: int,
              article_id: int | None = None, since: datetime | None = None,
              until: datetime | None = None, article_ids: list[int] | None = None,
              run_key: str | None = None) -> Send:
    send = Send(kind=kind, list_id=mailing_list.id, article_id=article_id, since=since,
                until=until, article_ids=article_ids or [], state=SendState.PLANNED,
                run_key=run_key)
    session.add(send)
    session.flush()
    bounds, total = batch_bounds(session, mailing_list.id, batch_size)
    send.planned = total
    if not bounds:
        send.state = SendState.DONE
    session.add_all(Batch(send_id=send.id, first_id=first, last_id=last)
                    for first, last in bounds)
    return send


def plan_article(session: Session, article: Article, settings: Settings) -> None:
    """One post per matching channel, one alert send per matching instant list."""
    for channel in settings.channels:
        if sections_match(channel.sections, article.section):
            session.add(ChannelPost(article_id=article.id, channel=channel.name))
    instant = session.scalars(select(MailingList).where(MailingList.kind == "instant"))
    for mailing_list in instant:
        if sections_match(mailing_list.sections, article.section):
            plan_send(session, mailing_list, "alert", settings.batch_size, article_id=article.id)
