"""WhatsApp channel through a WAHA gateway (https://waha.devlike.pro).

`POST {base_url}/api/sendText` with `X-Api-Key`; body {session, chatId, text,
linkPreview}. A 2xx means the gateway took the message, not that WhatsApp
delivered it: the post is recorded `accepted`. With `verify = true` the adapter
reads the channel's last messages back and records `confirmed` or `unconfirmed`.
After a timeout (the gateway may have taken the message) the next try reads the
channel first and does not post again when the message is there.
"""

from __future__ import annotations

import mimetypes
from typing import Any, ClassVar
from urllib.parse import quote, urlsplit

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

VERIFY_LAST = 20  # messages read back when verifying


class WahaOptions(Options):
    chat_id: str
    api_key: SecretStr
    session: str = "default"
    link_preview: bool = True
    media: Media = "preview"
    verify: bool = False

    @field_validator("chat_id", mode="before")
    @classmethod
    def _chat_id(cls, value: Any) -> str:
        return newsletter_chat_id(value)

    @field_validator("session")
    @classmethod
    def _session(cls, value: str) -> str:
        if not value or "/" in value:
            raise ValueError("session must be a WAHA session name such as default")
        return value


def message_id(body: Any) -> str | None:
    """WAHA engines answer with {"id": "true_…"}, {"id": {"_serialized": …}} or {"key": {"id"}}."""
    if not isinstance(body, dict):
        return None
    ident = body.get("id")
    if isinstance(ident, dict):
        ident = ident.get("_serialized") or ident.get("id")
    if ident is None and isinstance(body.get("key"), dict):
        ident = body["key"].get("id")
    return str(ident) if ident else None


def same_message(sent: str, seen: str) -> bool:
    """Serialized ids differ between calls ('true_<chat>_<id>' vs '<id>'): compare the tail."""
    return sent == seen or sent.rsplit("_", 1)[-1] == seen.rsplit("_", 1)[-1]


SESSION_NOT_READY = "WhatsApp session not ready"


def error_text(response: requests.Response) -> str:
    """WAHA errors: NestJS {"statusCode", "message"} or {"error", "session", "status"}."""
    body = json_body(response)
    if isinstance(body, dict):
        words = body.get("message") or body.get("error")
        if isinstance(words, list):  # NestJS validation: a list of what is wrong
            words = "; ".join(str(w) for w in words)
        if words:
            state = f" (session status {body['status']})" if body.get("status") else ""
            return f"{words}{state}"[:300]
    return response.text[:300]


def check_answer(response: requests.Response) -> None:
    """A session that is starting, waiting for its QR scan or not started (a WAHA
    restart) is temporary: 422 "Session status is not as expected…" and 404 "We didn't
    find a session…". A refused key disables the channel until an operator acts."""
    status, text = response.status_code, error_text(response)
    if status == 422 and "status is not as expected" in text.lower() or \
            status == 404 and "find a session" in text.lower():
        raise TransientError(f"{SESSION_NOT_READY}: {status}: {text}")
    if status == 401:
        raise CredentialsRefused(f"401: credentials refused (check api_key): {text}")
    check_status(response, text)


