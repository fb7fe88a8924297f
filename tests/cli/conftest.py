from __future__ import annotations

import pytest
from click.testing import CliRunner

from distributor.cli import cli
from tests.conftest import migrated, settings_env


@pytest.fixture()
def run(tmp_path, redis_url, database_url, monkeypatch):
    # The CLI makes a fresh SQLite file ready by itself; PostgreSQL is migrated first, as
    # an operator does with `distributor db upgrade`.
    url = database_url if database_url.startswith("sqlite") else migrated(database_url)
    env = settings_env(tmp_path, url, redis_url,
                       f"maildir:{tmp_path / 'outbox'}")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    runner = CliRunner()

    def invoke(*args, input=None):
        return runner.invoke(cli, list(args), input=input, catch_exceptions=False)

    return invoke
