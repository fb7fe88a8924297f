"""The email stage's shared set-up: one alert to one instant list over a real database
and a real SMTP server."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import select, update

from distributor.audience.lists import create_list
from distributor.audience.subscribers import add_subscriber
from distributor.email.batch import run_batch
from distributor.email.transport import open_transport
from distributor.inbound.article import ingest
from distributor.store import Batch, Database, Delivery, Send, Subscriber
from tests.conftest import new_database_url


class Alert:
    """One instant list, its readers, one published article: one send of one batch."""

    def __init__(self, settings, db: Database, readers: int, extra: tuple[str, ...] = (),
                 published: datetime | None = None):
        self.settings, self.db = settings, db
        self.transport = open_transport(settings.smtp_url.get_secret_value(), 10)
        tag = uuid.uuid4().hex[:8]
        create_list(db, f"alerts-{tag}", instant=True)
        self.emails = [*extra, *(f"reader{n}-{tag}@example.com" for n in range(readers))]
        for email in self.emails:
            add_subscriber(db, email, f"alerts-{tag}")
        published = (published or datetime.now(UTC)).isoformat()
        ingest(db, settings, {"url": f"https://news.example.org/{tag}", "title": "Breaking",
                              "published_at": published})
        with db.session() as session:
            self.batch_id = session.scalar(select(Batch.id))
            self.send_id = session.scalar(select(Send.id))

    def run(self):
        return run_batch(self.db, self.settings, self.transport, self.batch_id)

    def run_with(self, pace):
        return run_batch(self.db, self.settings, self.transport, self.batch_id, pace=pace)

    def ledger(self) -> dict[str, tuple[str, int]]:
        with self.db.session() as session:
            rows = session.execute(select(Subscriber.email, Delivery.state, Delivery.attempts)
                                   .join(Delivery, Delivery.subscriber_id == Subscriber.id))
            return {email: (state, attempts) for email, state, attempts in rows}

    def reopen(self) -> None:
        """As the next try would find the batch: lease and wait gone."""
        with self.db.session() as session:
            session.execute(update(Batch).values(lease_until=None, next_attempt_at=None))

    def subscriber_id(self, email: str) -> int:
        with self.db.session() as session:
            return session.scalar(select(Subscriber.id).where(Subscriber.email == email))


@pytest.fixture()
def alert(backend, postgres, tmp_path, make_settings, smtp_server):
    def make(readers: int = 3, extra: tuple[str, ...] = (), server=None,
             published: datetime | None = None, **settings_extra: str) -> Alert:
        """`extra` addresses come first, then `readers` ordinary ones; `server` replaces
        the shared SMTP server."""
        url = new_database_url(backend, postgres, tmp_path)
        settings = make_settings(database_url=url, smtp_url=(server or smtp_server).url,
                                 **settings_extra)
        db = Database(url)
        db.upgrade()
        made.append(db)
        return Alert(settings, db, readers, extra, published)

    made: list[Database] = []
    yield make
    handler = smtp_server.handler
    handler.busy_rcpts = 0
    handler.max_per_second = None
    for db in made:
        db.dispose()