class WahaAdapter(ChannelAdapter):
    type: ClassVar[str] = "waha"
    Options = WahaOptions
    limits: ClassVar[Limits] = Limits(max_length=4096, format="whatsapp")
    caption_max: ClassVar[int | None] = 1024  # Meta: an image caption, "Maximum 1024 characters"
    default_base_url: ClassVar[str | None] = None
    default_rate: ClassVar[str] = "10/m"
    requires_base_url: ClassVar[bool] = True

    def headers(self) -> dict[str, str]:
        return {"X-Api-Key": self.options.api_key.get_secret_value(),
                "Accept": "application/json"}

    def endpoint(self, message: Outgoing | None = None) -> str:
        image = message is not None and image_of(self.options, message.article)
        return f"{self.base_url}/api/{'sendImage' if image else 'sendText'}"

    def payload(self, message: Outgoing) -> dict[str, Any]:
        image = image_of(self.options, message.article)
        if image:
            return self.image_payload(message, image)
        preview = self.options.link_preview and self.options.media == "preview"
        return {"session": self.options.session, "chatId": self.options.chat_id,
                "text": message.text, "linkPreview": preview,
                **({"linkPreviewHighQuality": True} if preview else {})}

    def image_payload(self, message: Outgoing, image: str) -> dict[str, Any]:
        """POST /api/sendImage: MessageImageRequest {session, chatId, file (RemoteFile
        {mimetype, filename, url}), caption}."""
        name = urlsplit(image).path.rsplit("/", 1)[-1] or "image.jpg"
        mimetype = mimetypes.guess_type(name)[0] or "image/jpeg"
        return {"session": self.options.session, "chatId": self.options.chat_id,
                "file": {"mimetype": mimetype, "filename": name, "url": image},
                "caption": message.text}

    def send(self, message: Outgoing) -> Receipt:
        image = image_of(self.options, message.article)
        if image:
            try:
                return self._send(message, self.endpoint(message),
                                  self.image_payload(message, image))
            except DeliveryError as exc:
                if not text_instead(exc):
                    raise
            text = Outgoing(message.post_id, message.idempotency_key, message.text,
                            {**message.article, "image_url": None})
            return self._send(text, self.endpoint(text), self.payload(text))
        return self._send(message, self.endpoint(message), self.payload(message))

    def _send(self, message: Outgoing, url: str, body: dict[str, Any]) -> Receipt:
        response = post_json(self.http, url, self.timeout, json=body, headers=self.headers())
        check_answer(response)
        remote_id = message_id(json_body(response))
        details = answer(response)
        if not self.options.verify:
            return Receipt(remote_id=remote_id, state=PostState.ACCEPTED, details=details)
        state, seen = self.verify(remote_id)
        return Receipt(remote_id=remote_id, state=state, details={**details, "verify": seen})

    def recent(self) -> list[dict[str, Any]] | str:
        """The channel's last messages, or why they could not be read. Never raises."""
        chat = quote(self.options.chat_id, safe="")  # WAHA docs: "escape @ in chatId with %40"
        url = (f"{self.base_url}/api/{quote(self.options.session, safe='')}/chats/{chat}"
               f"/messages")
        try:
            response = self.http.get(url, timeout=self.timeout, headers=self.headers(),
                                     allow_redirects=False,
                                     params={"limit": VERIFY_LAST, "downloadMedia": "false"})
            check_status(response)
        except (requests.RequestException, DeliveryError) as exc:
            return f"reading back failed: {type(exc).__name__}: {exc}"[:300]
        messages = json_body(response)
        if not isinstance(messages, list):
            return "the gateway did not answer with a list of messages"
        return [m for m in messages if isinstance(m, dict)]

    def verify(self, remote_id: str | None) -> tuple[PostState, str]:
        """Read the channel's last messages back: ('confirmed'|'unconfirmed', why). Never
        raises: the message was already handed over, so a failure here must not resend it."""
        if not remote_id:
            return PostState.UNCONFIRMED, "the gateway gave no message id"
        messages = self.recent()
        if isinstance(messages, str):
            return PostState.UNCONFIRMED, messages
        for item in messages:
            seen = message_id(item)
            if seen and same_message(remote_id, seen):
                return PostState.CONFIRMED, f"found among the last {len(messages)} messages"
        return PostState.UNCONFIRMED, f"not among the last {len(messages)} messages"

    def find_posted(self, message: Outgoing) -> Receipt | None:
        """After a timeout: the message if the channel already shows it (ours, same text),
        else None (also when the channel cannot be read: the caller posts again)."""
        messages = self.recent()
        if isinstance(messages, str):
            return None
        for item in messages:
            if item.get("fromMe") is not False and item.get("body") == message.text:
                return Receipt(remote_id=message_id(item), state=PostState.CONFIRMED,
                               details={"found": "in the channel after a timeout: not sent again"})
        return None
