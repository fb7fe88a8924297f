"""What only one service does: Telegram's plain-text second try, WAHA's read-back."""

from __future__ import annotations

import pytest

from distributor.channels.adapters.base import Outgoing
from distributor.errors import PermanentError, TransientError
from tests.channels.cases import NEWSLETTER, TG_CHAT, TG_TOKEN, WAHA_KEY, WHAPI_TOKEN
from tests.channels.conftest import adapter_for, channel_of
from tests.channels.fake_telegram import FakeTelegram
from tests.channels.fakes import FakeWaha, FakeWhapi

ARTICLE = {"url": "https://news.example.org/x", "title": "T"}


@pytest.fixture()
def telegram():
    with FakeTelegram(TG_TOKEN, TG_CHAT) as server:
        yield server


@pytest.fixture()
def waha():
    with FakeWaha(WAHA_KEY) as server:
        yield server


def telegram_adapter(server, **keys):
    return adapter_for(channel_of("telegram", {"base_url": server.url(), "chat_id": TG_CHAT,
                                               "token": TG_TOKEN, **keys}))


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


def waha_adapter(server, **keys):
    return adapter_for(channel_of("waha", {"base_url": server.url(), "chat_id": NEWSLETTER,
                                           "api_key": WAHA_KEY, **keys}))


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


PICTURED = {"url": "https://news.example.org/x", "title": "T", "summary": "S",
            "image_url": "https://cdn.example.org/x.jpg", "section": "Asia"}


def test_telegram_image_posts_the_photo_with_the_text_as_its_caption(telegram, plain_settings):
    from distributor.channels.text import render_channel

    telegram.images.add(PICTURED["image_url"])
    channel = channel_of("telegram", {"base_url": telegram.url(), "chat_id": TG_CHAT,
                                      "token": TG_TOKEN, "media": "image", "silent": True})
    long = {**PICTURED, "summary": "word " * 2000}
    rendered = render_channel(plain_settings, channel, long)
    receipt = adapter_for(channel).send(Outgoing(1, "k", rendered.text, long))

    [sent] = telegram.posts
    assert sent["photo"] == PICTURED["image_url"] and sent["disable_notification"] is True
    assert len(sent["visible"]) <= 1024 and sent["links"] == [PICTURED["url"]]
    assert receipt.remote_id and telegram.requests[0].path.endswith("/sendPhoto")


def test_telegram_an_unreachable_or_missing_image_falls_back_to_text(telegram):
    adapter = telegram_adapter(telegram, media="image")
    receipt = adapter.send(Outgoing(1, "k", "<b>T</b>", PICTURED))  # Telegram cannot fetch it
    assert [r.path.rsplit("/", 1)[1] for r in telegram.requests] == ["sendPhoto",
                                                                     "sendMessage"]
    assert "photo was refused" in receipt.details["note"]
    adapter.send(Outgoing(1, "k", "<b>T</b>", {**PICTURED, "image_url": None}))
    assert telegram.requests[-1].path.endswith("/sendMessage") and len(telegram.posts) == 2


def test_telegram_media_none_turns_the_preview_off(telegram):
    telegram_adapter(telegram, media="none").send(Outgoing(1, "k", "hi", PICTURED))
    assert telegram.posts[0]["link_preview_options"] == {"is_disabled": True}


def discord_adapter(server, **keys):
    from tests.channels.fakes import FakeDiscord

    return adapter_for(channel_of("discord", {"url": server.url(FakeDiscord.PATH), **keys}))


@pytest.fixture()
def discord():
    from tests.channels.fakes import FakeDiscord

    with FakeDiscord() as server:
        yield server


def test_discord_image_is_an_embed_and_the_link_is_not_unfurled_twice(discord):
    text = "**T**\n\nS\n\nhttps://news.example.org/x"
    discord_adapter(discord, media="image", silent=True).send(Outgoing(1, "k", text, PICTURED))
    [sent] = discord.posts
    assert sent["embeds"] == [{"title": "T", "url": PICTURED["url"], "color": 0x1F6FEB,
                               "image": {"url": PICTURED["image_url"]},
                               "author": {"name": "Asia"}}]
    assert sent["content"].endswith("<https://news.example.org/x>")
    assert sent["flags"] == 1 << 12  # SUPPRESS_NOTIFICATIONS: a silent post


