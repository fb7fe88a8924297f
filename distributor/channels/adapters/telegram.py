"""Telegram channel through the Bot API.

`POST {base_url}/bot{token}/sendMessage` with {chat_id, text, parse_mode: HTML,
link_preview_options}. Errors come as {"ok": false, "error_code", "description",
"parameters": {"retry_after"}}. A 400 "can't parse entities" is sent once more as
plain text (the same words without markup, links as "label: url") inside the same
`send`. A 401 or 403 (token revoked, bot kicked) disables the channel.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

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
    post_json,
    retry_after_header,
    text_instead,
)
from distributor.channels.adapters.formats import html_to_plain_with_links, utf16_length
from distributor.errors import CredentialsRefused, DeliveryError, PermanentError, TransientError
from distributor.states import PostState

_CHAT_ID = re.compile(r"^(@[A-Za-z][A-Za-z0-9_]{3,31}|-100\d{5,})$")
_TOKEN = re.compile(r"^\d{3,}:[A-Za-z0-9_-]{20,}$")


class TelegramOptions(Options):
    chat_id: str
    token: SecretStr
    link_preview: bool = True
    media: Media = "preview"
    silent: bool = False  # disable_notification

    @field_validator("chat_id", mode="before")
    @classmethod
    def _chat_id(cls, value: Any) -> str:
        value = str(value).strip()
        if not _CHAT_ID.match(value):
            raise ValueError("chat_id must be a channel @username or a -100… channel id")
        return value

    @field_validator("token")
    @classmethod
    def _token(cls, value: SecretStr) -> SecretStr:
        if not _TOKEN.match(value.get_secret_value()):
            raise ValueError("token must be a bot token like 123456:ABC… (from @BotFather)")
        return value


def plain_text(text: str, limit: int) -> str:
    """The HTML as plain text with its link URLs; when the URLs make it too long, the
    lines before the last (the link line) are cut."""
    plain = html_to_plain_with_links(text)
    if utf16_length(plain) <= limit:
        return plain
    head, _, last = plain.rpartition("\n")
    room = limit - utf16_length(last) - 2
    while head and utf16_length(head) > room:
        head = head[:-max(1, (utf16_length(head) - room) // 2)]
    return f"{head.rstrip()}\u2026\n{last}" if head else last[:limit]


class TelegramAdapter(ChannelAdapter):
    type: ClassVar[str] = "telegram"
    Options = TelegramOptions
    limits: ClassVar[Limits] = Limits(max_length=4096, format="telegram-html")
    caption_max: ClassVar[int | None] = 1024  # sendPhoto: "0-1024 characters after entities parsing"
    default_base_url: ClassVar[str | None] = "https://api.telegram.org"
    default_rate: ClassVar[str] = "20/m"
    requires_base_url: ClassVar[bool] = False

    def endpoint(self, message: Outgoing | None = None, masked: bool = True,
                 method: str | None = None) -> str:
        if method is None:
            image = message is not None and image_of(self.options, message.article)
            method = "sendPhoto" if image else "sendMessage"
        token = "***" if masked else self.options.token.get_secret_value()
        return f"{self.base_url}/bot{token}/{method}"

    def payload(self, message: Outgoing, plain: bool = False) -> dict[str, Any]:
        """sendPhoto's body when the post carries the article's image, else sendMessage's."""
        image = image_of(self.options, message.article)
        if image and not plain:
            return self.photo_payload(message, image)
        return self.text_payload(message, plain)

    def photo_payload(self, message: Outgoing, image: str) -> dict[str, Any]:
        body = {"chat_id": self.options.chat_id, "photo": image, "caption": message.text,
                "parse_mode": "HTML"}
        if self.options.silent:
            body["disable_notification"] = True
        return body

    def text_payload(self, message: Outgoing, plain: bool = False) -> dict[str, Any]:
        body: dict[str, Any] = {"chat_id": self.options.chat_id}
        if plain:
            body["text"] = plain_text(message.text, self.limits.max_length)
        else:
            body["text"], body["parse_mode"] = message.text, "HTML"
        if not self.options.link_preview or self.options.media != "preview":
            body["link_preview_options"] = {"is_disabled": True}
        elif message.article.get("url"):
            # LinkPreviewOptions: the article's own preview, its picture large above the text.
            body["link_preview_options"] = {"url": message.article["url"],
                                            "prefer_large_media": True, "show_above_text": True}
        if self.options.silent:
            body["disable_notification"] = True
        return body

    def send(self, message: Outgoing) -> Receipt:
        image = image_of(self.options, message.article)
        if image:
            try:
                return self._send(self.photo_payload(message, image), "sendPhoto")
            except DeliveryError as exc:
                if not text_instead(exc):
                    raise
                note = f"sent as text: the photo was refused ({exc})"[:300]
            receipt = self._send_text(message)
            return Receipt(receipt.remote_id, receipt.state, {**receipt.details, "note": note})
        return self._send_text(message)

    def _send_text(self, message: Outgoing) -> Receipt:
        try:
            return self._send(self.text_payload(message))
        except PermanentError as exc:
            if "can't parse entities" not in str(exc).lower():
                raise
        receipt = self._send(self.text_payload(message, plain=True))
        return Receipt(receipt.remote_id, receipt.state,
                       {**receipt.details, "note": "sent as plain text: the HTML was refused"})

    def _send(self, body: dict[str, Any], method: str = "sendMessage") -> Receipt:
        response = post_json(self.http, self.endpoint(masked=False, method=method), self.timeout,
                             json=body)
        data = json_body(response)
        data = data if isinstance(data, dict) else {}
        parameters = data.get("parameters") if isinstance(data.get("parameters"), dict) else {}
        description = str(data.get("description") or response.text[:300])
        if response.status_code == 429:
            wait = parameters.get("retry_after")
            retry_after = float(wait) if isinstance(wait, int | float) else retry_after_header(
                response)
            raise TransientError(f"429 rate limited: {description}", retry_after=retry_after)
        if response.status_code in (401, 403):
            # 401: the token was revoked; 403: the bot was kicked or is no member of the chat.
            raise CredentialsRefused(f"{response.status_code}: credentials refused: {description}")
        if parameters.get("migrate_to_chat_id"):
            raise PermanentError(f"{response.status_code}: {description} (the chat moved: "
                                 f"set chat_id = {parameters['migrate_to_chat_id']})")
        check_status(response, description)
        result = data.get("result") if isinstance(data.get("result"), dict) else {}
        if not data.get("ok") or "message_id" not in result:
            raise PermanentError(f"{response.status_code}: unexpected answer: {description}")
        return Receipt(remote_id=str(result["message_id"]), state=PostState.SENT,
                       details=answer(response))
