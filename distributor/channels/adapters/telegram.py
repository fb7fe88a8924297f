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
    Options,
    Outgoing,
    Receipt,
    answer,
    check_status,
    json_body,
    post_json,
    retry_after_header,
)
from distributor.channels.adapters.formats import html_to_plain_with_links, utf16_length
from distributor.errors import CredentialsRefused, PermanentError, TransientError
from distributor.states import PostState

_CHAT_ID = re.compile(r"^(@[A-Za-z][A-Za-z0-9_]{3,31}|-100\d{5,})$")
_TOKEN = re.compile(r"^\d{3,}:[A-Za-z0-9_-]{20,}$")


class TelegramOptions(Options):
    chat_id: str
    token: SecretStr
    link_preview: bool = True
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
    default_base_url: ClassVar[str | None] = "https://api.telegram.org"
    default_rate: ClassVar[str] = "20/m"
    requires_base_url: ClassVar[bool] = False

    def endpoint(self, masked: bool = True) -> str:
        token = "***" if masked else self.options.token.get_secret_value()
        return f"{self.base_url}/bot{token}/sendMessage"

    def payload(self, message: Outgoing, plain: bool = False) -> dict[str, Any]:
        body: dict[str, Any] = {"chat_id": self.options.chat_id}
        if plain:
            body["text"] = plain_text(message.text, self.limits.max_length)
        else:
            body["text"], body["parse_mode"] = message.text, "HTML"
        if not self.options.link_preview:
            body["link_preview_options"] = {"is_disabled": True}
        elif message.article.get("url"):
            body["link_preview_options"] = {"url": message.article["url"]}
        if self.options.silent:
            body["disable_notification"] = True
        return body

    def send(self, message: Outgoing) -> Receipt:
        try:
            return self._send(self.payload(message))
        except PermanentError as exc:
            if "can't parse entities" not in str(exc).lower():
                raise
        receipt = self._send(self.payload(message, plain=True))
        return Receipt(receipt.remote_id, receipt.state,
                       {**receipt.details, "note": "sent as plain text: the HTML was refused"})

    def _send(self, body: dict[str, Any]) -> Receipt:
        response = post_json(self.http, self.endpoint(masked=False), self.timeout, json=body)
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
