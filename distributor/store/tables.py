"""Tables. The outbox (sends, batches, channel_posts) and the ledger (deliveries)
are the source of truth for what must go out and what went; Redis only carries
wake-ups."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    literal_column,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from distributor.states import BatchState, PostState, SendState, SubscriptionStatus


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every backend (SQLite stores naive ones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime, dict: JSON, list: JSON}


class Article(Base):
    __tablename__ = "articles"
    id: Mapped[int] = mapped_column(primary_key=True)
    guid: Mapped[str] = mapped_column(String(500), unique=True)
    url: Mapped[str] = mapped_column(String(2000))
    title: Mapped[str] = mapped_column(String(500))
    summary: Mapped[str] = mapped_column(Text, default="")
    body_html: Mapped[str] = mapped_column(Text, default="")
    section: Mapped[str | None] = mapped_column(String(200))
    tags: Mapped[list] = mapped_column(default=list)
    author: Mapped[str | None] = mapped_column(String(200))
    image_url: Mapped[str | None] = mapped_column(String(2000))
    published_at: Mapped[datetime] = mapped_column(index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)  # arrival
    source: Mapped[str] = mapped_column(String(50), default="api")

    def payload(self) -> dict[str, Any]:
        """The article as templates, channels and webhooks see it."""
        return {
            "guid": self.guid, "url": self.url, "title": self.title,
            "summary": self.summary, "section": self.section, "tags": self.tags,
            "author": self.author, "image_url": self.image_url,
            "published_at": self.published_at.isoformat().replace("+00:00", "Z"),
            "body_html": self.body_html,
        }


class MailingList(Base):
    __tablename__ = "lists"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(10))  # instant | digest
    schedule: Mapped[str | None] = mapped_column(String(100))  # cron, digest lists
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    sections: Mapped[list] = mapped_column(default=list)
    double_opt_in: Mapped[bool] = mapped_column(Boolean, default=False)
    # Alerts: an article older than this (seconds) when its send's turn comes is not sent.
    max_age: Mapped[int] = mapped_column(Integer, default=6 * 3600)
    # Alerts planned inside "HH:MM-HH:MM" (the list's zone) wait for its end.
    quiet: Mapped[str | None] = mapped_column(String(11))
    # Digest lists: send at the schedule's hour in each subscriber's own zone.
    local_time: Mapped[bool] = mapped_column(Boolean, default=False)
    # The list's own sender ("Name <addr>") and Reply-To; None: DISTRIBUTOR_FROM, no Reply-To.
    from_address: Mapped[str | None] = mapped_column(String(400))
    reply_to: Mapped[str | None] = mapped_column(String(400))
    # Readers may find it: its hosted sign-up page and its web archive are served.
    public: Mapped[bool] = mapped_column(Boolean, default=False)
    # Clicks: off | aggregate (counts only) | per-subscriber (who clicked, until erased).
    tracking: Mapped[str] = mapped_column(String(20), default="off")
    utm: Mapped[str | None] = mapped_column(String(500))  # query added to article links
    track_opens: Mapped[bool] = mapped_column(Boolean, default=False)  # a pixel; unreliable
    locale: Mapped[str] = mapped_column(String(16), default="en")  # its emails' and pages'
    last_digest_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Subscriber(Base):
    __tablename__ = "subscribers"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    # IANA zone; None: the list's. Digest lists with local_time send at their hour here.
    timezone: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Subscription(Base):
    """A subscriber on a list. status: states.SubscriptionStatus"""

    __tablename__ = "subscriptions"
    __table_args__ = (
        UniqueConstraint("list_id", "subscriber_id"),
        Index("ix_subscriptions_list_status_subscriber", "list_id", "status", "subscriber_id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    list_id: Mapped[int] = mapped_column(ForeignKey("lists.id", ondelete="CASCADE"))
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"),
                                               index=True)
    status: Mapped[str] = mapped_column(String(20), default=SubscriptionStatus.ACTIVE)
    sections: Mapped[list] = mapped_column(default=list)
    confirm_sent_at: Mapped[datetime | None]  # the last confirmation email: one an hour
    paused_until: Mapped[datetime | None]  # the reader paused: no send planned before this
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Suppression(Base):
    """Addresses no send may reach, kept as a SHA-256 hash so an erased address stays gone."""

    __tablename__ = "suppressions"
    id: Mapped[int] = mapped_column(primary_key=True)
    email_hash: Mapped[str] = mapped_column(String(64), unique=True)
    reason: Mapped[str] = mapped_column(String(50))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class BounceEvent(Base):
    """A bounce or complaint that reached us after the send: from the bounce mailbox, a
    provider's webhook, or the SMTP server's refusal. kind: states.BounceKind.
    `key` names the report (its Message-ID, the provider's event id) so that a report
    read twice counts once."""

    __tablename__ = "bounce_events"
    __table_args__ = (Index("ix_bounce_events_subscriber_at", "subscriber_id", "at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(300), unique=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"))
    send_id: Mapped[int | None] = mapped_column(ForeignKey("sends.id", ondelete="SET NULL"),
                                                index=True)
    kind: Mapped[str] = mapped_column(String(10))
    status: Mapped[str | None] = mapped_column(String(12))  # RFC 3463 code, e.g. 5.1.1
    source: Mapped[str] = mapped_column(String(20))  # smtp | mailbox | ses | postmark | ...
    reason: Mapped[str] = mapped_column(Text, default="")  # the raw diagnostic, as sent
    at: Mapped[datetime] = mapped_column(default=utcnow)


class MailboxState(Base):
    """What the bounce-mailbox poller knows of its last run (one row per mailbox, keyed by
    host and folder, never the password). status: never | ok | error"""

    __tablename__ = "bounce_mailboxes"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(300), unique=True)
    status: Mapped[str] = mapped_column(String(10), default="never")
    error: Mapped[str | None] = mapped_column(Text)
    handled: Mapped[int] = mapped_column(Integer, default=0)  # reports applied, all time
    unparsed: Mapped[int] = mapped_column(Integer, default=0)  # left in place: now
    last_poll_at: Mapped[datetime | None]
    last_success_at: Mapped[datetime | None]


class Send(Base):
    """One email to one list: an alert for an article, or a digest. state: states.SendState"""

    __tablename__ = "sends"
    __table_args__ = (UniqueConstraint("kind", "article_id", "list_id"),
                      UniqueConstraint("list_id", "run_key"))
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))  # alert | digest
    article_id: Mapped[int | None] = mapped_column(ForeignKey("articles.id"), index=True)
    list_id: Mapped[int] = mapped_column(ForeignKey("lists.id", ondelete="CASCADE"), index=True)
    state: Mapped[str] = mapped_column(String(10), default=SendState.PLANNED, index=True)
    planned: Mapped[int] = mapped_column(Integer, default=0)
    since: Mapped[datetime | None]
    until: Mapped[datetime | None]
    article_ids: Mapped[list] = mapped_column(default=list)  # digests: what it holds
    # Digests: the scheduled time it runs for (or "manual-…"): two schedulers, one digest.
    run_key: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]


class DigestItem(Base):
    """An article a digest carried. A list carries each article once: the next digest
    takes the matching articles no earlier digest of the list (that did not fail)
    carried, in whatever order and with whatever dates they arrived."""

    __tablename__ = "digest_items"
    __table_args__ = (Index("ix_digest_items_list_article", "list_id", "article_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    send_id: Mapped[int] = mapped_column(ForeignKey("sends.id", ondelete="CASCADE"), index=True)
    list_id: Mapped[int] = mapped_column(ForeignKey("lists.id", ondelete="CASCADE"))
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"))


class Batch(Base):
    """A keyset range of subscriber ids [first_id, last_id] of one send; for a digest
    sent at each reader's own hour, only the range's readers in `timezone`.
    state: states.BatchState"""

    __tablename__ = "batches"
    id: Mapped[int] = mapped_column(primary_key=True)
    send_id: Mapped[int] = mapped_column(ForeignKey("sends.id", ondelete="CASCADE"), index=True)
    first_id: Mapped[int] = mapped_column(Integer)
    last_id: Mapped[int] = mapped_column(Integer)
    timezone: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(10), default=BatchState.PLANNED, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_until: Mapped[datetime | None]
    lease_holder: Mapped[str | None] = mapped_column(String(200))  # outbox.leases.Holder
    next_attempt_at: Mapped[datetime | None]
    enqueued_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Delivery(Base):
    """The ledger: one row per send and recipient. state: states.DeliveryState
    On PostgreSQL it is partitioned by ranges of send_id (store/partitions.py) and its
    primary key there is (id, send_id); its id a bigint (SQLite's rowid is 64-bit too)."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("send_id", "subscriber_id"),
        # The few rows a 4xx left to retry, found without reading a send's whole ledger.
        Index("ix_deliveries_deferred", "send_id", "subscriber_id",
              postgresql_where=text("state = 'deferred'"),
              sqlite_where=text("state = 'deferred'")),
    )
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    send_id: Mapped[int] = mapped_column(ForeignKey("sends.id", ondelete="CASCADE"))
    subscriber_id: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(10))
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    error: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(default=utcnow)


