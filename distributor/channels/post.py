"""Post one article to one channel: claim the post row, respect the channel's
shared rate, call the adapter, record the outcome and say when to retry."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

import requests

from distributor.audience.tracking import channel_link
from distributor.channels.adapters import adapter_class
from distributor.channels.adapters.base import Outgoing, ReadsBack, idempotency_key
from distributor.channels.text import render_channel_text
from distributor.config import ChannelConfig, Settings
from distributor.errors import CredentialsRefused, PermanentError, TransientError
from distributor.outbox import leases
from distributor.outbox.retry import backoff
from distributor.states import ChannelStatus, Outcome, PostState
from distributor.store import Article, ChannelPost, ChannelState, Database
from distributor.values import format_duration


class Limiter(Protocol):
    """The channel's shared rate (ratelimit.ChannelLimiter)."""

    def __call__(self, channel: ChannelConfig) -> float:
        """Seconds before this channel may post again; 0 means now (a slot is taken)."""

    def hold_channel(self, channel: ChannelConfig, seconds: float) -> None:
        """Nobody posts to this channel for `seconds`: the service asked us to wait."""


# How a post's error begins when its last request went out unanswered: the next try
# asks the channel first where the adapter can (find_posted), so the post is not doubled.
MAYBE_SENT = "maybe sent"


@dataclass
class PostResult:
    state: Outcome | PostState  # a finished post: the state it was recorded in
    retry_in: float | None = None
    error: str | None = None


# A paused channel is stored as a disabled one whose reason begins so (no column of its
# own); `channels test` and `failures retry` enable both.
PAUSED = "paused: "


def disable_channel(db: Database, name: str, reason: str, paused: bool = False) -> None:
    with db.session() as session:
        state = session.get(ChannelState, name) or ChannelState(name=name)
        state.disabled, state.reason = True, (PAUSED if paused else "") + reason
        session.add(state)


def channel_status(state: ChannelState | None) -> tuple[ChannelStatus, str | None]:
    """(enabled | disabled | paused, why) of a channel's stored state."""
    if state is None or not state.disabled:
        return ChannelStatus.ENABLED, None
    reason = state.reason or ""
    if reason.startswith(PAUSED):
        return ChannelStatus.PAUSED, reason.removeprefix(PAUSED)
    return ChannelStatus.DISABLED, reason


def run_post(db: Database, settings: Settings, http: requests.Session, post_id: int,
             limiter: Limiter | None = None, now: datetime | None = None) -> PostResult:
    now = now or datetime.now(UTC)
    with db.session() as session:
        if not leases.claim(session, ChannelPost, post_id, now, settings.lease_seconds):
            return PostResult(Outcome.BUSY)
        post = session.get(ChannelPost, post_id)
        channel = settings.channel(post.channel)
        state = session.get(ChannelState, post.channel)
        why = None
        if channel is None:
            why = f"channel {post.channel!r} is no longer configured"
        elif state is not None and state.disabled:
            status, reason = channel_status(state)
            why = f"channel {post.channel!r} is {status}: {reason}"
        if why:
            post.state, post.error, post.lease_until = PostState.FAILED, why, None
            return PostResult(Outcome.FAILED, error=why)
        if post.next_attempt_at is not None and post.next_attempt_at > now:
            # An early duplicate of the task: the service's retry-after has not passed.
            wait = (post.next_attempt_at - now).total_seconds()
            post.state, post.lease_until = PostState.RETRYING, None
            post.attempts -= 1
            return PostResult(Outcome.RETRY, retry_in=wait)
        stored = session.get(Article, post.article_id)
        # Counted from when the post was meant to go: its article's arrival or embargo.
        age = (now - max(post.created_at, stored.published_at)).total_seconds()
        if age > channel.max_age and post.attempts == 1:  # later tries: give up below
            why = (f"expired: {age / 3600:.1f} h late when its turn came, over the channel's "
                   f"max_age of {format_duration(channel.max_age)}")
            post.state, post.error, post.lease_until = PostState.EXPIRED, why, None
            return PostResult(Outcome.EXPIRED, error=why)
        article = stored.payload()
        created_at, attempts, last_error = post.created_at, post.attempts, post.error or ""

    def outcome(**values) -> None:
        with db.session() as session:
            session.query(ChannelPost).filter_by(id=post_id).update(
                {"lease_until": None, **values})

    wait = limiter(channel) if limiter else 0.0
    if wait > 0:
        outcome(state=PostState.RETRYING, attempts=attempts - 1,
                next_attempt_at=now + timedelta(seconds=wait))
        return PostResult(Outcome.RETRY, retry_in=wait)

    try:
        link = channel_link(settings.public_url, settings.secret, channel, post.article_id,
                            article["url"])
        text = render_channel_text(settings, channel, {**article, "url": link})
        cls = adapter_class(channel.type)
        adapter = cls(channel.name, channel.base_url or cls.default_base_url, channel.options,
                      http, settings.http_timeout)
        message = Outgoing(post_id, idempotency_key(post.article_id, channel.name), text, article)
        receipt = None
        if last_error.startswith(MAYBE_SENT) and isinstance(adapter, ReadsBack):
            receipt = adapter.find_posted(message)  # the last try may have gone: look first
        if receipt is None:
            receipt = adapter.send(message)
    except TransientError as exc:
        age = (now - created_at).total_seconds()
        if age > channel.max_age:
            error = f"gave up after {attempts} attempts over {age:.0f}s: {exc}"
            outcome(state=PostState.FAILED, error=error)
            return PostResult(Outcome.FAILED, error=error)
        delay = exc.retry_after
        if delay is not None and limiter is not None:
            limiter.hold_channel(channel, delay)  # the channel's wait, not this post's alone
        if delay is None:
            delay = backoff(attempts, settings.channel_retry_base)
        error = f"{MAYBE_SENT}: {exc}" if exc.maybe_sent else str(exc)
        outcome(state=PostState.RETRYING, error=error, next_attempt_at=now + timedelta(seconds=delay))
        return PostResult(Outcome.RETRY, retry_in=delay, error=error)
    except PermanentError as exc:
        outcome(state=PostState.FAILED, error=str(exc))
        if exc.disable:
            disable_channel(db, channel.name, str(exc),
                            paused=isinstance(exc, CredentialsRefused))
        return PostResult(Outcome.FAILED, error=str(exc))
    except Exception as exc:  # a broken template must fail this post, not the queue
        error = f"{type(exc).__name__}: {exc}"
        outcome(state=PostState.FAILED, error=error)
        return PostResult(Outcome.FAILED, error=error)
    outcome(state=receipt.state, remote_id=receipt.remote_id, error=None,
            sent_at=datetime.now(UTC))
    return PostResult(receipt.state)
