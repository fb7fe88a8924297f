"""Discord webhook (https://discord.com/developers/docs/resources/webhook).

POST {content, allowed_mentions} to the webhook URL with `?wait=true`, so the
answer is the created message and its id. content holds at most 2000
characters. 429 answers JSON {"retry_after": seconds (float)}; 404 {"code": 10015,
"message": "Unknown Webhook"} means the webhook was deleted.
"""

from __future__ import annotations

from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

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
    http_url,
    image_of,
    json_body,
    mask_url,
    post_json,
    retry_after_header,
)
from distributor.errors import CredentialsRefused, TransientError
from distributor.states import PostState


class DiscordOptions(Options):
    url: SecretStr  # the webhook URL is the credential
    username: str | None = None
    avatar_url: str | None = None
    media: Media = "preview"
    silent: bool = False  # SUPPRESS_NOTIFICATIONS

    @field_validator("url")
    @classmethod
    def _url(cls, value: SecretStr) -> SecretStr:
        http_url(value.get_secret_value())
        return value


INVALID_TOKEN = 50027  # "Invalid Webhook Token"
# Message flags a webhook may set (message.mdx): no link embeds; no push or desktop ping.
SUPPRESS_EMBEDS, SUPPRESS_NOTIFICATIONS = 1 << 2, 1 << 12
EMBED_COLOUR = 0x1F6FEB


def with_wait(url: str) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "wait"] + [("wait", "true")]
    return urlunsplit(parts._replace(query=urlencode(query)))


def embed(article: dict[str, Any], image: str) -> dict[str, Any]:
    """The article as a rich embed (limits from message.mdx: title 256, author name 256)."""
    out: dict[str, Any] = {"title": str(article.get("title") or "")[:256],
                           "color": EMBED_COLOUR, "image": {"url": image}}
    if article.get("url"):
        out["url"] = str(article["url"])
    if article.get("section"):
        out["author"] = {"name": str(article["section"])[:256]}
    return out


class DiscordAdapter(ChannelAdapter):
    type: ClassVar[str] = "discord"
    Options = DiscordOptions
    limits: ClassVar[Limits] = Limits(max_length=2000, format="discord-markdown")
    default_base_url: ClassVar[str | None] = None
    # Webhooks allow about 5 requests per 2 s, and about 30 messages a minute per channel.
    default_rate: ClassVar[str] = "30/m"
    requires_base_url: ClassVar[bool] = False

    def endpoint(self, message: Outgoing | None = None) -> str:
        return mask_url(self.options.url.get_secret_value()) + "?wait=true"

    @classmethod
    def text_limits(cls, options: Any, article: dict[str, Any]) -> Limits:
        if image_of(options, article):  # room for the <> that keep the link from a 2nd embed
            return Limits(cls.limits.max_length - 2, cls.limits.format)
        return cls.limits

    def payload(self, message: Outgoing) -> dict[str, Any]:
        body: dict[str, Any] = {"content": message.text, "allowed_mentions": {"parse": []}}
        flags = SUPPRESS_NOTIFICATIONS if self.options.silent else 0
        image = image_of(self.options, message.article)
        if image:
            body["embeds"] = [embed(message.article, image)]
            url = str(message.article.get("url") or "")
            if url:  # <url> is not unfurled: the embed above is the article's one picture
                body["content"] = message.text.replace(url, f"<{url}>")
        elif self.options.media == "none":
            flags |= SUPPRESS_EMBEDS
        if flags:
            body["flags"] = flags
        if self.options.username:
            body["username"] = self.options.username
        if self.options.avatar_url:
            body["avatar_url"] = self.options.avatar_url
        return body

    def send(self, message: Outgoing) -> Receipt:
        response = post_json(self.http, with_wait(self.options.url.get_secret_value()),
                             self.timeout, json=self.payload(message))
        data = json_body(response)
        data = data if isinstance(data, dict) else {}
        text = str(data.get("message") or response.text[:300])
        if data.get("code"):
            text = f"{text} (code {data['code']})"
        if response.status_code == 429:
            wait = data.get("retry_after")
            retry_after = float(wait) if isinstance(wait, int | float) else retry_after_header(
                response)
            raise TransientError(f"429 rate limited: {text}", retry_after=retry_after)
        if response.status_code in (401, 403) or data.get("code") == INVALID_TOKEN:
            # Discord asks senders to stop after a token becomes invalid: each 401/403
            # counts towards its Cloudflare ban.
            raise CredentialsRefused(f"{response.status_code}: credentials refused: {text}")
        check_status(response, text)
        remote_id = data.get("id")
        return Receipt(remote_id=str(remote_id) if remote_id else None, state=PostState.SENT,
                       details=answer(response))
