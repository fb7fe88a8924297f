"""The database: tables, engine and sessions, migrations."""

from distributor.store.db import Database
from distributor.store.tables import (
    Article,
    Base,
    Batch,
    ChannelPost,
    ChannelState,
    Delivery,
    DigestItem,
    FeedItem,
    FeedState,
    MailingList,
    Send,
    SendTotal,
    Subscriber,
    Subscription,
    Suppression,
)

__all__ = [
    "Article", "Base", "Batch", "ChannelPost", "ChannelState", "Database", "Delivery",
    "DigestItem", "FeedItem", "FeedState", "MailingList", "Send", "SendTotal", "Subscriber",
    "Subscription", "Suppression",
]
