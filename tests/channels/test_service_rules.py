"""What only one service does: Telegram's plain-text second try, WAHA's read-back."""

from __future__ import annotations

import pytest

from distributor.channels.adapters.base import Outgoing
from distributor.errors import PermanentError, TransientError
from tests.channels.cases import NEWSLETTER, WAHA_KEY, WHAPI_TOKEN
from tests.channels.conftest import adapter_for, channel_of, telegram_adapter, waha_adapter
from tests.channels.fake_telegram import FakeTelegram
from tests.channels.fake_whatsapp import FakeWhapi

ARTICLE = {"url": "https://news.example.org/x", "title": "T"}




def test_html_telegram_cannot_parse_is_sent_once_more_as_plain_text(telegram):
    text = "<b>Custom template</b> with <blink>a tag Telegram refuses</blink> &amp; more"
    receipt = telegram_adapter(telegram).send(Outgoing(1, "k", text, ARTICLE))

    assert len(telegram.requests) == 2
    first, second = (r.json() for r in telegram.requests)
    assert first["parse_mode"] == "HTML" and "parse_mode" not in second
    assert second["text"] == "Custom template with a tag Telegram refuses & more"
    assert receipt.remote_id and "plain text" in receipt.details["note"]


def test_the_plain_text_second_try_keeps_the_article_link(telegram):
    url = "https://news.example.org/x?a=1&b=2"
    text = (f"<b>Title</b> <blink>refused</blink> &mdash; &#8212;\n\n"
            f'<a href="{url.replace("&", "&amp;")}">Read the full story</a>')
    telegram_adapter(telegram, link_preview=False).send(Outgoing(1, "k", text, ARTICLE))

    plain = telegram.posts[0]
    assert "parse_mode" not in plain
    assert plain["text"].endswith(f"Read the full story: {url}")
    # Telegram decodes only &lt; &gt; &amp; &quot; and numeric entities.
    assert "&mdash; \u2014" in plain["text"]


def test_telegram_a_revoked_token_or_a_kick_is_not_resent(telegram):
    telegram.kicked = True
    with pytest.raises(PermanentError, match="kicked") as caught:
        telegram_adapter(telegram).send(Outgoing(1, "k", "<b>hello</b>", ARTICLE))
    assert caught.value.disable and len(telegram.requests) == 1


def test_telegram_other_bad_requests_are_not_resent(telegram):
    adapter = telegram_adapter(telegram)
    telegram.answer_next(FakeTelegram.error(400, "Bad Request: chat not found"))
    with pytest.raises(PermanentError, match="chat not found"):
        adapter.send(Outgoing(1, "k", "<b>hello</b>", ARTICLE))
    assert len(telegram.requests) == 1


def test_telegram_link_preview_points_at_the_article_or_is_off(telegram):
    telegram_adapter(telegram).send(Outgoing(1, "k", "hi", ARTICLE))
    telegram_adapter(telegram, link_preview=False, silent=True).send(Outgoing(1, "k", "hi",
                                                                              ARTICLE))
    first, second = (r.json() for r in telegram.requests)
    assert first["link_preview_options"] == {"url": "https://news.example.org/x",
                                             "prefer_large_media": True,
                                             "show_above_text": True}
    assert second["link_preview_options"] == {"is_disabled": True}
    assert second["disable_notification"] is True


def test_waha_sends_session_chat_text_and_link_preview_with_the_api_key(waha):
    receipt = waha_adapter(waha, session="default").send(Outgoing(1, "k", "hello", ARTICLE))
    request = waha.requests[0]
    assert request.headers["X-Api-Key"] == WAHA_KEY
    assert request.json() == {"session": "default", "chatId": NEWSLETTER, "text": "hello",
                              "linkPreview": True, "linkPreviewHighQuality": True}
    assert receipt.state == "accepted" and receipt.remote_id.startswith("true_")


def test_waha_verify_confirms_a_message_seen_in_the_channel(waha):
    receipt = waha_adapter(waha, verify=True).send(Outgoing(1, "k", "hello", ARTICLE))
    assert receipt.state == "confirmed"
    assert waha.requests[1].method == "GET"


def test_waha_verify_marks_a_swallowed_message_unconfirmed(waha):
    waha.drop = True
    receipt = waha_adapter(waha, verify=True).send(Outgoing(1, "k", "hello", ARTICLE))
    assert receipt.state == "unconfirmed"
    assert "not among" in receipt.details["verify"]


def test_waha_verify_that_fails_does_not_raise_after_the_message_went(waha):
    adapter = waha_adapter(waha, verify=True)
    waha.answer_next((201, {"Content-Type": "application/json"}, b'{"id": "true_x_ABC"}'))
    waha.answer_next((500, {}, b"boom"))
    receipt = adapter.send(Outgoing(1, "k", "hello", ARTICLE))
    assert receipt.state == "unconfirmed" and "reading back failed" in receipt.details["verify"]


@pytest.mark.parametrize("status", ["STARTING", "SCAN_QR_CODE", "FAILED", None])
def test_a_waha_session_not_ready_is_worth_another_try(waha, status):
    """422 'Session status is not as expected' while starting or waiting for the QR
    scan, 404 'We didn't find a session' when it is not started: a WAHA restart."""
    waha.status = status
    adapter = waha_adapter(waha)
    with pytest.raises(TransientError, match="WhatsApp session not ready") as caught:
        adapter.send(Outgoing(1, "k", "hello", ARTICLE))
    assert ("404" if status is None else "422") in str(caught.value)
    waha.status = "WORKING"
    assert adapter.send(Outgoing(1, "k", "hello", ARTICLE)).state == "accepted"
    assert len(waha.posts) == 1


def test_a_waha_route_that_does_not_exist_still_disables(waha):
    adapter = adapter_for(channel_of("waha", {"base_url": waha.url("/wrong"),
                                              "chat_id": NEWSLETTER, "api_key": WAHA_KEY}))
    with pytest.raises(PermanentError, match="Cannot POST") as caught:
        adapter.send(Outgoing(1, "k", "hello", ARTICLE))
    assert caught.value.disable


def test_whapi_sent_false_is_not_recorded_as_accepted():
    with FakeWhapi(WHAPI_TOKEN) as whapi:
        whapi.not_sent = True
        adapter = adapter_for(channel_of("whapi", {"base_url": whapi.url(),
                                                   "chat_id": NEWSLETTER, "token": WHAPI_TOKEN}))
        with pytest.raises(TransientError, match="did not send"):
            adapter.send(Outgoing(1, "k", "hello", ARTICLE))
        whapi.not_sent = False
        assert adapter.send(Outgoing(1, "k", "hello", ARTICLE)).state == "accepted"


def test_the_plain_text_second_try_fits_the_limit_with_its_urls(telegram):
    url = "https://news.example.org/" + "a" * 200
    links = " ".join(f'<a href="{url}">see</a>' for _ in range(30))
    text = f"<blink>x</blink> {'word ' * 700}{links}\n\n<a href=\"{url}\">Read the full story</a>"
    telegram_adapter(telegram).send(Outgoing(1, "k", text, ARTICLE))
    plain = telegram.posts[0]["visible"]
    assert len(plain) <= 4096 and plain.endswith(f"Read the full story: {url}")
