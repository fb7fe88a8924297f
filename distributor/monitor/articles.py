"""The latest articles with each channel's and each list's delivery state, in a
few queries (not one per article)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import exists, or_, select

from distributor.monitor.deliveries import send_counts, send_report
from distributor.states import PostState, SendState
from distributor.store import Article, ChannelPost, Database, MailingList, Send


def latest_articles(db: Database, limit: int = 20) -> list[dict[str, Any]]:
    with db.session() as session:
        articles = session.scalars(select(Article).order_by(Article.id.desc()).limit(limit)).all()
        ids = [a.id for a in articles]
        if not ids:
            return []
        posts: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
        for p in session.scalars(select(ChannelPost).where(ChannelPost.article_id.in_(ids))
                                 .order_by(ChannelPost.channel)):
            posts[p.article_id].append({"id": f"post:{p.id}", "channel": p.channel,
                                        "state": p.state, "attempts": p.attempts,
                                        "error": p.error})
        rows = session.execute(
            select(Send, MailingList.name).join(MailingList, MailingList.id == Send.list_id)
            .where(Send.article_id.in_(ids)).order_by(MailingList.name)).all()
        counts = send_counts(session, [s.id for s, _ in rows])
        sends: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
        for send, name in rows:
            sends[send.article_id].append(send_report(send, name, counts[send.id]))
        now = datetime.now(UTC)
        return [{"guid": a.guid, "title": a.title, "url": a.url, "section": a.section,
                 "published_at": a.published_at.isoformat(),
                 "scheduled_for": a.published_at.isoformat() if a.published_at > now else None,
                 "channels": posts[a.id], "sends": sends[a.id]} for a in articles]


def scheduled_articles(db: Database, now: datetime, limit: int = 50) -> list[dict[str, Any]]:
    """Embargoed articles, soonest first: planned posts or sends held until their time
    (an unpublished one has none left)."""
    held = or_(exists().where(ChannelPost.article_id == Article.id,
                              ChannelPost.state == PostState.PLANNED),
               exists().where(Send.article_id == Article.id, Send.state == SendState.PLANNED))
    with db.session() as session:
        rows = session.scalars(select(Article).where(Article.published_at > now, held)
                               .order_by(Article.published_at).limit(limit)).all()
        return [{"guid": a.guid, "title": a.title,
                 "scheduled_for": a.published_at.isoformat()} for a in rows]
