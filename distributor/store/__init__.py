"""The database: tables, engine and sessions, migrations."""

from distributor.store.db import Database
from distributor.store.tables import (
    DEFERRED_ROW,
    ApiToken,
    Article,
    AuditEntry,
    Base,
    Batch,
    BounceEvent,
    ChannelPost,
    ChannelState,
    DashboardSession,
    Delivery,
    DigestItem,
    FeedItem,
    FeedState,
    MailboxState,
    MailingList,
    ReaderEvent,
    Send,
    SendTotal,
    Subscriber,
    Subscription,
    Suppression,
)

__all__ = [
    "DEFERRED_ROW", "ApiToken", "Article", "AuditEntry", "Base", "Batch", "BounceEvent",
    "ChannelPost", "ChannelState",
    "DashboardSession", "Database", "Delivery", "DigestItem", "FeedItem", "FeedState",
    "MailboxState", "MailingList", "ReaderEvent", "Send", "SendTotal", "Subscriber",
    "Subscription", "Suppression",
]
