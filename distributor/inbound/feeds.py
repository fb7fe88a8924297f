"""RSS and Atom feeds: poll one feed, send its new items as articles.

A poll claims the feed (a lease on its `feeds` row, so two pollers never work
on one feed at once), fetches it with a conditional GET under a time and size
cap, parses it with feedparser and publishes each item it has not seen
through inbound.publish (source "feed"): dedupe by guid, sanitising, the plan and
the wake-up are the same as for `POST /v1/articles`.

The first poll of a feed (unless `backfill = true`) only records the items
already there. Whatever goes wrong with one feed is written to its row
(status "error" and the reason) and never raised to the caller.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError

from distributor.config import FeedConfig, Settings
from distributor.errors import FeedError, InvalidInput, SkipItem
from distributor.inbound.fetch import MAX_BYTES, TIMEOUT, display_url, fetch, parse
from distributor.inbound.publish import publish
from distributor.inbound.sources import entry_to_article
from distributor.outbox.wake import Dispatcher
from distributor.states import Outcome
from distributor.store import Database, FeedItem, FeedState
from distributor.values import format_duration

log = logging.getLogger("distributor.feeds")

MAX_ITEMS = 500  # items looked at per poll
LEASE = timedelta(minutes=5)


@dataclass
class PollResult:
    url: str
    status: str  # ok | unchanged | partial | error | busy
    created: list[int] = field(default_factory=list)  # ids of the articles published
    known: int = 0
    skipped: list[str] = field(default_factory=list)
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"url": display_url(self.url), "status": self.status, "new": len(self.created),
                "known": self.known, "skipped": self.skipped, "error": self.error}


def _state_id(db: Database, url: str) -> int:
    with db.session() as session:
        found = session.scalar(select(FeedState.id).where(FeedState.url == url))
    if found is not None:
        return found
    try:
        with db.session() as session:
            row = FeedState(url=url)
            session.add(row)
            session.flush()
            return row.id
    except IntegrityError:  # another poller created it first
        with db.session() as session:
            return session.scalar(select(FeedState.id).where(FeedState.url == url))


def _claim(db: Database, feed: FeedConfig, state_id: int, now: datetime, force: bool) -> bool:
    conditions = [FeedState.id == state_id,
                  or_(FeedState.lease_until.is_(None), FeedState.lease_until < now)]
    if not force:
        every = timedelta(seconds=feed.every)
        conditions.append(or_(FeedState.last_poll_at.is_(None),
                              FeedState.last_poll_at <= now - every))
    with db.session() as session:
        result = session.execute(update(FeedState).where(*conditions)
                                 .values(lease_until=now + LEASE))
        return result.rowcount == 1


def _finish(db: Database, state_id: int, **values: Any) -> None:
    with db.session() as session:
        session.execute(update(FeedState).where(FeedState.id == state_id)
                        .values(lease_until=None, **values))


def poll_feed(db: Database, settings: Settings, feed: FeedConfig, http: requests.Session,
              dispatcher: Dispatcher, now: datetime | None = None, force: bool = False,
              timeout: float = TIMEOUT, max_bytes: int = MAX_BYTES) -> PollResult:
    """Poll one feed once. `force` polls even when its interval has not elapsed."""
    now = now or datetime.now(UTC)
    state_id = _state_id(db, feed.url)
    if not _claim(db, feed, state_id, now, force):
        return PollResult(feed.url, Outcome.BUSY)
    with db.session() as session:
        state = session.get(FeedState, state_id)
    result = PollResult(feed.url, "ok")
    try:
        fetched = fetch(http, feed.url, state.etag, state.last_modified, timeout, max_bytes)
        if fetched.status == 304:
            _finish(db, state_id, status="unchanged", last_poll_at=now, last_success_at=now)
            return PollResult(feed.url, "unchanged", known=state.item_count)
        entries = parse(fetched)
        _take_items(db, settings, dispatcher, feed, state_id, entries[:MAX_ITEMS], result,
                    record_only=not state.primed and not feed.backfill)
    except FeedError as exc:
        reason = str(exc)
    except Exception as exc:  # noqa: BLE001  one feed's failure stays with that feed
        log.exception("feed %s: poll failed", display_url(feed.url))
        reason = f"internal error: {type(exc).__name__}"
    else:
        if len(entries) > MAX_ITEMS:
            result.skipped.append(f"{len(entries) - MAX_ITEMS} items past the first "
                                  f"{MAX_ITEMS} not looked at")
        result.status = "partial" if result.skipped else "ok"
        _finish(db, state_id, status=result.status, error=_summary(result.skipped),
                etag=fetched.etag, last_modified=fetched.last_modified, primed=True,
                item_count=len(entries), last_poll_at=now, last_success_at=now)
        log.info("feed %s: %s new, %s known, %s skipped", display_url(feed.url),
                 len(result.created), result.known, len(result.skipped))
        return result
    log.warning("feed %s: %s", display_url(feed.url), reason)
    _finish(db, state_id, status="error", error=reason, last_poll_at=now)
    # Articles published before the failure stay published.
    return PollResult(feed.url, "error", created=result.created, error=reason)


def _summary(skipped: list[str]) -> str | None:
    if not skipped:
        return None
    text = "; ".join(skipped[:5])
    more = f" (and {len(skipped) - 5} more)" if len(skipped) > 5 else ""
    return f"{len(skipped)} item(s) skipped: {text}{more}"


def _take_items(db: Database, settings: Settings, dispatcher: Dispatcher, feed: FeedConfig,
                state_id: int, entries: list[Any], result: PollResult,
                record_only: bool) -> None:
    """Publish the items not seen before, oldest first (feeds list the newest first),
    counting into `result` as it goes."""
    articles: list[tuple[str, dict]] = []
    for position, entry in enumerate(entries, start=1):
        try:
            articles.append(entry_to_article(entry, feed))
        except SkipItem as exc:
            result.skipped.append(f"item {position}: {exc}")
    with db.session() as session:
        seen = set(session.scalars(select(FeedItem.guid).where(
            FeedItem.feed_id == state_id, FeedItem.guid.in_([g for g, _ in articles]))))
    for guid, article in reversed(articles):
        if guid in seen:
            result.known += 1
            continue
        article_id = None
        if record_only:
            result.known += 1
        else:
            try:
                ingested = publish(db, settings, dispatcher, article, source="feed")
            except InvalidInput as exc:
                result.skipped.append(f"{article.get('title') or guid!r}: {exc}")
                continue
            article_id = ingested.article_id
            if ingested.created:
                result.created.append(ingested.article_id)
            else:  # already published another way (the CMS webhook, the CLI)
                result.known += 1
        with db.session() as session:
            session.add(FeedItem(feed_id=state_id, guid=guid, article_id=article_id))
        seen.add(guid)


def due_feeds(db: Database, settings: Settings, now: datetime) -> list[FeedConfig]:
    """Configured feeds whose interval has elapsed and that nobody is polling."""
    with db.session() as session:
        states = {row.url: row for row in session.scalars(select(FeedState))}
    due = []
    for feed in unique_feeds(settings):
        state = states.get(feed.url)
        if state is None or state.last_poll_at is None:
            due.append(feed)
            continue
        leased = state.lease_until is not None and state.lease_until > now
        every = timedelta(seconds=feed.every)
        if not leased and state.last_poll_at <= now - every:
            due.append(feed)
    return due


def unique_feeds(settings: Settings) -> list[FeedConfig]:
    feeds: dict[str, FeedConfig] = {}
    for feed in settings.file.feeds:
        feeds.setdefault(feed.url, feed)
    return list(feeds.values())


def feed_config(settings: Settings, url: str) -> FeedConfig | None:
    return next((f for f in settings.file.feeds if f.url == url), None)


def list_feeds(db: Database, settings: Settings) -> list[dict[str, Any]]:
    """Each configured feed with its last poll, status, item count and reason."""
    with db.session() as session:
        states = {row.url: row for row in session.scalars(select(FeedState))}
        known = dict(session.execute(select(FeedItem.feed_id, func.count())
                                     .group_by(FeedItem.feed_id)).all())
    rows = []
    for feed in unique_feeds(settings):
        state = states.get(feed.url)
        rows.append({
            "url": display_url(feed.url), "every": format_duration(feed.every), "backfill": feed.backfill,
            "status": state.status if state else "never",
            "last_poll_at": state.last_poll_at if state else None,
            "last_success_at": state.last_success_at if state else None,
            "item_count": state.item_count if state else 0,
            "known": known.get(state.id, 0) if state else 0,
            "error": state.error if state else None,
        })
    return rows
