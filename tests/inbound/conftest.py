"""Feed tests: a local news site serving feeds, and settings with [[feeds]]."""

from __future__ import annotations

import pytest

from distributor.bootstrap import load_settings
from distributor.store import Database
from tests.conftest import new_database_url, settings_env, write_config
from tests.inbound.feedsite import FeedSite


@pytest.fixture()
def site():
    with FeedSite() as running:
        yield running


def _toml(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "{" + ", ".join(f'"{k}" = {_toml(v)}' for k, v in value.items()) + "}"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def feeds_env(tmp_path, redis_url, feeds: list[dict], channels: list[dict] | None = None,
              smtp_url: str | None = None, database_url: str | None = None,
              **extra: str) -> dict[str, str]:
    """The environment of a service configured with these feeds and channels."""
    config = write_config(tmp_path / "distributor.toml", channels)
    with config.open("a") as handle:
        for feed in feeds:
            handle.write("\n[[feeds]]\n")
            handle.writelines(f"{key} = {_toml(value)}\n" for key, value in feed.items())
    return settings_env(tmp_path, database_url or f"sqlite:///{tmp_path / 'db.sqlite'}", redis_url,
                        smtp_url or f"maildir:{tmp_path / 'outbox'}", config, **extra)


@pytest.fixture()
def feed_service(tmp_path, redis_url, backend, postgres):
    """make(feeds, channels) -> (settings, db, env), the schema migrated, on each backend."""
    made: list[Database] = []

    def make(feeds: list[dict], channels: list[dict] | None = None, **extra):
        env = feeds_env(tmp_path, redis_url, feeds, channels,
                        database_url=new_database_url(backend, postgres, tmp_path), **extra)
        settings = load_settings(env)
        db = Database(settings.database_url.get_secret_value())
        db.upgrade()
        made.append(db)
        return settings, db, env

    yield make
    for db in made:
        db.dispose()
