"""What every channel adapter is: limits as data, and one `send`.

An adapter never sleeps, never retries by itself and never swallows a 429: it
raises TransientError(retry_after=…) or PermanentError and the task decides.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Protocol, runtime_checkable
from urllib.parse import urlsplit

import requests
from pydantic import BaseModel, ConfigDict

from distributor.errors import DeliveryError, PermanentError, TransientError
from distributor.mutations import disabled
from distributor.states import PostState


class Options(BaseModel):
    """Base of each adapter's type-specific config keys."""

    model_config = ConfigDict(extra="forbid")


# How a post shows the article's picture: the service's link preview, the image itself
# (the text as its caption), or neither.
Media = Literal["preview", "image", "none"]


def image_of(options: Any, article: dict[str, Any]) -> str | None:
    """The image to post, when the channel posts images and the article has one."""
    if getattr(options, "media", None) == "image" and article.get("image_url"):
        return str(article["image_url"])
    return None


def text_instead(exc: DeliveryError) -> bool:
    """After an image post failed: may the same words go as text? Not when the channel
    is gone or paused, the service asked us to wait, or the image post may have gone."""
    if isinstance(exc, PermanentError):
        return not exc.disable
    return isinstance(exc, TransientError) and exc.retry_after is None and not exc.maybe_sent


@dataclass(frozen=True)
class Limits:
    max_length: int  # characters of message text (bytes of body for webhooks)
    format: str  # json | whatsapp | telegram-html | slack-mrkdwn | discord-markdown


@dataclass(frozen=True)
class Outgoing:
    """One post to send: the rendered text and the article it announces."""

    post_id: int
    idempotency_key: str  # stable per article and channel
    text: str
    article: dict[str, Any]


def idempotency_key(article_id: int, channel: str) -> str:
    """Stable per article and channel: receivers can drop a repeated post by it. Standard
    Webhooks signs `id.timestamp.body`, so the id holds no '.' (nor anything but
    [A-Za-z0-9_-]): a channel name that does is replaced by a digest of it."""
    if not re.fullmatch(r"[A-Za-z0-9_-]+", channel):
        channel = hashlib.sha256(channel.encode()).hexdigest()[:16]
    if disabled("idempotency-key"):
        return f"msg_{article_id}_{channel}_{uuid.uuid4().hex[:8]}"
    return f"msg_{article_id}_{channel}"


@dataclass(frozen=True)
class Receipt:
    remote_id: str | None = None
    state: PostState = PostState.SENT  # or ACCEPTED: the gateway took it, delivery unseen
    details: dict[str, Any] = field(default_factory=dict)


class ChannelAdapter:
    """What every adapter holds: its name, the base of its endpoint, its options and
    the worker's shared HTTP pool. Subclasses add limits, Options and `send`."""

    default_base_url: ClassVar[str | None] = None
    limits: ClassVar[Limits]
    caption_max: ClassVar[int | None] = None  # an image's caption limit, if it has one

    @classmethod
    def text_limits(cls, options: Any, article: dict[str, Any]) -> Limits:
        """The limit this post's text must fit: a caption's when it goes with an image."""
        if cls.caption_max is not None and image_of(options, article):
            return Limits(min(cls.limits.max_length, cls.caption_max), cls.limits.format)
        return cls.limits

    def __init__(self, name: str, base_url: str | None, options: Any,
                 http: requests.Session, timeout: float) -> None:
        self.name = name
        self.base_url = (base_url or self.default_base_url or "").rstrip("/")
        self.options = options
        self.http = http
        self.timeout = timeout


class Adapter(Protocol):
    type: ClassVar[str]
    Options: ClassVar[type[Options]]
    limits: ClassVar[Limits]
    default_base_url: ClassVar[str | None]
    default_rate: ClassVar[str]
    requires_base_url: ClassVar[bool]  # no public API: the operator must give base_url

    def __init__(self, name: str, base_url: str | None, options: Any,
                 http: requests.Session, timeout: float) -> None: ...

    @classmethod
    def text_limits(cls, options: Any, article: dict[str, Any]) -> Limits: ...

    def payload(self, message: Outgoing) -> dict[str, Any]:
        """The JSON body `send` posts (for previews; holds no secret)."""

    def endpoint(self, message: Outgoing | None = None) -> str:
        """Where `send` posts (this message, when given), with any secret masked."""

    def send(self, message: Outgoing) -> Receipt: ...


