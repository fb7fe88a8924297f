"""The reader's side: a newsroom with a public instant list and a public digest list of
all news, over a real database (SQLite and PostgreSQL) and a real SMTP server."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import select

from distributor.api import create_app
from distributor.audience.lists import create_list
from distributor.audience.subscribers import add_subscriber
from distributor.audience.tokens import manage_token
from distributor.cli import cli
from distributor.email.batch import run_batch
from distributor.email.confirm import send_confirmation
from distributor.email.digests import trigger_digest
from distributor.email.transport import open_transport
from distributor.inbound.article import ingest
from distributor.outbox.wake import MemoryDispatcher
from distributor.store import Batch, Database, MailingList, Send, Subscriber
from tests.browser import browser  # noqa: F401 (the headless Chromium fixture)
from tests.conftest import new_database_url, settings_env


class Newsroom:
    def __init__(self, settings, db: Database, smtp_server, url: str):
        self.settings, self.db, self.smtp, self.url = settings, db, smtp_server, url
        self.transport = open_transport(settings.smtp_url.get_secret_value(), 10)
        self.tag = uuid.uuid4().hex[:8]
        self.dispatcher = MemoryDispatcher()  # records the confirm tasks the pages ask for
        create_list(db, "breaking", instant=True, public=True)
        create_list(db, "daily", instant=False, schedule="0 7 * * *",
                    timezone="Asia/Kolkata", public=True)
        create_list(db, "staff", instant=True)  # private: readers never see it

    def reader(self, name: str, *lists: str, sections=()) -> str:
        email = f"{name}-{self.tag}@example.com"
        for list_name in lists or ("breaking",):
            add_subscriber(self.db, email, list_name, name.title(), sections)
        return email

    def token(self, email: str) -> str:
        with self.db.session() as session:
            subscriber_id = session.scalar(select(Subscriber.id).where(Subscriber.email == email))
        return manage_token(self.settings.secret, subscriber_id, email)

    def publish(self, title: str, section: str | None = None) -> int:
        """Publish an article and run its alert batches against the SMTP server; the id
        of its alert send to the list `breaking`."""
        slug = uuid.uuid4().hex[:8]
        article_id = ingest(self.db, self.settings, {
            "url": f"https://news.example.org/{slug}", "title": title, "section": section,
            "published_at": datetime.now(UTC).isoformat()}).article_id
        with self.db.session() as session:
            send_id = session.scalar(select(Send.id).join(MailingList).where(
                Send.article_id == article_id, MailingList.name == "breaking"))
            batch_ids = list(session.scalars(select(Batch.id).join(Send).where(
                Send.article_id == article_id)))
        for batch_id in batch_ids:
            run_batch(self.db, self.settings, self.transport, batch_id)
        return send_id

    def digest(self) -> int:
        """Send the `daily` digest now (over SMTP); its send's id."""
        result = trigger_digest(self.db, self.settings, "daily")
        with self.db.session() as session:
            batch_ids = list(session.scalars(select(Batch.id).where(
                Batch.send_id == result.send_id)))
        for batch_id in batch_ids:
            run_batch(self.db, self.settings, self.transport, batch_id)
        return result.send_id

    def mailed(self, email: str) -> list:
        return [m.message for m in self.smtp.handler.to(email)]

    def client(self) -> TestClient:
        return TestClient(create_app(self.settings, self.db, self.dispatcher),
                          raise_server_exceptions=False)

    def cli(self, tmp_path, redis_url, monkeypatch):
        """`distributor …` against this newsroom's database: (exit code, output)."""
        env = settings_env(tmp_path, self.url, redis_url, self.settings.smtp_url
                           .get_secret_value())
        for key, value in env.items():
            monkeypatch.setenv(key, value)

        def run(*args: str):
            result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
            return result.exit_code, result.output

        return run

    def send_confirmations(self) -> None:
        """What the worker's confirm task does, for each task the pages enqueued."""
        for subscription_id in self.dispatcher.ids("email.confirm"):
            send_confirmation(self.db, self.settings, self.transport, subscription_id)
        self.dispatcher.calls.clear()


@pytest.fixture()
def newsroom(backend, postgres, tmp_path, make_settings, smtp_server):
    url = new_database_url(backend, postgres, tmp_path)
    settings = make_settings(database_url=url, smtp_url=smtp_server.url)
    db = Database(url)
    db.upgrade()
    yield Newsroom(settings, db, smtp_server, url)
    db.dispose()
