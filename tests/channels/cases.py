"""One row per channel type: its fake service, its config keys, and how a reader
sees what arrived. The adapter tests run every row."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from tests.channels.fake_telegram import FakeTelegram
from tests.channels.fakes import (
    FakeDiscord,
    FakeService,
    FakeSlack,
    FakeWaha,
    FakeWhapi,
    as_json,
    as_text,
    strip_zwsp,
    whatsapp_spans,
)

WAHA_KEY = "waha-key-0123456789"
WHAPI_TOKEN = "whapi-token-0123456789"
TG_TOKEN = "123456789:AAEhBOweik6ad9r_QXMENQjcrGbqCr4K-Sk"
TG_CHAT = "-1001234567890"
NEWSLETTER = "120363000000000000@newsletter"

NASTY_TITLE = "*Breaking*: <India> & _Korea_ ~talks~ `code` 5*3 🇮🇳 नई दिल्ली 서울 👩‍👩‍👧"
NASTY_SUMMARY = ("Prices < 5 & > 3 rose *sharply*, said a_b; __init__ **strong** "
                 "# not a heading [not](a link) @everyone 한국어 हिन्दी 😀")


@dataclass
class Case:
    type: str
    make: Callable[[], FakeService]
    keys: Callable[[FakeService], dict]
    reader: Callable[[dict], str]  # what the reader sees of an accepted post
    expected: Callable[[str, str, str], str]  # (title, summary, url) -> what they should see
    refusal: object  # a 4xx in the service's words
    refusal_text: str
    state: str = "sent"
    remote_id: bool = True


def _unescape_slack(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _waha_reader(post: dict) -> str:
    text = post.get("text") or post.get("body")
    spans = whatsapp_spans(text)
    assert len(spans) == 1 and spans[0][0] == "*", f"unexpected formatting: {spans}"
    return strip_zwsp(text)


def _slack_reader(post: dict) -> str:
    assert post["text"], "a fallback text is required"
    text = post["blocks"][0]["text"]["text"]
    spans = whatsapp_spans(text)
    assert len(spans) == 1 and spans[0][0] == "*", f"unexpected formatting: {spans}"
    return _unescape_slack(strip_zwsp(text))


def _discord_reader(post: dict) -> str:
    assert post["allowed_mentions"] == {"parse": []}, "nobody may be pinged"
    return re.sub(r"\\(.)", r"\1", post["content"])


CASES = [
    Case("waha", lambda: FakeWaha(WAHA_KEY),
         lambda f: {"base_url": f.url(), "chat_id": NEWSLETTER, "api_key": WAHA_KEY},
         _waha_reader, lambda t, s, u: f"*{t}*\n\n{s}\n\n{u}",
         as_json(422, {"statusCode": 422, "message": "Session does not exist"}),
         "Session does not exist", state="accepted"),
    Case("whapi", lambda: FakeWhapi(WHAPI_TOKEN),
         lambda f: {"base_url": f.url(), "chat_id": NEWSLETTER, "token": WHAPI_TOKEN},
         _waha_reader, lambda t, s, u: f"*{t}*\n\n{s}\n\n{u}",
         as_json(400, {"error": {"code": 400, "message": "Parameter 'to' is invalid"}}),
         "Parameter 'to' is invalid", state="accepted"),
    Case("telegram", lambda: FakeTelegram(TG_TOKEN, TG_CHAT),
         lambda f: {"base_url": f.url(), "chat_id": TG_CHAT, "token": TG_TOKEN},
         lambda p: p["visible"], lambda t, s, u: f"{t}\n\n{s}\n\nRead the full story",
         as_json(403, {"ok": False, "error_code": 403,
                       "description": "Forbidden: bot is not a member of the channel chat"}),
         "bot is not a member"),
    Case("slack", FakeSlack, lambda f: {"url": f.url(FakeSlack.PATH)},
         _slack_reader, lambda t, s, u: f"*{t}*\n\n{s}\n\n<{u}|Read the full story>",
         as_text(400, "invalid_blocks"), "invalid_blocks", remote_id=False),
    Case("discord", FakeDiscord, lambda f: {"url": f.url(FakeDiscord.PATH)},
         _discord_reader, lambda t, s, u: f"**{t}**\n\n{s}\n\n{u}",
         as_json(400, {"message": "Invalid Form Body", "code": 50035}), "Invalid Form Body"),
]
IDS = [c.type for c in CASES]


def gone_keys(case: Case, fake: FakeService) -> dict:
    """Keys pointing at an endpoint that does not exist (a deleted webhook, a wrong path)."""
    keys = case.keys(fake)
    if "url" in keys:
        keys["url"] = keys["url"].rsplit("/", 1)[0] + "/deleted"
    else:
        keys["base_url"] = fake.url("/gone")
    return keys
