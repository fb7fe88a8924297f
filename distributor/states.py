"""The named states of the outbox and the ledger, and the moves allowed between them.

    sends          planned -> running -> done | failed | paused
                   skipped: a digest with nothing to carry (never runs)
                   expired: an alert whose article grew older than the list's max_age
                   cancelled: the article was unpublished before it went (any open send)
    batches        planned -> running -> done | failed | paused
                   (a batch waiting for its next try stays running, lease free)
    channel posts  planned -> running -> retrying -> running -> sent | accepted | failed
                   (WAHA reads the channel back: confirmed | unconfirmed instead of accepted)
    deliveries     (one per send and recipient) deferred -> sent | failed | bounced | skipped
    subscriptions  unconfirmed -> active -> unsubscribed | bounced | complained
    bounce events  hard | soft | complaint (what a late report said of one address)

Every module names a state through these enums; none writes the string itself.
The values are what the database stores, so they never change.
"""

from __future__ import annotations

from enum import StrEnum


class SendState(StrEnum):
    PLANNED = "planned"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    PAUSED = "paused"
    SKIPPED = "skipped"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


class BatchState(StrEnum):
    PLANNED = "planned"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    PAUSED = "paused"
    CANCELLED = "cancelled"


class PostState(StrEnum):
    PLANNED = "planned"
    RUNNING = "running"
    RETRYING = "retrying"
    SENT = "sent"
    ACCEPTED = "accepted"  # the gateway took it; delivery to the channel is not seen
    CONFIRMED = "confirmed"  # WAHA: accepted, and found when the channel was read back
    UNCONFIRMED = "unconfirmed"  # WAHA: accepted, but not found on reading back
    FAILED = "failed"
    CANCELLED = "cancelled"  # unpublished before it went
    EXPIRED = "expired"  # its turn came later than the channel's max_age: not posted


class ChannelStatus(StrEnum):
    """What `channels list` says of a channel (derived, not a column of its own)."""

    ENABLED = "enabled"
    DISABLED = "disabled"  # its endpoint is gone (404/410)
    PAUSED = "paused"  # its credentials were refused


class DeliveryState(StrEnum):
    SENT = "sent"
    DEFERRED = "deferred"  # a 4xx: tried again with the batch's next try
    FAILED = "failed"
    BOUNCED = "bounced"
    SKIPPED = "skipped"  # suppressed, or nothing in the reader's sections


class SubscriptionStatus(StrEnum):
    UNCONFIRMED = "unconfirmed"
    ACTIVE = "active"
    UNSUBSCRIBED = "unsubscribed"
    BOUNCED = "bounced"
    COMPLAINED = "complained"


class BounceKind(StrEnum):
    """What a bounce or complaint says of an address (RFC 3463 status classes)."""

    HARD = "hard"  # the address is gone: bounced and suppressed at once
    SOFT = "soft"  # try again: counted, suppressed after so many over a window
    COMPLAINT = "complaint"  # the reader called it spam: complained and suppressed


class Outcome(StrEnum):
    """What one run of a batch or post task came to (not stored)."""

    DONE = "done"
    SENT = "sent"
    ACCEPTED = "accepted"
    RETRY = "retry"  # ask again after retry_in seconds
    BUSY = "busy"  # another task holds the lease
    PAUSED = "paused"
    FAILED = "failed"
    EXPIRED = "expired"


class Role(StrEnum):
    """What an API token may do (not a state, but named once here too)."""

    PUBLISH = "publish"  # POST /v1/articles only: what a CMS needs
    VIEWER = "viewer"  # read the admin API (GET) and the dashboard
    ADMIN = "admin"  # everything; DISTRIBUTOR_API_TOKEN is an admin token


# Outbox rows (batches, posts) that still have work: a task may claim them.
OPEN = (PostState.PLANNED, PostState.RUNNING, PostState.RETRYING)
# Sends whose batches may still run.
SEND_OPEN = (SendState.PLANNED, SendState.RUNNING)
# Sends that are over, one way or another: nothing of them can be cancelled.
SEND_ENDED = (SendState.DONE, SendState.SKIPPED, SendState.EXPIRED, SendState.CANCELLED)
# Sends an operator can re-open.
SEND_STOPPED = (SendState.FAILED, SendState.PAUSED)
# Sends whose email is going or has gone: the public archive shows these editions.
SEND_WENT_OUT = (SendState.RUNNING, SendState.DONE)
# Ledger states after which a recipient is never tried again in that send.
DELIVERY_FINISHED = (DeliveryState.SENT, DeliveryState.FAILED, DeliveryState.BOUNCED,
                     DeliveryState.SKIPPED)
