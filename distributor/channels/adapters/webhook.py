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
    check_status,
    post_json,
)
from distributor.errors import PermanentError


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
        # an empty key (an unset ${VAR} in the TOML) would let anyone sign for us
        if value is not None and len(secret_bytes(value.get_secret_value())) < 16:
            raise ValueError("secret must hold at least 16 bytes of key (whsec_ + base64)")
        return value


def secret_bytes(secret: str) -> bytes:
    """A Standard Webhooks secret is 'whsec_' + base64; a bare base64 string is taken too."""
    encoded = secret.removeprefix("whsec_")
    try:
        return base64.b64decode(encoded, validate=True)
    except ValueError:
        raise ValueError("secret must be whsec_ followed by base64") from None


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
        payload = {"type": "article.published", "channel": self.name,
                   "text": message.text, "article": message.article}
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        if len(body) > self.limits.max_length:
            payload["article"] = {k: v for k, v in message.article.items() if k != "body_html"}
            body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        if len(body) > self.limits.max_length:
            raise PermanentError(f"payload is {len(body)} bytes, over {self.limits.max_length}")
        return body

    def endpoint(self) -> str:
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
        check_status(response)
        return Receipt(remote_id=response.headers.get("X-Request-Id"))
