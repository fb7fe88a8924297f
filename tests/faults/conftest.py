"""A stack per fault test: its own database, its own broker key prefix (so other
stacks' workers never see its tasks), fast leases, a sweeper every second.

A fault test proves something only when its fault hit work in progress: `mid_batch`
waits until each of N batches is running with between 20% and 80% of its readers in
the ledger (read from the database, not guessed from a count at the receiver), and
returns what it saw, for the test to assert before it counts the damage."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import func, insert, or_, select

from distributor.bootstrap import load_settings
from distributor.config import Settings
from distributor.states import BatchState
from distributor.store import Batch, Database, Delivery, MailingList, Subscriber, Subscription
from tasks.app import make_app
from tasks.dispatch import CeleryDispatcher
from tests.conftest import (
    ROOT,
    Worker,
    delete_broker_queues,
    new_database_url,
    settings_env,
    write_config,
)

FAST = {"lease_seconds": "5", "sweep_every": "1", "sweep_grace": "2",
        "email_retry_base": "1", "channel_retry_base": "0.5", "http_timeout": "1",
        "batch_size": "250"}


@dataclass
class BatchProgress:
    id: int
    state: str
    holder: str | None
    first_id: int
    last_id: int
    size: int
    done: int

    @property
    def fraction(self) -> float:
        return self.done / self.size


@dataclass
class FaultStack:
    env: dict[str, str]
    settings: Settings
    db: Database
    dispatcher: CeleryDispatcher
    tmp: Path
    processes: list = field(default_factory=list)

    def worker(self, concurrency: int = 1) -> Worker:
        worker = Worker(self.env, self.tmp, concurrency=concurrency).start()
        self.processes.append(worker)
        return worker

    def beat(self) -> subprocess.Popen:
        beat = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "tasks", "beat", "-s",
             str(self.tmp / f"beat-{uuid.uuid4().hex[:6]}"), "-l", "warning"],
            env={**os.environ, **self.env, "PYTHONPATH": str(ROOT)}, cwd=self.tmp,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.processes.append(beat)
        return beat

    def seed(self, list_name: str, count: int) -> list[str]:
        """An instant list with `count` subscribers, inserted in bulk; their addresses."""
        tag = uuid.uuid4().hex[:6]
        emails = [f"{list_name}-{tag}-{n}@example.com" for n in range(count)]
        with self.db.session() as session:
            session.add(MailingList(name=list_name, kind="instant", sections=[]))
        with self.db.session() as session:
            list_id = session.scalar(select(MailingList.id).where(MailingList.name == list_name))
            session.execute(insert(Subscriber), [{"email": e, "name": ""} for e in emails])
            ids = session.scalars(select(Subscriber.id).where(Subscriber.email.in_(emails))).all()
            session.execute(insert(Subscription), [
                {"list_id": list_id, "subscriber_id": i, "status": "active", "sections": []}
                for i in ids])
        return emails

    def progress(self) -> list[BatchProgress]:
        """Each batch of the stack: its state, holder, size and readers in the ledger."""
        with self.db.session() as session:
            batches = session.execute(select(Batch.id, Batch.send_id, Batch.state,
                                             Batch.lease_holder, Batch.first_id,
                                             Batch.last_id).order_by(Batch.id)).all()
            done = dict(session.execute(
                select(Batch.id, func.count(Delivery.id)).join(
                    Delivery, (Delivery.send_id == Batch.send_id)
                    & Delivery.subscriber_id.between(Batch.first_id, Batch.last_id))
                .group_by(Batch.id)).all())
        return [BatchProgress(b.id, b.state, b.lease_holder, b.first_id, b.last_id,
                              b.last_id - b.first_id + 1, done.get(b.id, 0)) for b in batches]

    def mid_batch(self, count: int, low: float = 0.2, high: float = 0.8,
                  timeout: float = 60) -> list[BatchProgress]:
        """Wait until `count` batches are running, each between `low` and `high` of the
        way through; those batches. Bounded in time."""
        deadline = time.monotonic() + timeout
        seen: list[BatchProgress] = []
        while time.monotonic() < deadline:
            seen = self.progress()
            running = [b for b in seen if b.state == BatchState.RUNNING and b.holder]
            inside = [b for b in running if low <= b.fraction <= high]
            if len(running) == count and len(inside) == count:
                return inside
            if sum(b.fraction > high for b in running) and len(inside) < count and \
                    all(b.state != BatchState.PLANNED for b in seen):
                break  # past the moment and nothing left to start: it will not come
            time.sleep(0.02)
        raise AssertionError(f"never saw {count} batches {low:.0%}-{high:.0%} through at once: "
                             + ", ".join(f"{b.id}:{b.state}:{b.done}/{b.size}" for b in seen))

    def subscriber_emails(self, batches: list[BatchProgress]) -> list[str]:
        """The addresses of the readers in these batches' ranges."""
        with self.db.session() as session:
            return list(session.scalars(select(Subscriber.email).where(
                or_(*[Subscriber.id.between(b.first_id, b.last_id) for b in batches]))))

    def stop(self) -> None:
        for process in self.processes:
            if isinstance(process, Worker):
                process.stop()
            else:
                process.terminate()
                process.wait(10)


@pytest.fixture()
def fault_stack(backend, postgres, redis_url, smtp_server, tmp_path, redis_client):
    prefix = f"fault-{uuid.uuid4().hex[:8]}:"
    made = []

    def make(channels: list[dict] | None = None, smtp_url: str | None = None,
             **extra: str) -> FaultStack:
        config = write_config(tmp_path / "distributor.toml", channels)
        env = settings_env(tmp_path, new_database_url(backend, postgres, tmp_path), redis_url,
                           smtp_url or smtp_server.url, config, broker_prefix=prefix,
                           **{**FAST, **extra})
        settings = load_settings(env)
        db = Database(settings.database_url.get_secret_value())
        db.upgrade()
        stack = FaultStack(env, settings, db, CeleryDispatcher(make_app(settings)), tmp_path)
        made.append(stack)
        return stack

    yield make
    for stack in made:
        stack.stop()
        stack.db.dispose()
        delete_broker_queues(stack.env)
    for key in redis_client.scan_iter(f"{prefix}*"):
        redis_client.delete(key)


def report(name: str, **figures) -> None:
    """Print the figures a fault test asserts (visible with pytest -s or in the summary)."""
    print(f"\n[fault] {name}: " + ", ".join(f"{k}={v}" for k, v in figures.items()))


def tally(smtp_server, emails: list[str]) -> tuple[int, int, int]:
    counts = smtp_server.handler.counts(emails)
    delivered = sum(1 for c in counts.values() if c)
    duplicates = sum(c - 1 for c in counts.values() if c > 1)
    return delivered, len(emails) - delivered, duplicates


def wait_all_delivered(smtp_server, emails: list[str], timeout: float = 90) -> float:
    started = time.monotonic()
    deadline = started + timeout
    while time.monotonic() < deadline:
        if tally(smtp_server, emails)[1] == 0:
            return time.monotonic() - started
        time.sleep(0.2)
    delivered, lost, duplicates = tally(smtp_server, emails)
    raise AssertionError(f"not all delivered after {timeout}s: delivered={delivered} lost={lost}")
