"""media = preview | image | none and silent posts, per service: the picture goes the
service's way, and an image the service cannot take falls back to text."""

from __future__ import annotations

import pytest

from distributor.channels.adapters.base import Outgoing
from distributor.channels.text import render_channel
from tests.channels.cases import NEWSLETTER, TG_CHAT, TG_TOKEN, WHAPI_TOKEN
from tests.channels.conftest import adapter_for, channel_of, telegram_adapter, waha_adapter
from tests.channels.fake_webhooks import FakeDiscord, FakeSlack
from tests.channels.fake_whatsapp import FakeWhapi

PICTURED = {"url": "https://news.example.org/x", "title": "T", "summary": "S",
            "image_url": "https://cdn.example.org/x.jpg", "section": "Asia"}


def test_telegram_image_posts_the_photo_with_the_text_as_its_caption(telegram, plain_settings):
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
    return adapter_for(channel_of("discord", {"url": server.url(FakeDiscord.PATH), **keys}))


@pytest.fixture()
def discord():
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
    with FakeSlack() as server:
        yield server


def slack_adapter(server, **keys):
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


def test_waha_core_has_no_images_and_posts_text_without_disabling(waha):
    waha.core = True
    waha.images.add(PICTURED["image_url"])
    receipt = waha_adapter(waha, media="image").send(Outgoing(1, "k", "*T*", PICTURED))
    assert receipt.state == "accepted"
    assert [r.path for r in waha.requests] == ["/api/sendImage", "/api/sendText"]


def test_the_preview_names_the_endpoint_an_image_post_goes_to(telegram):
    adapter = telegram_adapter(telegram, media="image")
    assert adapter.endpoint(Outgoing(1, "k", "t", PICTURED)).endswith("/bot***/sendPhoto")
    no_image = Outgoing(1, "k", "t", {**PICTURED, "image_url": None})
    assert adapter.endpoint(no_image).endswith("/bot***/sendMessage")
