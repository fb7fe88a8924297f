"""`distributor channels list|test` and `distributor preview channel`."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from distributor.channels.post import run_post
from distributor.cli import cli
from tests.channels.cases import TG_CHAT, TG_TOKEN
from tests.channels.conftest import publish
from tests.channels.fake_telegram import FakeTelegram
from tests.channels.fake_webhooks import FakeDiscord
from tests.conftest import migrated, settings_env, write_config


@pytest.fixture()
def services():
    with FakeTelegram(TG_TOKEN, TG_CHAT) as telegram, FakeDiscord() as discord:
        yield telegram, discord


@pytest.fixture()
def env(tmp_path, redis_url, database_url, services):
    telegram, discord = services
    config = write_config(tmp_path / "distributor.toml", channels=[
        {"name": "tg", "type": "telegram", "base_url": telegram.url(), "chat_id": TG_CHAT,
         "token": TG_TOKEN, "sections": ["Asia"]},
        {"name": "dc", "type": "discord", "url": discord.url("/api/webhooks/1/deleted"),
         "rate": "5/m"},
    ])
    return settings_env(tmp_path, migrated(database_url), redis_url, f"maildir:{tmp_path / 'out'}",
                        config)


def run(env, *args):
    return CliRunner(env=env).invoke(cli, list(args), catch_exceptions=False)


def test_channels_list_shows_type_rate_state_and_last_post(env, services):
    import requests

    from distributor.bootstrap import load_settings
    from distributor.store import Database

    settings = load_settings(env)
    db = Database(settings.database_url.get_secret_value())
    db.upgrade()
    post_id = publish(settings, db)[0]  # goes to dc only (no section)
    run_post(db, settings, requests.Session(), post_id)  # the webhook is gone: disabled

    result = run(env, "channels", "list", "--json")
    assert result.exit_code == 0, result.output
    rows = {r["name"]: r for r in json.loads(result.output)}
    assert rows["tg"]["type"] == "telegram" and rows["tg"]["sections"] == ["Asia"]
    assert (rows["tg"]["rate"], rows["tg"]["rate_source"]) == ("20/m", "default")
    assert rows["tg"]["state"] == "enabled" and rows["tg"]["last_post"] is None
    assert rows["dc"]["rate"] == "5/m" and rows["dc"]["state"] == "disabled"
    assert "Unknown Webhook" in rows["dc"]["reason"]
    assert rows["dc"]["last_post"]["state"] == "failed"

    table = run({**env, "COLUMNS": "250"}, "channels", "list")
    assert "disabled: 404" in table.output and "20/m (default)" in table.output

    status = json.loads(run(env, "status", "--json").output)
    assert status["disabled_channels"][0]["name"] == "dc"
    db.dispose()


def test_channels_test_sends_a_message_and_shows_the_answer(env, services):
    telegram, discord = services
    result = run(env, "channels", "test", "tg")
    assert result.exit_code == 0, result.output
    assert "sent, message id 1001" in result.output and '"ok": true' in result.output
    assert "<b>Test from distributor: &lt;b&gt;tags&lt;/b&gt;" in telegram.posts[0]["text"]
    assert TG_TOKEN not in result.output

    failed = run(env, "channels", "test", "dc")
    assert failed.exit_code == 1 and "Unknown Webhook" in failed.output

    unknown = run(env, "channels", "test", "nope")
    assert unknown.exit_code == 2 and "nope" in unknown.output


def test_preview_channel_shows_the_exact_payload_and_its_length(env, services, tmp_path):
    from distributor.bootstrap import load_settings
    from distributor.store import Database

    settings = load_settings(env)
    db = Database(settings.database_url.get_secret_value())
    db.upgrade()
    from distributor.inbound.article import ingest

    ingest(db, settings, {"url": "https://news.example.org/p", "title": "Tom & Jerry <3",
                          "summary": "xy " * 1600, "section": "Asia"})
    out = tmp_path / "body.json"
    result = run(env, "preview", "channel", "tg", "--article", "https://news.example.org/p",
                 "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "<b>Tom &amp; Jerry &lt;3</b>" in result.output
    assert "length 4096 of 4096 (shortened to fit)" in result.output or \
        "of 4096 (shortened to fit)" in result.output
    assert "/bot***/sendMessage" in result.output and TG_TOKEN not in result.output
    body = json.loads(out.read_text())
    assert body["parse_mode"] == "HTML" and body["chat_id"] == TG_CHAT
    assert services[0].requests == [], "a preview sends nothing"

    data = json.loads(run(env, "preview", "channel", "tg", "--article",
                          "https://news.example.org/p", "--json").output)
    assert data["length"] <= data["limit"] == 4096 and data["shortened"]
    assert run(env, "preview", "channel", "tg", "--article", "nope").exit_code == 2
    db.dispose()
