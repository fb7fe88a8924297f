from __future__ import annotations

import pytest
from click.testing import CliRunner

from distributor.cli import cli
from tests.conftest import settings_env


@pytest.fixture()
def run(tmp_path, redis_url, database_url, monkeypatch):
    env = settings_env(tmp_path, database_url, redis_url,
                       f"maildir:{tmp_path / 'outbox'}")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    runner = CliRunner()

    def invoke(*args, input=None):
        return runner.invoke(cli, list(args), input=input, catch_exceptions=False)

    return invoke
