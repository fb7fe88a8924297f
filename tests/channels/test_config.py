"""A channel misconfigured is refused at start with one line naming the channel and
the key; a good table of every type loads."""

from __future__ import annotations

import pytest

from distributor.bootstrap import load_settings
from distributor.errors import ConfigError
from tests.channels.cases import NEWSLETTER, TG_CHAT, TG_TOKEN
from tests.conftest import settings_env, write_config

GOOD = [
    {"name": "whatsapp", "type": "waha", "base_url": "http://waha:3000", "chat_id": NEWSLETTER,
     "api_key": "${WAHA_API_KEY}", "verify": True, "rate": "20/m"},
    {"name": "wa-cloud", "type": "whapi", "chat_id": NEWSLETTER, "token": "tok"},
    {"name": "telegram", "type": "telegram", "chat_id": "@stratnews", "token": TG_TOKEN},
    {"name": "slack", "type": "slack", "url": "https://hooks.slack.com/services/T/B/X",
     "sections": ["South Asia and Beyond"]},
    {"name": "discord", "type": "discord", "url": "https://discord.com/api/webhooks/1/x"},
    {"name": "hook", "type": "webhook", "url": "https://example.org/hook"},
]


def load(tmp_path, redis_url, channels, **environ):
    config = write_config(tmp_path / "distributor.toml", channels)
    env = settings_env(tmp_path, f"sqlite:///{tmp_path / 'db.sqlite'}", redis_url,
                       f"maildir:{tmp_path / 'out'}", config)
    return load_settings({**env, "WAHA_API_KEY": "secret-key-123", **environ})


def test_every_type_loads_from_a_few_toml_lines(tmp_path, redis_url):
    settings = load(tmp_path, redis_url, GOOD)
    assert [c.type for c in settings.channels] == ["waha", "whapi", "telegram", "slack",
                                                   "discord", "webhook"]
    assert settings.channel("whatsapp").options.api_key.get_secret_value() == "secret-key-123"
    assert "secret-key-123" in settings.secret_values()
    assert "https://hooks.slack.com/services/T/B/X" in settings.secret_values()
    assert "secret-key-123" not in repr(settings.channel("whatsapp"))


def test_a_telegram_channel_id_may_be_written_as_a_number(tmp_path, redis_url):
    path = tmp_path / "distributor.toml"
    path.write_text(f'[[channels]]\nname = "tg"\ntype = "telegram"\nchat_id = {TG_CHAT}\n'
                    f'token = "{TG_TOKEN}"\n')
    env = settings_env(tmp_path, f"sqlite:///{tmp_path / 'db.sqlite'}", redis_url, "maildir:x",
                       path)
    assert load_settings(env).channel("tg").options.chat_id == TG_CHAT


BAD = [
    ("unknown type", {"type": "myspace", "url": "https://x"}, ["type", "myspace"]),
    ("missing token", {"type": "telegram", "chat_id": "@news"}, ["token", "required"]),
    ("missing api key", {"type": "waha", "base_url": "http://w", "chat_id": NEWSLETTER},
     ["api_key"]),
    ("waha without base_url", {"type": "waha", "chat_id": NEWSLETTER, "api_key": "k"},
     ["base_url", "required"]),
    ("bad base_url", {"type": "whapi", "base_url": "gate.whapi.cloud", "chat_id": NEWSLETTER,
                      "token": "t"}, ["base_url", "http"]),
    ("bad rate", {"type": "slack", "url": "https://h", "rate": "fast"}, ["rate", "fast"]),
    ("whatsapp chat id", {"type": "whapi", "chat_id": "919800000000@c.us", "token": "t"},
     ["chat_id", "@newsletter"]),
    ("telegram chat id", {"type": "telegram", "chat_id": "news", "token": TG_TOKEN},
     ["chat_id", "-100"]),
    ("telegram group id", {"type": "telegram", "chat_id": "-4001234", "token": TG_TOKEN},
     ["chat_id"]),
    ("bad bot token", {"type": "telegram", "chat_id": "@news", "token": "nope"}, ["token"]),
    ("unknown key", {"type": "discord", "url": "https://d", "chanel": "x"},
     ["chanel", "not a key"]),
    ("unset variable", {"type": "whapi", "chat_id": NEWSLETTER, "token": "${NOT_SET_ANYWHERE}"},
     ["NOT_SET_ANYWHERE"]),
]


@pytest.mark.parametrize(("why", "keys", "words"), BAD, ids=[b[0] for b in BAD])
def test_a_bad_channel_is_refused_naming_channel_and_key(tmp_path, redis_url, why, keys,
                                                         words):
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, redis_url, [{"name": "newsroom", **keys}])
    message = str(caught.value)
    assert "\n" not in message
    assert "newsroom" in message or "NOT_SET" in message
    for word in words:
        assert word in message, message
