"""Slack incoming webhooks and Discord webhooks, as local fakes."""

from __future__ import annotations

import math
import re
from urllib.parse import parse_qs, urlsplit

from tests.channels.fakes import Answer, FakeService, as_json, as_text, body_json, utf16
from tests.channels.reading import slack_check_mrkdwn, slack_pings
from tests.peers import Request

# --- Slack ------------------------------------------------------------------------------

class FakeSlack(FakeService):
    """Incoming webhook: 200 "ok"; errors as plain text (changelog 2016-05-17: 400
    invalid_payload, 403 action_prohibited, 404 channel_not_found, 410
    channel_is_archived, 500 rollup_error); 429 with Retry-After (rate-limits page)."""

    PATH = "/services/T000/B000/XXXXXXXXXXXXXXXX"

    def __init__(self):
        super().__init__()
        self.images: set[str] = set()  # image URLs Slack can download

    def image_refusal(self, block: dict) -> Answer | None:
        """Image block reference: image_url (at most 3000 characters) and alt_text (at most
        2000) are required; an image Slack cannot download fails the message."""
        url, alt = block.get("image_url"), block.get("alt_text")
        if not url or not alt or len(url) > 3000 or len(alt) > 2000 or url not in self.images:
            return as_text(400, "invalid_blocks")
        return None

    def handle(self, request: Request) -> Answer:
        if urlsplit(request.path).path != self.PATH:
            return as_text(404, "no_service")
        if request.headers.get("Content-Type", "").split(";")[0] != "application/json":
            return as_text(400, "invalid_payload")
        body = body_json(request)
        if not isinstance(body, dict) or not (body.get("text") or body.get("blocks")):
            return as_text(400, "no_text")
        # The top-level text (notifications) has no verbatim switch; with nothing better
        # documented, the fake grants the word joiner there (unverified).
        pings = slack_pings(str(body.get("text") or ""), verbatim=False, joiner_defuses=True)
        for block in body.get("blocks") or []:
            if block.get("type") == "image":
                refused = self.image_refusal(block)
                if refused:
                    return refused
                continue
            text = (block.get("text") or {}) if block.get("type") == "section" else None
            if text is None or text.get("type") not in ("mrkdwn", "plain_text"):
                return as_text(400, "invalid_blocks")
            # Text object: "The minimum length is 1 and maximum length is 3000 characters"
            # (counted here in UTF-16 units, the larger count).
            if not 1 <= utf16(text.get("text", "")) <= 3000:
                return as_text(400, "invalid_blocks")
            if text["type"] == "mrkdwn":
                try:
                    slack_check_mrkdwn(text["text"])
                except ValueError:
                    return as_text(400, "invalid_blocks")
                pings += slack_pings(text["text"], verbatim=text.get("verbatim") is True)
        self.accept({**body, "pings": pings})
        return as_text(200, "ok")


# --- Discord ----------------------------------------------------------------------------

# Webhook messages may set only these flags (webhook.mdx, Execute Webhook "flags"):
# SUPPRESS_EMBEDS 1<<2, SUPPRESS_NOTIFICATIONS 1<<12, IS_COMPONENTS_V2 1<<15.
DISCORD_WEBHOOK_FLAGS = (1 << 2) | (1 << 12) | (1 << 15)
# Embed limits (message.mdx "Embed Limits"): title 256, description 4096, author name 256,
# all text together 6000, at most 10 embeds.
_EMBED_LIMITS = {"title": 256, "description": 4096}


def discord_form_errors(body: dict) -> str | None:
    """The first field Discord would refuse, or None."""
    if int(body.get("flags") or 0) & ~DISCORD_WEBHOOK_FLAGS:
        return "flags"
    embeds = body.get("embeds") or []
    if not isinstance(embeds, list) or len(embeds) > 10:
        return "embeds"
    total = 0
    for i, item in enumerate(embeds):
        for key, most in _EMBED_LIMITS.items():
            total += len(item.get(key) or "")
            if len(item.get(key) or "") > most:
                return f"embeds.{i}.{key}"
        author = (item.get("author") or {}).get("name") or ""
        total += len(author)
        if len(author) > 256:
            return f"embeds.{i}.author.name"
        for key in ("url",):
            if key in item and not str(item[key]).startswith(("http://", "https://")):
                return f"embeds.{i}.{key}"
        image = (item.get("image") or {}).get("url")
        if image is not None and not str(image).startswith(("http://", "https://",
                                                             "attachment://")):
            return f"embeds.{i}.image.url"
    return "embeds" if total > 6000 else None


class FakeDiscord(FakeService):
    """Execute Webhook (webhook.mdx): POST /api/webhooks/{id}/{token}?wait=true -> the
    message; 204 without wait. Error codes from opcodes-and-status-codes.mdx."""

    PATH = "/api/webhooks/123456789012345678/tok-en_XYZ"

    def too_many(self, seconds: float) -> Answer:
        # rate-limits.mdx: "a HTTP 429 response code with a JSON body" {message,
        # retry_after (float seconds), global}, and a Retry-After header.
        return as_json(429, {"message": "You are being rate limited.", "retry_after": seconds,
                             "global": False}, {"Retry-After": str(math.ceil(seconds))})

    def handle(self, request: Request) -> Answer:
        parts = urlsplit(request.path)
        webhook = re.fullmatch(r"/api/webhooks/(\d+)/([^/]+)", parts.path)
        if not webhook or webhook.group(1) != self.PATH.split("/")[3]:
            # 10015 Unknown Webhook: "you should not attempt to use it again".
            return as_json(404, {"message": "Unknown Webhook", "code": 10015})
        if parts.path != self.PATH:
            return as_json(401, {"message": "Invalid Webhook Token", "code": 50027})
        body = body_json(request)
        if not isinstance(body, dict) or not (body.get("content") or body.get("embeds")):
            return as_json(400, {"message": "Cannot send an empty message", "code": 50006})
        # content "up to 2000 characters" (the unit is not documented: UTF-16 here).
        if utf16(body.get("content") or "") > 2000:
            return as_json(400, {"message": "Invalid Form Body", "code": 50035, "errors": {
                "content": {"_errors": [{"code": "BASE_TYPE_MAX_LENGTH",
                                         "message": "Must be 2000 or fewer in length."}]}}})
        wrong = discord_form_errors(body)
        if wrong:
            return as_json(400, {"message": "Invalid Form Body", "code": 50035,
                                 "errors": {wrong: {"_errors": [{"code": "INVALID"}]}}})
        self.accept(body)
        if parse_qs(parts.query).get("wait") != ["true"]:
            return 204, {}, b""
        return as_json(200, {"id": str(1100000000000000000 + next(self.ids)),
                             "content": body.get("content"), "channel_id": "99"})
