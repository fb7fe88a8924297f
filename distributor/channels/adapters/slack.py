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
    Options,
    Outgoing,
    Receipt,
    answer,
    check_status,
    http_url,
    mask_url,
    post_json,
)
from distributor.channels.adapters.formats import slack_plain
from distributor.states import PostState

FALLBACK_MAX = 3000


class SlackOptions(Options):
    url: SecretStr  # the webhook URL is the credential
    unfurl: bool = True

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

    def endpoint(self) -> str:
        return mask_url(self.options.url.get_secret_value())

    def payload(self, message: Outgoing) -> dict[str, Any]:
        title = str(message.article.get("title") or "")
        fallback = f"{title} {message.article.get('url') or ''}".strip()[:FALLBACK_MAX]
        return {
            "text": slack_plain(fallback),
            # verbatim: Slack parses no plain @channel/@here itself; our links are explicit <url>.
            "blocks": [{"type": "section",
                        "text": {"type": "mrkdwn", "text": message.text, "verbatim": True}}],
            "unfurl_links": self.options.unfurl,
            "unfurl_media": self.options.unfurl,
        }

    def send(self, message: Outgoing) -> Receipt:
        response = post_json(self.http, self.options.url.get_secret_value(), self.timeout,
                             json=self.payload(message))
        check_status(response, response.text[:300])
        return Receipt(remote_id=None, state=PostState.SENT, details=answer(response))
