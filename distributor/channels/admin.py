"""What operators ask of channels: an overview, a test message, a preview.
The CLI (distributor/cli/channels.py) only prints what these return."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import requests
from sqlalchemy import func, select

from distributor.channels.adapters import adapter_class, make_adapter
from distributor.channels.adapters.base import Outgoing, idempotency_key
from distributor.channels.post import channel_status
from distributor.channels.text import render_channel
from distributor.config import ChannelConfig, Settings
from distributor.errors import DeliveryError, NotFound, TransientError
from distributor.states import ChannelStatus
from distributor.store import Article, ChannelPost, ChannelState, Database

TEST_TITLE = "Test from distributor: <b>tags</b> & *stars* _underscores_ ✓"
TEST_SUMMARY = ("If you can read this, the channel works. Escaping check: 5 < 6 & 7 > 3, "
                "*not bold*, _not italic_. हिन्दी, 한국어, emoji 📰.")


def channel_config(settings: Settings, name: str) -> ChannelConfig:
    channel = settings.channel(name)
    if channel is None:
        known = ", ".join(c.name for c in settings.channels) or "none configured"
        raise NotFound(f"no channel named {name!r} (known: {known})", {"channel": "unknown"})
    return channel


def effective_rate(channel: ChannelConfig) -> tuple[str, str]:
    """(rate, where it comes from: config | default)."""
    if channel.rate:
        return channel.rate, "config"
    return adapter_class(channel.type).default_rate, "default"


def overview(db: Database, settings: Settings) -> list[dict[str, Any]]:
    """Every configured channel: type, sections, rate, enabled or disabled (and why),
    and its latest post."""
    names = [c.name for c in settings.channels]
    with db.session() as session:
        states = {s.name: s for s in session.scalars(
            select(ChannelState).where(ChannelState.name.in_(names)))} if names else {}
        latest = select(func.max(ChannelPost.id)).where(ChannelPost.channel.in_(names)) \
            .group_by(ChannelPost.channel)
        posts = {p.channel: (p, guid) for p, guid in session.execute(
            select(ChannelPost, Article.guid).join(Article, Article.id == ChannelPost.article_id)
            .where(ChannelPost.id.in_(latest)))} if names else {}
    rows = []
    for channel in settings.channels:
        status, reason = channel_status(states.get(channel.name))
        rate, rate_source = effective_rate(channel)
        post, guid = posts.get(channel.name, (None, None))
        rows.append({
            "name": channel.name, "type": channel.type, "sections": channel.sections,
            "rate": rate, "rate_source": rate_source,
            "state": status, "reason": reason,
            "last_post": None if post is None else {
                "article": guid, "state": post.state, "attempts": post.attempts,
                "remote_id": post.remote_id, "error": post.error,
                "at": (post.sent_at or post.created_at).isoformat()},
        })
    return rows


def test_article(settings: Settings) -> dict[str, Any]:
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    return {"guid": f"test-{uuid.uuid4().hex[:12]}", "url": settings.public_url + "/",
            "title": TEST_TITLE, "summary": TEST_SUMMARY, "section": None, "tags": [],
            "author": None, "image_url": None, "published_at": now, "body_html": ""}


def send_test(db: Database, settings: Settings, http: requests.Session,
              name: str) -> dict[str, Any]:
    """Send a test message now (outside the rate limit and the outbox) and report the
    service's answer. A channel disabled earlier is enabled again when the test works."""
    channel = channel_config(settings, name)
    article = test_article(settings)
    rendered = render_channel(settings, channel, article)
    adapter = make_adapter(channel, http, settings.http_timeout)
    result: dict[str, Any] = {"channel": name, "type": channel.type, "length": rendered.length,
                              "limit": rendered.limit}
    try:
        receipt = adapter.send(Outgoing(0, article["guid"], rendered.text, article))
    except DeliveryError as exc:
        result.update(ok=False, error=str(exc),
                      retry_after=exc.retry_after if isinstance(exc, TransientError) else None)
        return result
    with db.session() as session:
        state = session.get(ChannelState, name)
        reenabled = bool(state and state.disabled)
        if reenabled:
            state.disabled, state.reason = False, None
    result.update(ok=True, state=receipt.state, remote_id=receipt.remote_id,
                  answer=receipt.details, reenabled=reenabled)
    return result


def preview(db: Database, settings: Settings, name: str, guid: str) -> dict[str, Any]:
    """The exact text and JSON body a post of article GUID to channel NAME would send."""

    channel = channel_config(settings, name)
    with db.session() as session:
        row = session.scalar(select(Article).where(Article.guid == guid))
        if row is None:
            raise NotFound(f"no article with guid {guid!r}", {"article": "unknown"})
        article, article_id = row.payload(), row.id
    rendered = render_channel(settings, channel, article)
    adapter = make_adapter(channel, requests.Session(), settings.http_timeout)
    message = Outgoing(0, idempotency_key(article_id, name), rendered.text, article)
    return {"channel": name, "type": channel.type, "format": rendered.format,
            "endpoint": adapter.endpoint(message), "length": rendered.length, "limit": rendered.limit,
            "shortened": rendered.shortened, "text": rendered.text,
            "payload": adapter.payload(message)}


def disabled_channels(db: Database, settings: Settings) -> list[dict[str, Any]]:
    """Configured channels switched off (endpoint gone, or paused: credentials refused),
    and why."""
    return [{"name": r["name"], "type": r["type"], "state": r["state"], "reason": r["reason"]}
            for r in overview(db, settings) if r["state"] != ChannelStatus.ENABLED]
