"""Generic webhook: the article as JSON, signed per Standard Webhooks
(webhook-id, webhook-timestamp, webhook-signature: v1,base64(HMAC-SHA256(id.ts.body)))."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import ClassVar

from pydantic import SecretStr, field_validator

from distributor.channels.adapters.base import (
    ChannelAdapter,
    Limits,
    Options,
    Outgoing,
    Receipt,
    check_moved,
    post_json,
    retry_after_header,
)
from distributor.errors import PermanentError, TransientError


class WebhookOptions(Options):
    url: str
    secret: SecretStr | None = None

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("url must start with http:// or https://")
        return value

    @field_validator("secret")
    @classmethod
    def _secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            size = len(secret_bytes(value.get_secret_value()))
            if not SECRET_MIN <= size <= SECRET_MAX:
                raise ValueError(f"secret must decode to {SECRET_MIN} to {SECRET_MAX} bytes "
                                 f"(Standard Webhooks), not {size}")
        return value


# Standard Webhooks: "Between 24 bytes (192 bits) and 64 bytes (512 bits)".
SECRET_MIN, SECRET_MAX = 24, 64


def secret_bytes(secret: str) -> bytes:
    """A Standard Webhooks secret is 'whsec_' + base64 (padding optional, as the
    reference library takes it); a bare base64 string is taken too. Never empty."""
    encoded = secret.removeprefix("whsec_").strip()
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except ValueError:
        raise ValueError("secret must be whsec_ followed by base64") from None
    if not key:
        raise ValueError("secret must not be empty")
    return key


def check_answer(response) -> None:
    """Standard Webhooks: 2xx is success, 410 Gone disables the endpoint, a 3xx
    is a failure to fix in the URL; every other answer (404 and 4xx included) is
    retried on the backoff schedule until the channel's max_age."""
    status = response.status_code
    if 200 <= status < 300:
        return
    check_moved(response)
    text = response.text[:300]
    if status == 410:
        raise PermanentError(f"410: endpoint gone: {text}", disable=True)
    raise TransientError(f"{status}: {text}", retry_after=retry_after_header(response))


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_bytes(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def verify(secret: str, headers: dict[str, str], body: bytes, tolerance: int = 300,
           now: float | None = None) -> str:
    """Check a Standard Webhooks signature; return the webhook-id or raise ValueError."""
    lowered = {k.lower(): v for k, v in headers.items()}
    message_id = lowered.get("webhook-id")
    timestamp = lowered.get("webhook-timestamp")
    signatures = lowered.get("webhook-signature")
    if not (message_id and timestamp and signatures):
        raise ValueError("missing webhook-id, webhook-timestamp or webhook-signature")
    try:
        sent = int(timestamp)
    except ValueError:
        raise ValueError("webhook-timestamp is not a number") from None
    if abs((now or time.time()) - sent) > tolerance:
        raise ValueError("webhook-timestamp is too old or in the future")
    expected = sign(secret, message_id, sent, body).split(",", 1)[1]
    for candidate in signatures.split():
        version, _, value = candidate.partition(",")
        # bytes: compare_digest refuses str with non-ASCII characters (a raised TypeError)
        if version == "v1" and hmac.compare_digest(value.encode("utf-8", "replace"),
                                                   expected.encode()):
            return message_id
    raise ValueError("webhook-signature does not match")


def _dumps(payload: dict) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


class WebhookAdapter(ChannelAdapter):
    type: ClassVar[str] = "webhook"
    Options = WebhookOptions
    limits: ClassVar[Limits] = Limits(max_length=20_000, format="json")
    default_base_url: ClassVar[str | None] = None
    default_rate: ClassVar[str] = "10/s"
    requires_base_url: ClassVar[bool] = False

    @property
    def url(self) -> str:
        return self.options.url

    @property
    def secret(self) -> str | None:
        return self.options.secret.get_secret_value() if self.options.secret else None

    def body(self, message: Outgoing) -> bytes:
        """The JSON body, kept under the spec's recommended 20 kB: without body_html when
        it is too big, then with the summary cut; refused only when even that is over."""
        payload = {"type": "article.published", "channel": self.name,
                   "text": message.text, "article": message.article}
        body = _dumps(payload)
        if len(body) > self.limits.max_length:
            payload["article"] = {k: v for k, v in message.article.items() if k != "body_html"}
            body = _dumps(payload)
        raw = str(payload["article"].get("summary") or "").encode()
        budget = len(raw) - (len(body) - self.limits.max_length) - 3  # 3: the ellipsis
        while raw and budget > 0 and len(body) > self.limits.max_length:
            cut = raw[:budget].decode(errors="ignore") + "\u2026"
            payload["article"] = {**payload["article"], "summary": cut}
            body = _dumps(payload)
            budget -= max(1, len(body) - self.limits.max_length)  # JSON escapes cost more
        if len(body) > self.limits.max_length:
            raise PermanentError(f"payload is {len(body)} bytes, over {self.limits.max_length}")
        return body

    def endpoint(self, message: Outgoing | None = None) -> str:
        return self.url

    def payload(self, message: Outgoing) -> dict:
        return json.loads(self.body(message))

    def send(self, message: Outgoing) -> Receipt:
        body = self.body(message)
        headers = {"Content-Type": "application/json", "webhook-id": message.idempotency_key}
        if self.secret:
            timestamp = int(time.time())
            headers["webhook-timestamp"] = str(timestamp)
            headers["webhook-signature"] = sign(self.secret, message.idempotency_key,
                                                timestamp, body)
        response = post_json(self.http, self.url, self.timeout, data=body, headers=headers)
        check_answer(response)
        return Receipt(remote_id=response.headers.get("X-Request-Id"))
