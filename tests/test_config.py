"""Settings: environment, *_FILE secrets, the TOML file and its ${VAR}s, and one-line errors."""

from __future__ import annotations

import pytest

from distributor.bootstrap import load_settings
from distributor.errors import ConfigError
from distributor.outbox.plan import sections_match
from distributor.values import parse_duration, parse_rate


def base_env(tmp_path, **extra):
    return {"DISTRIBUTOR_VAR_DIR": str(tmp_path / "var"),
            "DISTRIBUTOR_CONFIG": str(tmp_path / "none.toml"), **extra}


def test_defaults_are_the_documented_ones(tmp_path):
    settings = load_settings({"DISTRIBUTOR_VAR_DIR": str(tmp_path / "var")})
    assert settings.database_url.get_secret_value() == "sqlite:///./var/distributor.db"
    assert settings.broker_url == "redis://localhost:6379/0"
    assert settings.smtp_url.get_secret_value() == "maildir:./var/outbox"
    assert settings.from_address == "News <news@localhost>"
    assert settings.public_url == "http://localhost:8000"
    assert settings.api_token is None


def test_a_secret_key_is_generated_once_into_the_var_dir(tmp_path):
    env = {"DISTRIBUTOR_VAR_DIR": str(tmp_path / "var")}
    first = load_settings(env).secret
    assert (tmp_path / "var" / "secret").read_text() == first
    assert load_settings(env).secret == first


def test_secrets_read_from_files(tmp_path):
    (tmp_path / "token").write_text("file-token-0123456789\n")
    env = {"DISTRIBUTOR_VAR_DIR": str(tmp_path), "DISTRIBUTOR_API_TOKEN_FILE": str(tmp_path / "token")}
    assert load_settings(env).api_token.get_secret_value() == "file-token-0123456789"


def test_setting_a_secret_and_its_file_is_an_error(tmp_path):
    env = {"DISTRIBUTOR_API_TOKEN": "x", "DISTRIBUTOR_API_TOKEN_FILE": str(tmp_path / "t")}
    with pytest.raises(ConfigError, match="DISTRIBUTOR_API_TOKEN and DISTRIBUTOR_API_TOKEN_FILE"):
        load_settings(env)


@pytest.mark.parametrize("name,value,message", [
    ("DISTRIBUTOR_PUBLIC_URL", "ftp://x", "DISTRIBUTOR_PUBLIC_URL"),
    ("DISTRIBUTOR_BROKER_URL", "kafka://x", "DISTRIBUTOR_BROKER_URL"),
    ("DISTRIBUTOR_BROKER_URL", "redis://a:6379;redis://b:6379", "DISTRIBUTOR_BROKER_URL"),
    ("DISTRIBUTOR_BROKER_URL", "sentinel://h1:x;sentinel://h2:26379", "DISTRIBUTOR_BROKER_URL"),
    ("DISTRIBUTOR_BROKER_URL", "amqp://guest@rabbit//", "DISTRIBUTOR_REDIS_URL"),
    ("DISTRIBUTOR_REDIS_URL", "amqp://guest@rabbit//", "DISTRIBUTOR_REDIS_URL"),
    ("DISTRIBUTOR_SENTINEL_MASTER", "my master", "DISTRIBUTOR_SENTINEL_MASTER"),
    ("DISTRIBUTOR_BATCH_SIZE", "lots", "DISTRIBUTOR_BATCH_SIZE"),
    ("DISTRIBUTOR_CONFIG", "/nonexistent/distributor.toml", "DISTRIBUTOR_CONFIG"),
])
def test_a_bad_value_is_named_in_one_line(tmp_path, name, value, message):
    with pytest.raises(ConfigError, match=message) as error:
        load_settings({"DISTRIBUTOR_VAR_DIR": str(tmp_path), name: value})
    assert "\n" not in str(error.value)


