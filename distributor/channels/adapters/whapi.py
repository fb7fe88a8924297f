"""WhatsApp channel through Whapi.Cloud (https://whapi.cloud).

`POST {base_url}/messages/text` with `Authorization: Bearer <token>`; body
{to, body}. The answer {"sent": true, "message": {"id": …}} means the gateway
took it: the post is recorded `accepted`; a 2xx without `sent: true` is tried again.
"""

from __future__ import annotations

from typing import Any, ClassVar
from urllib.parse import quote

import requests
from pydantic import SecretStr, field_validator

from distributor.channels.adapters.base import (
    ChannelAdapter,
    Limits,
    Media,
    Options,
    Outgoing,
    Receipt,
    answer,
    check_status,
    image_of,
    json_body,
    newsletter_chat_id,
    post_json,
    text_instead,
)
from distributor.errors import CredentialsRefused, DeliveryError, TransientError
from distributor.states import PostState


class WhapiOptions(Options):
    chat_id: str
    token: SecretStr
    media: Media = "preview"

    @field_validator("chat_id", mode="before")
    @classmethod
    def _chat_id(cls, value: Any) -> str:
        return newsletter_chat_id(value)

    @field_validator("token")
    @classmethod
    def _token(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().strip():
            raise ValueError("token must not be empty")
        return value


LOOK_BACK = 20  # messages read back after a timeout


class WhapiAdapter(ChannelAdapter):
    type: ClassVar[str] = "whapi"
    Options = WhapiOptions
    limits: ClassVar[Limits] = Limits(max_length=4096, format="whatsapp")
    caption_max: ClassVar[int | None] = 1024  # Meta: an image caption, "Maximum 1024 characters"
    default_base_url: ClassVar[str | None] = "https://gate.whapi.cloud"
    default_rate: ClassVar[str] = "10/m"
    requires_base_url: ClassVar[bool] = False

    def endpoint(self, message: Outgoing | None = None) -> str:
        image = message is not None and image_of(self.options, message.article)
        return f"{self.base_url}/messages/{'image' if image else 'text'}"

    def payload(self, message: Outgoing) -> dict[str, Any]:
        image = image_of(self.options, message.article)
        if image:  # sendMessageImage: {to, media (a URL), caption}
            return {"to": self.options.chat_id, "media": image, "caption": message.text}
        body = {"to": self.options.chat_id, "body": message.text}
        if self.options.media == "preview":
            body["wide_link_preview"] = True  # "try to send the fullwidth link preview"
        else:
            body["no_link_preview"] = True
        return body

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.options.token.get_secret_value()}",
                "Accept": "application/json"}

    def find_posted(self, message: Outgoing) -> Receipt | None:
        """After a timeout: the message if the chat's last messages hold it (ours, same
        text), else None, also when they cannot be read (the caller posts again)."""
        url = f"{self.base_url}/messages/list/{quote(self.options.chat_id, safe='@')}"
        try:
            response = self.http.get(url, timeout=self.timeout, headers=self.headers(),
                                     params={"count": LOOK_BACK}, allow_redirects=False)
        except requests.RequestException:
            return None
        found = _posted(json_body(response), message.text) if response.ok else None
        if found is None:
            return None
        return Receipt(remote_id=str(found.get("id") or "") or None, state=PostState.ACCEPTED,
                       details={"found": "in the chat after a timeout: not sent again"})

    def send(self, message: Outgoing) -> Receipt:
        if image_of(self.options, message.article):
            try:
                return self._send(self.endpoint(message), self.payload(message))
            except DeliveryError as exc:
                if not text_instead(exc):
                    raise
            message = Outgoing(message.post_id, message.idempotency_key, message.text,
                               {**message.article, "image_url": None})
        return self._send(self.endpoint(message), self.payload(message))

    def _send(self, url: str, body: dict[str, Any]) -> Receipt:
        response = post_json(self.http, url, self.timeout, json=body, headers=self.headers())
        text = _error_text(response)
        if response.status_code == 401:
            raise CredentialsRefused(f"401: credentials refused (check token): {text}")
        check_status(response, text)
        body = json_body(response)
        if not isinstance(body, dict) or body.get("sent") is not True:
            # SentMessage.sent is the gateway's own word on whether it went.
            raise TransientError(f"{response.status_code}: Whapi did not send it "
                                 f"(sent is not true): {response.text[:200]}")
        remote_id = None
        if isinstance(body, dict) and isinstance(body.get("message"), dict):
            remote_id = body["message"].get("id")
        return Receipt(remote_id=str(remote_id) if remote_id else None, state=PostState.ACCEPTED,
                       details=answer(response))


def _posted(body: Any, text: str) -> dict[str, Any] | None:
    """In a GET /messages/list/{ChatID} answer: our message with this text."""
    messages = body.get("messages") if isinstance(body, dict) else None
    for item in messages if isinstance(messages, list) else []:
        if isinstance(item, dict) and item.get("from_me") is not False and \
                isinstance(item.get("text"), dict) and item["text"].get("body") == text:
            return item
    return None


def _error_text(response: requests.Response) -> str:
    """Whapi errors: {"error": {"code": 400, "message": "…", "details": "…"}}."""
    body = json_body(response)
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        parts = [str(error[k]) for k in ("message", "details") if error.get(k)]
        if parts:
            return ": ".join(parts)[:300]
    return response.text[:300]