@runtime_checkable
class ReadsBack(Protocol):
    """An adapter that can tell whether a post already reached the channel (WAHA, Whapi)."""

    def find_posted(self, message: Outgoing) -> Receipt | None:
        """The post if the channel shows it; None when not, or when that cannot be told."""


def retry_after_header(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        from datetime import UTC, datetime
        from email.utils import parsedate_to_datetime

        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return max(0.0, (when - datetime.now(UTC)).total_seconds())


def post_json(http: requests.Session, url: str, timeout: float, **kwargs: Any) -> requests.Response:
    """POST and translate transport failures into our errors (the edge). Redirects are
    never followed: requests would turn a 301/302/303 into a GET without the body, carry
    the secret headers to the new place and report its 2xx as our post's."""
    try:
        return http.post(url, timeout=timeout, allow_redirects=False, **kwargs)
    except requests.ConnectTimeout:
        raise TransientError("timed out connecting (nothing was sent)") from None
    except requests.Timeout:
        raise TransientError("timed out waiting for the answer (the post may have gone)",
                             maybe_sent=True) from None
    except requests.ConnectionError as exc:
        raise TransientError(f"connection failed: {type(exc).__name__}") from None
    except requests.RequestException as exc:
        raise PermanentError(f"request failed: {type(exc).__name__}") from None


def check_status(response: requests.Response, error_text: str | None = None) -> None:
    """Map an HTTP status to our errors. 2xx returns."""
    status = response.status_code
    if 200 <= status < 300:
        return
    check_moved(response)
    text = error_text if error_text is not None else response.text[:300]
    if status == 429:
        raise TransientError(f"429 rate limited: {text}", retry_after=retry_after_header(response))
    if status >= 500 or status == 408:
        raise TransientError(f"{status}: {text}", retry_after=retry_after_header(response))
    if status in (404, 410):
        raise PermanentError(f"{status}: endpoint gone: {text}", disable=True)
    raise PermanentError(f"{status}: {text}")


def check_moved(response: requests.Response) -> None:
    """A 3xx fails the post: the configured URL is out of date."""
    if 300 <= response.status_code < 400:
        target = urlsplit(response.headers.get("Location", ""))
        # Only the scheme and host: the path may hold a token (Telegram's /bot<token>/).
        where = f" (to {target.scheme}://{target.netloc})" if target.netloc else ""
        raise PermanentError(f"{response.status_code}: the service moved{where}: update the URL")


def json_body(response: requests.Response) -> Any:
    """The parsed JSON answer, or None when it is not JSON."""
    try:
        return response.json()
    except ValueError:
        return None


def answer(response: requests.Response) -> dict[str, Any]:
    """What the service said, for receipts and `distributor channels test`."""
    body = json_body(response)
    return {"status": response.status_code,
            "body": body if body is not None else response.text[:500]}


def http_url(value: str, key: str = "url") -> str:
    if not str(value).startswith(("http://", "https://")):
        raise ValueError(f"{key} must start with http:// or https://")
    return str(value).rstrip("/") if key == "base_url" else str(value)


NEWSLETTER_ID = re.compile(r"^\d{6,30}@newsletter$")


def newsletter_chat_id(value: Any) -> str:
    """A WhatsApp channel id: digits followed by @newsletter."""
    value = str(value).strip()
    if not NEWSLETTER_ID.match(value):
        raise ValueError("chat_id must be a WhatsApp channel id like 120363000000000000@newsletter")
    return value


def mask_url(url: str) -> str:
    """A webhook URL with its secret part (the last path segment) hidden."""
    base, _, last = url.split("?", 1)[0].rstrip("/").rpartition("/")
    return f"{base}/{'*' * min(8, len(last))}" if base.count("/") > 2 else base + "/" + last