def test_the_toml_file_expands_variables_and_validates_channels(tmp_path):
    path = tmp_path / "distributor.toml"
    path.write_text("""
[publisher]
name = "StratNews Global"
address = "New Delhi"

[[channels]]
name = "ops-hook"
type = "webhook"
url = "https://hooks.example.org/${HOOK_PATH}"
secret = "${HOOK_SECRET}"
sections = ["South Asia and Beyond"]
rate = "20/m"
""")
    env = base_env(tmp_path, DISTRIBUTOR_CONFIG=str(path), HOOK_PATH="news",
                   HOOK_SECRET="whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTMyYiE=")
    settings = load_settings(env)
    channel = settings.channel("ops-hook")
    assert channel.options.url == "https://hooks.example.org/news"
    assert sections_match(channel.sections, "south asia and beyond")
    assert not sections_match(channel.sections, "Business")
    assert "whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTMyYiE=" in settings.secret_values()
    assert "whsec_" not in repr(settings)


@pytest.mark.parametrize("body,message", [
    ('[[channels]]\nname = "a"\ntype = "pigeon"\n', "unknown channel type 'pigeon'"),
    ('[[channels]]\nname = "a"\ntype = "webhook"\n', r"channels\[0\] \(a\): url: Field required"),
    ('[[channels]]\nname = "a"\ntype = "webhook"\nurl = "https://x"\nrate = "fast"\n',
     "rate"),
    ('[[channels]]\nname = "a"\ntype = "webhook"\nurl = "${MISSING}"\n', r"\$\{MISSING\}"),
    ('[[channels]]\nname = "a"\ntype = "webhook"\nurl = "https://x"\n'
     '[[channels]]\nname = "a"\ntype = "webhook"\nurl = "https://y"\n', "used twice"),
    ('not toml = = =', "not valid TOML"),
])
def test_config_file_mistakes_are_refused_naming_the_key(tmp_path, body, message):
    path = tmp_path / "distributor.toml"
    path.write_text(body)
    with pytest.raises(ConfigError, match=message):
        load_settings(base_env(tmp_path, DISTRIBUTOR_CONFIG=str(path)))


def test_rates_and_durations():
    assert parse_rate("20/m") == (20, 60)
    assert parse_rate("1/s") == (1, 1)
    assert parse_duration("5m") == 300 and parse_duration("24h") == 86400
    with pytest.raises(ValueError):
        parse_rate("0/s")


@pytest.mark.parametrize("name,value,message", [
    ("DISTRIBUTOR_SMTP_URL", "smtp+startls://user:s3cret-pw@mail.example.org:587",
     r"DISTRIBUTOR_SMTP_URL: unknown scheme 'smtp\+startls': use smtp://, smtp\+starttls://, "
     "smtps:// or maildir:PATH"),
    ("DISTRIBUTOR_SMTP_URL", "mail.example.org", "DISTRIBUTOR_SMTP_URL: unknown scheme"),
    ("DISTRIBUTOR_SMTP_URL", "smtp://user:s3cret-pw@mail.example.org:smtp",
     "DISTRIBUTOR_SMTP_URL: the port is not a number"),
    ("DISTRIBUTOR_SMTP_URL", "maildir:", "DISTRIBUTOR_SMTP_URL: maildir: needs a path"),
    ("DISTRIBUTOR_FROM", "News", "DISTRIBUTOR_FROM: 'News' is not an address"),
    ("DISTRIBUTOR_FROM", "News <news@>", "DISTRIBUTOR_FROM: 'News <news@>' is not an address"),
    ("DISTRIBUTOR_FROM", "News <news@bücher.de>", "DISTRIBUTOR_FROM: .*IDNA"),
    ("DISTRIBUTOR_SMTP_RATE", "fast", "DISTRIBUTOR_SMTP_RATE: 'fast' is not a rate"),
])
def test_mail_settings_are_checked_when_they_load(tmp_path, name, value, message):
    with pytest.raises(ConfigError, match=message) as error:
        load_settings({"DISTRIBUTOR_VAR_DIR": str(tmp_path), name: value})
    assert "\n" not in str(error.value) and "s3cret-pw" not in str(error.value)


def test_good_mail_settings_load(tmp_path):
    settings = load_settings({"DISTRIBUTOR_VAR_DIR": str(tmp_path),
                              "DISTRIBUTOR_SMTP_URL": "smtp+starttls://u:p@mail.example.org:587",
                              "DISTRIBUTOR_FROM": "Büro Nachrichten <news@xn--bcher-kva.de>",
                              "DISTRIBUTOR_SMTP_RATE": "14/s"})
    assert settings.smtp_rate == "14/s"
