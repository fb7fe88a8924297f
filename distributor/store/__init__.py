"""The database: tables, engine and sessions, migrations."""

from distributor.store.db import Database
from distributor.store.tables import (
    ApiToken,
    Article,
    AuditEntry,
    Base,
    Batch,
    ChannelPost,
    ChannelState,
    DashboardSession,
    Delivery,
    FeedItem,
    FeedState,
    MailingList,
    Send,
    Subscriber,
    Subscription,
    Suppression,
)

__all__ = [
    "ApiToken", "Article", "AuditEntry", "Base", "Batch", "ChannelPost", "ChannelState", "DashboardSession",
    "Database", "Delivery", "FeedItem", "FeedState", "MailingList", "Send", "Subscriber",
    "Subscription", "Suppression",
]
