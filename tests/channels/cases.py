"""One row per channel type: its fake service, its config keys, and how a reader
sees what arrived. The adapter tests run every row."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from tests.channels.fake_telegram import FakeTelegram
from tests.channels.fake_webhooks import FakeDiscord, FakeSlack
from tests.channels.fake_whatsapp import FakeWaha, FakeWhapi
from tests.channels.fakes import FakeService, as_json, as_text
from tests.channels.reading import (
    slack_blocks,
    strip_zwsp,
    whatsapp_blocks,
    whatsapp_links,
    whatsapp_spans,
)

WAHA_KEY = "waha-key-0123456789"
WHAPI_TOKEN = "whapi-token-0123456789"
TG_TOKEN = "123456789:AAEhBOweik6ad9r_QXMENQjcrGbqCr4K-Sk"
TG_CHAT = "-1001234567890"
NEWSLETTER = "120363000000000000@newsletter"

NASTY_TITLE = ("*Breaking*: <India> & _Korea_ ~talks~ `code` 5*3 @channel @here 🇮🇳 नई दिल्ली "
               "서울 👩‍👩‍👧")
NASTY_SUMMARY = ("Prices < 5 & > 3 rose *sharply*, said a_b; __init__ **strong** "
                 "# not a heading [not](a link) @everyone 한국어 हिन्दी 😀 "
                 "see https://example.org/files/_draft_/report*v2*.pdf?q=[1]&x=~y.\n"
                 "> not a quote\n- not a list\n* nor this\n1. not numbered")
# The URL in the summary, as every reader must be able to follow it.
SUMMARY_URL = "https://example.org/files/_draft_/report*v2*.pdf?q=[1]&x=~y"


@dataclass
class Case:
    type: str
    make: Callable[[], FakeService]
    keys: Callable[[FakeService], dict]
    reader: Callable[[dict], str]  # what the reader sees of an accepted post
    expected: Callable[[str, str, str], str]  # (title, summary, url) -> what they should see
    refusal: object  # a 4xx in the service's words
    refusal_text: str
    links: Callable[[dict], list[str]] = lambda post: []  # what a reader can click
    state: str = "sent"
    remote_id: bool = True


def _unescape_slack(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _waha_reader(post: dict) -> str:
    text = post.get("text") or post.get("body")
    spans = whatsapp_spans(text)
    assert len(spans) == 1 and spans[0][0] == "*", f"unexpected formatting: {spans}"
    assert whatsapp_blocks(text) == [], "a quote or list the article did not ask for"
    for link in whatsapp_links(text):
        assert not set(link) & {"\u200b", "\u2060", "\\"}, f"a broken link: {link!r}"
    return strip_zwsp(text)


def _slack_links(text: str) -> str:
    """<url|label> reads as label; <url> as the url."""
    return re.sub(r"<(https?://[^<>|]+)(?:\|([^<>]*))?>", lambda m: m.group(2) or m.group(1),
                  text)


def _slack_reader(post: dict) -> str:
    assert post["text"], "a fallback text is required"
    assert post["pings"] == [], f"Slack would notify: {post['pings']}"
    text = post["blocks"][0]["text"]["text"]
    spans = whatsapp_spans(text)
    assert len(spans) == 1 and spans[0][0] == "*", f"unexpected formatting: {spans}"
    assert slack_blocks(text) == [], "a quote or list the article did not ask for"
    return _unescape_slack(strip_zwsp(_slack_links(text)))


def _slack_targets(post: dict) -> list[str]:
    return re.findall(r"<(https?://[^<>|]+)(?:\|[^<>]*)?>", post["blocks"][0]["text"]["text"])


def _discord_links(post: dict) -> list[str]:
    # Discord auto-links a bare URL up to whitespace; a backslash stays in it.
    return re.findall(r"https?://\S+?(?=[.,]?(?:\s|$))", post["content"])


def _discord_reader(post: dict) -> str:
    assert post["allowed_mentions"] == {"parse": []}, "nobody may be pinged"
    return re.sub(r"\\(.)", r"\1", post["content"])


CASES = [
    Case("waha", lambda: FakeWaha(WAHA_KEY),
         lambda f: {"base_url": f.url(), "chat_id": NEWSLETTER, "api_key": WAHA_KEY},
         _waha_reader, lambda t, s, u: f"*{t}*\n\n{s}\n\n{u}",
         as_json(400, {"statusCode": 400, "error": "Bad Request",
                       "message": ["chatId must be a string"]}),
         "chatId must be a string", links=lambda p: whatsapp_links(p["text"]),
         state="accepted"),
    Case("whapi", lambda: FakeWhapi(WHAPI_TOKEN),
         lambda f: {"base_url": f.url(), "chat_id": NEWSLETTER, "token": WHAPI_TOKEN},
         _waha_reader, lambda t, s, u: f"*{t}*\n\n{s}\n\n{u}",
         as_json(400, {"error": {"code": 400, "message": "Parameter 'to' is invalid"}}),
         "Parameter 'to' is invalid", links=lambda p: whatsapp_links(p["body"]),
         state="accepted"),
    Case("telegram", lambda: FakeTelegram(TG_TOKEN, TG_CHAT),
         lambda f: {"base_url": f.url(), "chat_id": TG_CHAT, "token": TG_TOKEN},
         lambda p: p["visible"], lambda t, s, u: f"{t}\n\n{s}\n\nRead the full story",
         as_json(400, {"ok": False, "error_code": 400,
                       "description": "Bad Request: chat not found"}),
         "chat not found", links=lambda p: p["links"] + whatsapp_links(p["visible"])),
    Case("slack", FakeSlack, lambda f: {"url": f.url(FakeSlack.PATH)},
         _slack_reader, lambda t, s, u: f"*{t}*\n\n{s}\n\nRead the full story",
         as_text(400, "invalid_blocks"), "invalid_blocks", links=_slack_targets,
         remote_id=False),
    Case("discord", FakeDiscord, lambda f: {"url": f.url(FakeDiscord.PATH)},
         _discord_reader, lambda t, s, u: f"**{t}**\n\n{s}\n\n{u}",
         as_json(400, {"message": "Invalid Form Body", "code": 50035}), "Invalid Form Body",
         links=_discord_links),
]
IDS = [c.type for c in CASES]


def gone_keys(case: Case, fake: FakeService) -> dict:
    """Keys pointing at an endpoint that does not exist (a deleted webhook, a wrong path)."""
    keys = case.keys(fake)
    if "url" in keys:  # Discord: another webhook id is Unknown Webhook; Slack: no_service
        keys["url"] = keys["url"].rsplit("/", 2)[0] + "/1/deleted"
    else:
        keys["base_url"] = fake.url("/gone")
    return keys
