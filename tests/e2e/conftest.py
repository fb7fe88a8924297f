"""One running stack per database backend: a real Celery worker subprocess on the
real Redis, an aiosmtpd server and a local HTTP receiver for the webhooks."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from distributor.bootstrap import load_settings
from distributor.config import Settings
from distributor.store import Database
from tasks.app import make_app
from tasks.dispatch import CeleryDispatcher
from tests.conftest import (
    WEBHOOK_SECRET,
    Worker,
    delete_broker_queues,
    new_database_url,
    settings_env,
    write_config,
)


@dataclass
class Stack:
    settings: Settings
    db: Database
    dispatcher: CeleryDispatcher
    env: dict[str, str]
    worker: Worker
    smtp: object
    http: object
    tmp: Path

    def unique(self, prefix: str) -> str:
        return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="session")
def stack(backend, postgres, redis_url, smtp_server, http_receiver, tmp_path_factory):
    tmp = tmp_path_factory.mktemp(f"stack-{backend}")
    config = write_config(tmp / "distributor.toml", channels=[
        {"name": "ops-hook", "type": "webhook", "url": http_receiver.url("/hooks/all"),
         "secret": WEBHOOK_SECRET},
        {"name": "asia-hook", "type": "webhook", "url": http_receiver.url("/hooks/asia"),
         "sections": ["South Asia and Beyond"]},
    ])
    env = settings_env(tmp, new_database_url(backend, postgres, tmp), redis_url,
                       smtp_server.url, config, sweep_grace="5")
    settings = load_settings(env)
    db = Database(settings.database_url.get_secret_value())
    db.upgrade()
    app = make_app(settings)
    worker = Worker(env, tmp).start()
    yield Stack(settings, db, CeleryDispatcher(app), env, worker, smtp_server, http_receiver,
                tmp)
    worker.stop()
    db.dispose()
    delete_broker_queues(env)