# "A deferred row", written as a literal so that the planner can match the partial index
# ix_deliveries_deferred to it (a parameter of a prepared statement could not be).
DEFERRED_ROW = Delivery.state == literal_column("'deferred'")


class SendTotal(Base):
    """Ledger rows rolled up after the retention window: how many deliveries of a send
    ended in a state. Failures and bounces keep their rows; these are the rest."""

    __tablename__ = "send_totals"
    send_id: Mapped[int] = mapped_column(ForeignKey("sends.id", ondelete="CASCADE"),
                                         primary_key=True)
    state: Mapped[str] = mapped_column(String(10), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)


class ReaderEvent(Base):
    """A click on a tracked link (kind click) or a loaded pixel (kind open): for which
    list, edition, article and channel ("email" or a channel's name); the subscriber
    only on lists that track per subscriber."""

    __tablename__ = "reader_events"
    __table_args__ = (Index("ix_reader_events_list_at", "list_id", "at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    kind: Mapped[str] = mapped_column(String(10))
    channel: Mapped[str] = mapped_column(String(100))
    list_id: Mapped[int | None] = mapped_column(ForeignKey("lists.id", ondelete="CASCADE"))
    send_id: Mapped[int | None] = mapped_column(ForeignKey("sends.id", ondelete="CASCADE"))
    article_id: Mapped[int | None] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"))
    subscriber_id: Mapped[int | None] = mapped_column(Integer, index=True)


class ChannelPost(Base):
    """One article on one channel. state: states.PostState"""

    __tablename__ = "channel_posts"
    __table_args__ = (UniqueConstraint("article_id", "channel"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id"), index=True)
    channel: Mapped[str] = mapped_column(String(100))
    state: Mapped[str] = mapped_column(String(12), default=PostState.PLANNED, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    remote_id: Mapped[str | None] = mapped_column(String(200))
    error: Mapped[str | None] = mapped_column(Text)
    lease_until: Mapped[datetime | None]
    lease_holder: Mapped[str | None] = mapped_column(String(200))  # outbox.leases.Holder
    next_attempt_at: Mapped[datetime | None]
    enqueued_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]


class ChannelState(Base):
    """What we learnt about a configured channel: disabled when its endpoint is gone."""

    __tablename__ = "channel_states"
    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    reason: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class FeedState(Base):
    """What the poller knows about one configured feed (keyed by its URL).
    status: never | ok | unchanged | partial | error"""

    __tablename__ = "feeds"
    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(2000), unique=True)
    etag: Mapped[str | None] = mapped_column(String(500))
    last_modified: Mapped[str | None] = mapped_column(String(100))
    primed: Mapped[bool] = mapped_column(Boolean, default=False)  # first poll done
    status: Mapped[str] = mapped_column(String(10), default="never")
    error: Mapped[str | None] = mapped_column(Text)
    item_count: Mapped[int] = mapped_column(Integer, default=0)
    last_poll_at: Mapped[datetime | None]
    last_success_at: Mapped[datetime | None]
    lease_until: Mapped[datetime | None]


class FeedItem(Base):
    """An item seen in a feed: sent as an article, or recorded as already there."""

    __tablename__ = "feed_items"
    __table_args__ = (UniqueConstraint("feed_id", "guid"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    feed_id: Mapped[int] = mapped_column(ForeignKey("feeds.id", ondelete="CASCADE"))
    guid: Mapped[str] = mapped_column(String(500))
    article_id: Mapped[int | None] = mapped_column(ForeignKey("articles.id", ondelete="SET NULL"))
    seen_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApiToken(Base):
    """A named API token (`distributor tokens create`): only its SHA-256 is stored.
    role: publish | viewer | admin"""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    role: Mapped[str] = mapped_column(String(10))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]


class DashboardSession(Base):
    """A dashboard sign-in. The cookie carries a random id; only its SHA-256 is stored,
    with who signed in, so logout (deleting the row) revokes the cookie."""

    __tablename__ = "dashboard_sessions"
    id: Mapped[int] = mapped_column(primary_key=True)
    sid_hash: Mapped[str] = mapped_column(String(64), unique=True)
    who: Mapped[str] = mapped_column(String(100))  # a token's name, or "" for DISTRIBUTOR_API_TOKEN
    role: Mapped[str] = mapped_column(String(10))
    credential: Mapped[str] = mapped_column(String(64))  # fingerprint: void when the token changes
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class AuditEntry(Base):
    """One admin action or sign-in attempt: who (a token's name), what, when, from where."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    who: Mapped[str] = mapped_column(String(100))
    role: Mapped[str | None] = mapped_column(String(10))
    action: Mapped[str] = mapped_column(String(300))
    status: Mapped[int | None] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(100))
