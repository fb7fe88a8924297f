"""The one error tree of distributor.

    DistributorError                  root: everything we raise on purpose
    ├── ConfigError                   a bad setting or config file (exit 2)
    ├── InvalidInput                  user input refused; .fields names what (exit 2, HTTP 4xx)
    │   ├── NotFound                  a named thing does not exist (HTTP 404)
    │   ├── SignatureRefused          a signed request that does not verify, or too old (HTTP 401)
    │   ├── SkipItem                  a feed item that cannot be an article (the poll goes on)
    │   └── TooLong                   channel text that no shortening can fit in the limit
    ├── Unavailable                   the database or broker does not answer (exit 1, HTTP 503)
    ├── FeedError                     a feed could not be fetched or parsed
    ├── MailboxError                  the bounce mailbox could not be read (login, network)
    └── DeliveryError                 a peer (SMTP server, channel API) refused or failed
        ├── TransientError            try again later; .retry_after in seconds when the peer said
        │   ├── Throttled             the peer asks us to slow down (421, 4.7.x, "too many"):
        │   │                         not the recipient's fault, no attempt spent
        │   └── Unreachable           the mail server cannot be reached (connect, EHLO, TLS):
        │                             another route may take the mail
        └── PermanentError            do not retry; .disable when the endpoint is gone for good
            ├── RecipientRefused      the SMTP server refused this address (5xx on RCPT): bounce
            └── CredentialsRefused    a channel refused our token or key: pause it until fixed

Third-party exceptions (smtplib, imaplib, requests, redis, SQLAlchemy) are translated at
the edge that calls them, nowhere else.
"""

from __future__ import annotations


class DistributorError(Exception):
    """Root of every error distributor raises on purpose."""


class ConfigError(DistributorError):
    """A setting or the config file is wrong; the message names it."""


class InvalidInput(DistributorError):
    """Input was refused. ``fields`` maps a field name to what is wrong with it."""

    status_code = 422

    def __init__(self, message: str, fields: dict[str, str] | None = None):
        super().__init__(message)
        self.fields = dict(fields or {})

    def __str__(self) -> str:
        message = super().__str__()
        if not self.fields:
            return message
        detail = "; ".join(f"{name}: {why}" for name, why in self.fields.items())
        return f"{message} ({detail})"


class NotFound(InvalidInput):
    """The thing named does not exist."""

    status_code = 404


class SignatureRefused(InvalidInput):
    """A provider's signed request whose signature, certificate or timestamp does not
    verify; the message says which, never the secret."""

    status_code = 401


class SkipItem(InvalidInput):
    """A feed item that cannot become an article (no link, no title, ...)."""


class TooLong(InvalidInput):
    """The rendered channel text cannot be shortened to the service's limit."""


class Unavailable(DistributorError):
    """A service we depend on (database, broker) does not answer."""


class FeedError(DistributorError):
    """A feed could not be fetched or parsed; the message says why, for the feed's row."""


class MailboxError(DistributorError):
    """The bounce mailbox could not be read; the message says why (never the password)."""


class DeliveryError(DistributorError):
    """Sending to a peer failed."""


class TransientError(DeliveryError):
    """Worth another try; ``retry_after`` is the peer's own wait in seconds, if it gave one;
    ``maybe_sent`` when the request went out and no answer came (the peer may have it)."""

    def __init__(self, message: str, retry_after: float | None = None, maybe_sent: bool = False):
        super().__init__(message)
        self.retry_after = retry_after
        self.maybe_sent = maybe_sent


class Throttled(TransientError):
    """The peer is throttling us: slow the route down and try the rest later; it says
    nothing about the recipient."""


class Unreachable(TransientError):
    """The mail server could not be reached or spoken to at all; nothing was sent."""


class PermanentError(DeliveryError):
    """Not worth another try; ``disable`` means the endpoint itself is gone."""

    def __init__(self, message: str, disable: bool = False):
        super().__init__(message)
        self.disable = disable


class CredentialsRefused(PermanentError):
    """The service refused our credentials (revoked token, bot removed): the channel is
    paused until an operator fixes it and runs `channels test` or `failures retry`."""

    def __init__(self, message: str):
        super().__init__(message, disable=True)


class RecipientRefused(PermanentError):
    """The mail server refused this recipient for good: mark bounced and suppress."""
