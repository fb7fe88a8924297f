"""A small stack per test: settings on a fresh SQLite file and the test Redis
database (flushed first, so queue depths are ours), a webhook channel pointing at
the local HTTP receiver, an instant list with subscribers. Workers start on demand."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from distributor.audience.lists import create_list
from distributor.audience.subscribers import add_subscriber
from distributor.bootstrap import load_settings
from distributor.config import Settings
from distributor.inbound.article import ingest
from distributor.store import Database
from tasks.app import make_app
from tasks.dispatch import CeleryDispatcher
from tests.browser import browser  # noqa: F401 (the headless Chromium fixture)
from tests.conftest import ROOT, settings_env, write_config


@dataclass
class Monitored:
    settings: Settings
    env: dict[str, str]
    db: Database
    dispatcher: CeleryDispatcher
    http: object
    smtp: object

    def publish(self, title: str = "Monsoon session opens") -> int:
        slug = uuid.uuid4().hex[:8]
        result = ingest(self.db, self.settings, {"url": f"https://news.example.org/{slug}",
                                                 "title": f"{title} {slug}",
                                                 "section": "India"})
        return result.article_id

    def cli(self, *args: str, timeout: float = 30,
            env_broker: str | None = None) -> subprocess.CompletedProcess:
        env = {**os.environ, **self.env, "PYTHONPATH": str(ROOT)}
        if env_broker:
            env["DISTRIBUTOR_BROKER_URL"] = env_broker
        return subprocess.run([sys.executable, "-c", "from distributor.cli import main; main()",
                               *args],
                              env=env,
                              capture_output=True, text=True, timeout=timeout, cwd=ROOT)


@pytest.fixture()
def monitored(tmp_path: Path, redis_url, database_url, smtp_server,
              http_receiver) -> Monitored:
    http_receiver.replies.clear()
    config = write_config(tmp_path / "distributor.toml", channels=[
        # A refusing receiver is retried until max_age (Standard Webhooks): a short one
        # here, with quick retries, so a refused post fails within seconds; long enough
        # that a loaded machine still gives the post its first turn within it.
        {"name": "newsroom-hook", "type": "webhook", "max_age": "12s",
         "url": http_receiver.url(f"/hooks/{uuid.uuid4().hex[:6]}")}])
    env = settings_env(tmp_path, database_url, redis_url,
                       smtp_server.url, config, channel_retry_base="1")
    settings = load_settings(env)
    db = Database(settings.database_url.get_secret_value())
    db.upgrade()
    create_list(db, "breaking", instant=True)
    for i in range(3):
        add_subscriber(db, f"reader{i}-{uuid.uuid4().hex[:6]}@example.org", "breaking")
    create_list(db, "morning", instant=False, schedule="0 7 * * *", timezone="Asia/Kolkata")
    yield Monitored(settings, env, db, CeleryDispatcher(make_app(settings)), http_receiver,
                    smtp_server)
    db.dispose()
    client = redis.Redis.from_url(redis_url)  # only this test's keys: its broker prefix
    for key in client.scan_iter(f"{settings.broker_prefix}*"):
        client.delete(key)
