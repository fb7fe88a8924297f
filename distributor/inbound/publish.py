"""Publishing: the one door every article comes in by (HTTP API, CLI, feeds, dashboard).

The article and its plan are stored in one transaction (article.ingest); then the
workers are woken. A broker that does not answer loses nothing: the plan is in the
database and the sweeper wakes the work within a minute or two.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from distributor.config import Settings
from distributor.errors import Unavailable
from distributor.inbound.article import ingest
from distributor.outbox.wake import Dispatcher
from distributor.store import Database

log = logging.getLogger("distributor.publish")


@dataclass(frozen=True)
class Published:
    article_id: int
    guid: str
    created: bool  # False: the guid was known, nothing was sent again
    enqueued: bool  # False: stored and planned, but the broker did not answer

    @property
    def status(self) -> str:
        if not self.created:
            return "already published"
        return "accepted" if self.enqueued else "stored; the sweeper sends it"


def publish(db: Database, settings: Settings, dispatcher: Dispatcher, data: Any,
            source: str = "api") -> Published:
    """Validate, store and plan the article, then wake the workers. InvalidInput names
    each bad field and stores nothing; a known guid changes and sends nothing."""
    ingested = ingest(db, settings, data, source=source)
    if not ingested.created:
        return Published(ingested.article_id, ingested.guid, created=False, enqueued=False)
    try:
        dispatcher.fan_out(ingested.article_id)
    except Unavailable as exc:
        log.warning("guid=%s stored but not enqueued (%s); the sweeper will send it",
                    ingested.guid, exc)
        return Published(ingested.article_id, ingested.guid, created=True, enqueued=False)
    log.info("guid=%s published from %s", ingested.guid, source)
    return Published(ingested.article_id, ingested.guid, created=True, enqueued=True)
