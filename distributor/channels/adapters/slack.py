"""Slack incoming webhook (https://api.slack.com/messaging/webhooks).

POST JSON {text, blocks: [section mrkdwn]} to the webhook URL. `text` is the
fallback for notifications; a section's text holds at most 3000 characters.
Slack answers 200 "ok", errors as plain text ("invalid_blocks", "no_service"),
429 with Retry-After; 404 and 410 mean the webhook or channel is gone.
"""

from __future__ import annotations

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
    http_url,
    image_of,
    mask_url,
    post_json,
    text_instead,
)
from distributor.channels.adapters.formats import slack_plain
from distributor.errors import DeliveryError
from distributor.states import PostState

FALLBACK_MAX = 3000


class SlackOptions(Options):
    url: SecretStr  # the webhook URL is the credential
    unfurl: bool = True
    media: Media = "preview"

    @field_validator("url")
    @classmethod
    def _url(cls, value: SecretStr) -> SecretStr:
        http_url(value.get_secret_value())
        return value


class SlackAdapter(ChannelAdapter):
    type: ClassVar[str] = "slack"
    Options = SlackOptions
    limits: ClassVar[Limits] = Limits(max_length=3000, format="slack-mrkdwn")
    default_base_url: ClassVar[str | None] = None
    default_rate: ClassVar[str] = "1/s"
    requires_base_url: ClassVar[bool] = False

    def endpoint(self, message: Outgoing | None = None) -> str:
        return mask_url(self.options.url.get_secret_value())

    def payload(self, message: Outgoing, with_image: bool = True) -> dict[str, Any]:
        title = str(message.article.get("title") or "")
        fallback = f"{title} {message.article.get('url') or ''}".strip()[:FALLBACK_MAX]
        image = image_of(self.options, message.article) if with_image else None
        blocks: list[dict[str, Any]] = [
            # verbatim: Slack parses no plain @channel/@here itself; our links are explicit <url>.
            {"type": "section", "text": {"type": "mrkdwn", "text": message.text, "verbatim": True}}]
        if image:  # image block: alt_text at most 2000 characters
            blocks.insert(0, {"type": "image", "image_url": image,
                              "alt_text": (title or "article image")[:2000]})
        unfurl = self.options.unfurl and self.options.media == "preview"
        return {"text": slack_plain(fallback), "blocks": blocks,
                "unfurl_links": unfurl, "unfurl_media": unfurl}

    def send(self, message: Outgoing) -> Receipt:
        if image_of(self.options, message.article):
            try:
                return self._post(self.payload(message))
            except DeliveryError as exc:  # Slack could not fetch the image: invalid_blocks
                if not text_instead(exc):
                    raise
                note = f"sent without the image: {exc}"[:300]
            receipt = self._post(self.payload(message, with_image=False))
            return Receipt(receipt.remote_id, receipt.state, {**receipt.details, "note": note})
        return self._post(self.payload(message))

    def _post(self, body: dict[str, Any]) -> Receipt:
        response = post_json(self.http, self.options.url.get_secret_value(), self.timeout,
                             json=body)
        check_status(response, response.text[:300])
        return Receipt(remote_id=None, state=PostState.SENT, details=answer(response))
