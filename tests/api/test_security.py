"""The security review's findings (issue 18), one reproduction each: every test here
failed before its fix."""

from __future__ import annotations

import logging

import pytest
from click.testing import CliRunner

from distributor.api import create_app
from distributor.bootstrap import load_settings
from distributor.cli import cli
from distributor.errors import ConfigError
from tests.conftest import settings_env

# -- 1. Empty or short secrets are refused when the settings load -------------------------


@pytest.mark.parametrize("name,value", [
    ("DISTRIBUTOR_API_TOKEN", ""),
    ("DISTRIBUTOR_API_TOKEN", "   "),
    ("DISTRIBUTOR_API_TOKEN", "change-me"),
    ("DISTRIBUTOR_WEBHOOK_SECRET", ""),
    ("DISTRIBUTOR_WEBHOOK_SECRET", "whsec_"),
    ("DISTRIBUTOR_WEBHOOK_SECRET", "whsec_AA=="),
    ("DISTRIBUTOR_SECRET_KEY", ""),
    ("DISTRIBUTOR_SECRET_KEY", "short-key"),
])
def test_empty_or_short_secrets_are_refused_naming_the_variable(tmp_path, name, value):
    env = {"DISTRIBUTOR_VAR_DIR": str(tmp_path / "var"),
           "DISTRIBUTOR_CONFIG": str(tmp_path / "none.toml"), name: value}
    (tmp_path / "none.toml").write_text("")
    with pytest.raises(ConfigError) as error:
        load_settings(env)
    message = str(error.value)
    assert message.startswith(name + ":") and "\n" not in message
    if value.strip():
        assert value not in message


def test_an_empty_secret_file_is_refused_too(tmp_path):
    (tmp_path / "token").write_text("\n")
    env = {"DISTRIBUTOR_VAR_DIR": str(tmp_path / "var"),
           "DISTRIBUTOR_API_TOKEN_FILE": str(tmp_path / "token")}
    with pytest.raises(ConfigError, match="^DISTRIBUTOR_API_TOKEN: is empty"):
        load_settings(env)


def test_the_cli_exits_2_with_one_line_on_an_empty_token(tmp_path, redis_url, monkeypatch):
    env = settings_env(tmp_path, f"sqlite:///{tmp_path / 'db.sqlite'}", redis_url,
                       f"maildir:{tmp_path / 'outbox'}", api_token="")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    result = CliRunner().invoke(cli, ["lists", "list"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [result.output.strip()]
    assert "DISTRIBUTOR_API_TOKEN" in result.output


def test_without_a_token_the_api_says_on_start_that_admin_and_dashboard_are_off(
        make_settings, db, dispatcher, caplog):
    settings = make_settings().model_copy(update={"api_token": None})
    with caplog.at_level(logging.WARNING, logger="distributor.api"):
        create_app(settings, db, dispatcher)
    assert any("DISTRIBUTOR_API_TOKEN is not set" in r.getMessage() and "dashboard" in
               r.getMessage() for r in caplog.records)