# Ledger states that count as a failure in reports.
DELIVERY_FAILED = (DeliveryState.FAILED, DeliveryState.BOUNCED)
# Posts that are settled, one way or the other.
POST_FINISHED = (PostState.SENT, PostState.ACCEPTED, PostState.CONFIRMED,
                 PostState.UNCONFIRMED, PostState.FAILED, PostState.EXPIRED)

TRANSITIONS: dict[type[StrEnum], dict[StrEnum, tuple[StrEnum, ...]]] = {
    SendState: {
        SendState.PLANNED: (SendState.RUNNING, SendState.DONE, SendState.FAILED,
                            SendState.PAUSED, SendState.EXPIRED, SendState.CANCELLED),
        SendState.RUNNING: (SendState.DONE, SendState.FAILED, SendState.PAUSED,
                            SendState.EXPIRED, SendState.CANCELLED),
        SendState.FAILED: (SendState.RUNNING, SendState.CANCELLED),  # `failures retry`
        SendState.PAUSED: (SendState.RUNNING, SendState.CANCELLED),
        SendState.DONE: (),
        SendState.SKIPPED: (),
        SendState.EXPIRED: (),
        SendState.CANCELLED: (),
    },
    BatchState: {
        BatchState.PLANNED: (BatchState.RUNNING, BatchState.FAILED, BatchState.PAUSED,
                             BatchState.CANCELLED),
        BatchState.RUNNING: (BatchState.DONE, BatchState.FAILED, BatchState.PAUSED,
                             BatchState.CANCELLED),
        BatchState.FAILED: (BatchState.PLANNED,),
        BatchState.PAUSED: (BatchState.PLANNED, BatchState.CANCELLED),
        BatchState.DONE: (),
        BatchState.CANCELLED: (),
    },
    PostState: {
        PostState.PLANNED: (PostState.RUNNING, PostState.CANCELLED),
        PostState.RUNNING: (PostState.RETRYING, PostState.SENT, PostState.ACCEPTED,
                            PostState.CONFIRMED, PostState.UNCONFIRMED, PostState.FAILED,
                            PostState.EXPIRED),
        PostState.RETRYING: (PostState.RUNNING, PostState.CANCELLED),
        PostState.FAILED: (PostState.PLANNED,),
        PostState.CANCELLED: (),
        PostState.EXPIRED: (),
        PostState.SENT: (),
        PostState.ACCEPTED: (),
        PostState.CONFIRMED: (),
        PostState.UNCONFIRMED: (),
    },
    DeliveryState: {
        DeliveryState.DEFERRED: (DeliveryState.SENT, DeliveryState.DEFERRED,
                                 DeliveryState.FAILED, DeliveryState.BOUNCED,
                                 DeliveryState.SKIPPED),
        DeliveryState.SENT: (),
        DeliveryState.FAILED: (),
        DeliveryState.BOUNCED: (),
        DeliveryState.SKIPPED: (),
    },
    SubscriptionStatus: {
        SubscriptionStatus.UNCONFIRMED: (SubscriptionStatus.ACTIVE,
                                         SubscriptionStatus.UNSUBSCRIBED,
                                         SubscriptionStatus.BOUNCED,  # the confirm email bounced
                                         SubscriptionStatus.COMPLAINED),
        SubscriptionStatus.ACTIVE: (SubscriptionStatus.UNSUBSCRIBED, SubscriptionStatus.BOUNCED,
                                    SubscriptionStatus.COMPLAINED),
        SubscriptionStatus.UNSUBSCRIBED: (SubscriptionStatus.ACTIVE,
                                          SubscriptionStatus.UNCONFIRMED),
        SubscriptionStatus.BOUNCED: (),
        SubscriptionStatus.COMPLAINED: (),
    },
}


def may_move(current: StrEnum, target: StrEnum) -> bool:
    """True when a row in state `current` may be moved to `target`."""
    return target in TRANSITIONS[type(current)][current]