def test_discord_without_an_image_posts_text_and_none_suppresses_embeds(discord):
    discord_adapter(discord, media="image").send(Outgoing(1, "k", "t https://x.org/a",
                                                          {**PICTURED, "image_url": None}))
    discord_adapter(discord, media="none").send(Outgoing(1, "k", "t", PICTURED))
    first, second = discord.posts
    assert "embeds" not in first and "flags" not in first
    assert second["flags"] == 1 << 2  # SUPPRESS_EMBEDS


@pytest.fixture()
def slack():
    from tests.channels.fakes import FakeSlack

    with FakeSlack() as server:
        yield server


def slack_adapter(server, **keys):
    from tests.channels.fakes import FakeSlack

    return adapter_for(channel_of("slack", {"url": server.url(FakeSlack.PATH), **keys}))


def test_slack_image_is_an_image_block_and_an_unreachable_one_falls_back(slack):
    slack.images.add(PICTURED["image_url"])
    adapter = slack_adapter(slack, media="image")
    adapter.send(Outgoing(1, "k", "*T*", PICTURED))
    [sent] = slack.posts
    assert sent["blocks"][0] == {"type": "image", "image_url": PICTURED["image_url"],
                                 "alt_text": "T"}
    assert sent["unfurl_links"] is False

    slack.images.clear()  # Slack can no longer download it
    receipt = adapter.send(Outgoing(1, "k", "*T*", PICTURED))
    assert len(slack.requests) == 3 and len(slack.posts) == 2
    assert [b["type"] for b in slack.posts[1]["blocks"]] == ["section"]
    assert "without the image" in receipt.details["note"]


def test_waha_image_sends_the_picture_with_a_caption_or_falls_back_to_text(waha):
    waha.images.add(PICTURED["image_url"])
    adapter = waha_adapter(waha, media="image")
    assert adapter.send(Outgoing(1, "k", "*T*", PICTURED)).state == "accepted"
    first = waha.requests[0].json()
    assert waha.requests[0].path == "/api/sendImage" and first["caption"] == "*T*"
    assert first["file"] == {"mimetype": "image/jpeg", "filename": "x.jpg",
                             "url": PICTURED["image_url"]}

    waha.images.clear()  # the gateway cannot download it
    adapter.send(Outgoing(2, "k", "*T*", PICTURED))
    assert [r.path for r in waha.requests[1:]] == ["/api/sendImage", "/api/sendText"]
    assert waha.posts[-1]["text"] == "*T*" and len(waha.posts) == 2


def test_waha_media_none_sends_no_link_preview(waha):
    waha_adapter(waha, media="none").send(Outgoing(1, "k", "hi", PICTURED))
    assert waha.posts[0]["linkPreview"] is False


def test_whapi_image_or_preview_or_none():
    with FakeWhapi(WHAPI_TOKEN) as whapi:
        keys = {"base_url": whapi.url(), "chat_id": NEWSLETTER, "token": WHAPI_TOKEN}
        whapi.images.add(PICTURED["image_url"])
        adapter_for(channel_of("whapi", {**keys, "media": "image"})).send(
            Outgoing(1, "k", "*T*", PICTURED))
        adapter_for(channel_of("whapi", {**keys, "media": "image"})).send(
            Outgoing(2, "k", "*T*", {**PICTURED, "image_url": "https://gone.example/x.png"}))
        adapter_for(channel_of("whapi", keys)).send(Outgoing(3, "k", "*T*", PICTURED))
        adapter_for(channel_of("whapi", {**keys, "media": "none"})).send(
            Outgoing(4, "k", "*T*", PICTURED))
    paths = [r.path for r in whapi.requests]
    assert paths == ["/messages/image", "/messages/image", "/messages/text", "/messages/text",
                     "/messages/text"]
    image, fallback, preview, none = whapi.posts
    assert image == {"to": NEWSLETTER, "media": PICTURED["image_url"], "caption": "*T*"}
    assert fallback["body"] == "*T*" and preview["wide_link_preview"] is True
    assert none["no_link_preview"] is True


def test_the_plain_text_second_try_fits_the_limit_with_its_urls(telegram):
    url = "https://news.example.org/" + "a" * 200
    links = " ".join(f'<a href="{url}">see</a>' for _ in range(30))
    text = f"<blink>x</blink> {'word ' * 700}{links}\n\n<a href=\"{url}\">Read the full story</a>"
    telegram_adapter(telegram).send(Outgoing(1, "k", text, ARTICLE))
    plain = telegram.posts[0]["visible"]
    assert len(plain) <= 4096 and plain.endswith(f"Read the full story: {url}")
