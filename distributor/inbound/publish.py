"""Publishing: the one door every article comes in by (HTTP API, CLI, feeds, dashboard),
and the way back out (unpublish).

The article and its plan are stored in one transaction (article.ingest); then the
workers are woken. A broker that does not answer loses nothing: the plan is in the
database and the sweeper wakes the work within a minute or two. An article published
in the future is an embargo: stored and planned now, released by beat at its time.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from distributor.config import Settings
from distributor.errors import NotFound, Unavailable
from distributor.inbound.article import ingest
from distributor.outbox.plan import cancel
from distributor.outbox.wake import Dispatcher
from distributor.store import Article, Database

log = logging.getLogger("distributor.publish")


@dataclass(frozen=True)
class Published:
    article_id: int
    guid: str
    created: bool  # False: the guid was known, nothing was sent again
    enqueued: bool  # False: stored and planned, but the broker did not answer
    scheduled_for: datetime | None = None  # an embargo: nothing goes before this time
    moved: bool = False  # a known guid's embargo moved to scheduled_for

    @property
    def status(self) -> str:
        if self.moved:
            return f"embargo moved to {self.scheduled_for.isoformat()}"
        if not self.created:
            return "already published"
        if self.scheduled_for:
            return f"scheduled for {self.scheduled_for.isoformat()}"
        return "accepted" if self.enqueued else "stored; the sweeper sends it"


def publish(db: Database, settings: Settings, dispatcher: Dispatcher, data: Any,
            source: str = "api") -> Published:
    """Validate, store and plan the article, then wake the workers. InvalidInput names
    each bad field and stores nothing; a known guid changes and sends nothing (but an
    embargo not yet released moves to the new time)."""
    now = datetime.now(UTC)
    ingested = ingest(db, settings, data, source=source, now=now)
    scheduled = ingested.published_at if ingested.published_at > now else None
    if not ingested.created and not ingested.moved:
        return Published(ingested.article_id, ingested.guid, False, False)
    try:
        dispatcher.fan_out(ingested.article_id)  # wakes only what no embargo holds
    except Unavailable as exc:
        log.warning("guid=%s stored but not enqueued (%s); the sweeper will send it",
                    ingested.guid, exc)
        return Published(ingested.article_id, ingested.guid, ingested.created, False,
                         scheduled, ingested.moved)
    log.info("guid=%s published from %s%s", ingested.guid, source,
             f", embargoed until {scheduled.isoformat()}" if scheduled else "")
    return Published(ingested.article_id, ingested.guid, ingested.created, True, scheduled,
                     ingested.moved)


def unpublish(db: Database, guid: str) -> dict[str, Any]:
    """Cancel what of the article has not gone yet: an embargoed article entirely, a
    queued one as far as no worker holds it. What went stays sent."""
    now = datetime.now(UTC)
    with db.session() as session:
        article_id = session.scalar(select(Article.id).where(Article.guid == guid))
        if article_id is None:
            raise NotFound(f"no article with guid {guid!r}", {"guid": "unknown"})
        posts, sends = cancel(session, article_id, "unpublished", now)
    log.info("guid=%s unpublished: %s posts and %s sends cancelled", guid, posts, sends)
    return {"guid": guid, "posts_cancelled": posts, "sends_cancelled": sends}
