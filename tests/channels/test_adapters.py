"""Every adapter against its local fake service: the post arrives once, well formed,
within the service's limits, and every answer becomes the right error."""

from __future__ import annotations

import re

import pytest

from distributor.channels.adapters.base import Outgoing
from distributor.channels.text import render_channel
from distributor.errors import CredentialsRefused, PermanentError, TransientError
from tests.channels.cases import (
    NASTY_SUMMARY,
    NASTY_TITLE,
    SUMMARY_URL,
    TG_TOKEN,
    WAHA_KEY,
    gone_keys,
)
from tests.channels.conftest import adapter_for, channel_of
from tests.peers import free_port

URL = "https://news.example.org/2026/11/asia_talks?id=7&lang=en"


def article(title=NASTY_TITLE, summary=NASTY_SUMMARY, url=URL) -> dict:
    return {"guid": url, "url": url, "title": title, "summary": summary, "section": "Asia",
            "tags": [], "author": None, "image_url": None,
            "published_at": "2026-11-29T05:30:00Z", "body_html": ""}


def send(settings, channel, data: dict | None = None, timeout: float = 5.0):
    data = data or article()
    text = render_channel(settings, channel, data).text
    return adapter_for(channel, timeout).send(Outgoing(1, "msg_1_chan", text, data))


def test_a_nasty_article_arrives_once_and_reads_exactly_as_written(case, fake, plain_settings):
    channel = channel_of(case.type, case.keys(fake))
    receipt = send(plain_settings, channel)

    assert len(fake.posts) == 1
    assert case.reader(fake.posts[0]) == case.expected(NASTY_TITLE, NASTY_SUMMARY, URL)
    assert receipt.state == case.state
    assert bool(receipt.remote_id) == case.remote_id
    assert SUMMARY_URL in case.links(fake.posts[0]), "a link in the summary must still work"
    if case.type == "telegram":
        sent = fake.posts[0]
        assert sent["parse_mode"] == "HTML"
        assert re.search(r'<a href="([^"]+)">', sent["text"]).group(1) == URL.replace("&", "&amp;")


def test_a_long_article_is_cut_to_the_limit_and_keeps_its_link(case, fake, plain_settings):
    channel = channel_of(case.type, case.keys(fake))
    long_summary = ("घटनाक्रम 한국어 문장 <&> *x* _y_ 😀 " * 800).strip()
    send(plain_settings, channel, article(summary=long_summary))

    assert len(fake.posts) == 1, f"refused: {[r.body[:200] for r in fake.requests]}"
    seen = case.reader(fake.posts[0])
    title_line, _, rest = seen.partition("\n\n")
    assert title_line == case.expected(NASTY_TITLE, "", URL).partition("\n\n")[0]
    body, _, link = rest.rpartition("\n\n")
    assert link == case.expected("", "", URL).rpartition("\n\n")[2]
    assert body.endswith("\u2026")
    assert long_summary.startswith(body[:-1])
    assert long_summary[len(body) - 1] == " ", "cut at a word boundary"


@pytest.mark.parametrize("wait", [3, 1.5])
def test_a_rate_limit_says_how_long_to_wait_in_the_service_own_words(case, fake,
                                                                      plain_settings, wait):
    channel = channel_of(case.type, case.keys(fake))
    fake.rate_limit(wait)
    with pytest.raises(TransientError) as caught:
        send(plain_settings, channel)
    expected = wait if case.type == "discord" else float(-(-wait // 1))  # others say seconds
    assert caught.value.retry_after == pytest.approx(expected)
    assert fake.posts == []


def test_a_server_error_is_worth_another_try(case, fake, plain_settings):
    channel = channel_of(case.type, case.keys(fake))
    fake.answer_next((503, {"Content-Type": "text/plain"}, b"upstream unavailable"))
    with pytest.raises(TransientError, match="503"):
        send(plain_settings, channel)


def test_an_unreachable_or_slow_service_is_worth_another_try(case, fake, plain_settings):
    keys = case.keys(fake)
    closed = f"http://127.0.0.1:{free_port()}"
    for key in ("url", "base_url"):
        if key in keys:
            keys[key] = keys[key].replace(fake.url(), closed)
    with pytest.raises(TransientError, match="connection failed"):
        send(plain_settings, channel_of(case.type, keys))

    fake.delay = 1.0
    with pytest.raises(TransientError, match="timed out"):
        send(plain_settings, channel_of(case.type, case.keys(fake)), timeout=0.3)


def test_a_gone_endpoint_disables_the_channel(case, fake, plain_settings):
    channel = channel_of(case.type, gone_keys(case, fake))
    with pytest.raises(PermanentError) as caught:
        send(plain_settings, channel)
    assert caught.value.disable
    assert "404" in str(caught.value)
    assert TG_TOKEN not in str(caught.value) and WAHA_KEY not in str(caught.value)


def test_another_refusal_fails_the_post_with_the_service_words(case, fake, plain_settings):
    channel = channel_of(case.type, case.keys(fake))
    fake.answer_next(case.refusal)
    with pytest.raises(PermanentError) as caught:
        send(plain_settings, channel)
    assert not caught.value.disable
    assert case.refusal_text in str(caught.value)


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_is_not_followed_and_fails_the_post(case, fake, plain_settings, status):
    """requests would turn a 301/302/303 into a GET without the body, carry the secret
    headers to the new place and take its 2xx for our post."""
    channel = channel_of(case.type, case.keys(fake))
    fake.answer_next((status, {"Location": fake.url("/moved/elsewhere?token=abc")}, b""))
    with pytest.raises(PermanentError, match="the service moved.*update the URL") as caught:
        send(plain_settings, channel)
    assert len(fake.requests) == 1, "the redirect was followed"
    assert not caught.value.disable
    assert "token=abc" not in str(caught.value)


@pytest.mark.parametrize("case_type", ["telegram", "discord", "waha", "whapi"])
def test_revoked_credentials_disable_the_channel_with_the_service_words(plain_settings,
                                                                         case_type):
    from tests.channels.cases import CASES

    case = next(c for c in CASES if c.type == case_type)
    with case.make() as fake:
        keys = case.keys(fake)
        if case_type == "telegram":
            fake.token = TG_TOKEN.replace("AAE", "ZZZ")  # revoked: the bot's token changed
        elif case_type == "discord":
            keys["url"] = keys["url"] + "-revoked"  # the webhook's token was reset
        elif case_type == "waha":
            fake.api_key = "another-key"
        else:
            fake.token = "another-token"
        with pytest.raises(PermanentError) as caught:
            send(plain_settings, channel_of(case_type, keys))
    assert isinstance(caught.value, CredentialsRefused) and caught.value.disable
    assert "credentials refused" in str(caught.value)
    words = {"telegram": "Unauthorized", "discord": "Invalid Webhook Token",
             "waha": "Unauthorized", "whapi": "Unauthorized"}[case_type]
    assert words in str(caught.value)


def test_a_telegram_bot_kicked_from_the_channel_disables_it(plain_settings):
    from tests.channels.cases import CASES

    case = next(c for c in CASES if c.type == "telegram")
    with case.make() as fake:
        fake.kicked = True
        with pytest.raises(PermanentError, match="bot was kicked") as caught:
            send(plain_settings, channel_of("telegram", case.keys(fake)))
    assert caught.value.disable
