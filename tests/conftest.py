"""Shared fixtures. The suite runs on SQLite, and on PostgreSQL too when
DISTRIBUTOR_TEST_POSTGRES_URL is set. Redis is the real local one, on a database
number this run claims for itself (see RedisDatabase): two runs sharing one Redis
never flush each other's keys."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis
from kombu import Connection
from sqlalchemy import create_engine, text

from distributor.bootstrap import load_settings
from distributor.config import Settings
from distributor.outbox.wake import QUEUES
from distributor.store import Database
from tests.peers import HTTPReceiver, SMTPServer, wait_for

ROOT = Path(__file__).resolve().parents[1]
POSTGRES_URL = os.environ.get("DISTRIBUTOR_TEST_POSTGRES_URL")
# amqp://…: the stacks' brokers are this RabbitMQ (Redis still holds limits and heartbeats).
BROKER_URL = os.environ.get("DISTRIBUTOR_TEST_BROKER_URL")
SECRET_KEY = "test-secret-key-0123456789abcdef"
API_TOKEN = "test-api-token-abcdef"
WEBHOOK_SECRET = "whsec_" + "dGVzdC13ZWJob29rLXNlY3JldC0xMjM0NTY3OA=="


def _redis_base() -> str:
    return os.environ.get("DISTRIBUTOR_BROKER_URL", "redis://127.0.0.1:6379/0")


def _with_db(url: str, db: int) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{db}", "", ""))


class RedisDatabase:
    """A Redis database number held by this run: a lease key in database 0
    (SET NX with an expiry, renewed while the run lives). DISTRIBUTOR_TEST_REDIS_DB
    names the number to take (the run stops when another run holds it); without it the
    first free, empty number of 1-15 is taken. The run flushes only the database it
    holds, and an automatically chosen one only if it was empty when taken."""

    LEASE = "distributor-test:redis-db:{}"
    TTL = 120

    def __init__(self, base: str):
        self.admin = redis.Redis.from_url(_with_db(base, 0), socket_connect_timeout=2)
        self.base = base
        self.token = f"{socket.gethostname()}/{os.getpid()}/{uuid.uuid4().hex[:8]}"
        self.number: int | None = None
        self.stopping = threading.Event()

    def claim(self) -> int:
        wanted = os.environ.get("DISTRIBUTOR_TEST_REDIS_DB")
        candidates = [int(wanted)] if wanted else range(1, 16)
        for number in candidates:
            if not self.admin.set(self.LEASE.format(number), self.token, nx=True, ex=self.TTL):
                continue
            client = redis.Redis.from_url(_with_db(self.base, number))
            if wanted or client.dbsize() == 0:
                client.flushdb()  # named for this run, or empty: ours either way
                self.number = number
                threading.Thread(target=self._renew, daemon=True).start()
                return number
            self.admin.delete(self.LEASE.format(number))  # someone's keys: not ours
        held = f"database {wanted} is held by {self.admin.get(self.LEASE.format(wanted))!r}" \
            if wanted else "no Redis database of 1-15 is free and empty"
        raise RuntimeError(f"{held}; set DISTRIBUTOR_TEST_REDIS_DB to a free number")

    def _renew(self) -> None:
        key = self.LEASE.format(self.number)
        while not self.stopping.wait(self.TTL / 4):
            try:
                self.admin.set(key, self.token, xx=True, ex=self.TTL)
            except redis.RedisError:
                pass

    def release(self) -> None:
        self.stopping.set()
        key = self.LEASE.format(self.number)
        if self.admin.get(key) == self.token.encode():
            redis.Redis.from_url(_with_db(self.base, self.number)).flushdb()
            self.admin.delete(key)


@pytest.fixture(scope="session")
def redis_url() -> str:
    base = _redis_base()
    database = RedisDatabase(base)
    try:
        database.admin.ping()
        number = database.claim()
    except redis.RedisError:
        pytest.exit(f"no Redis answers at {base}: run the suite with `make test`, which starts "
                    "one, or install redis-server", returncode=1)
    except RuntimeError as exc:
        pytest.exit(str(exc), returncode=1)
    yield _with_db(base, number)
    database.release()


@pytest.fixture()
def redis_client(redis_url):
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


def _backends() -> list[str]:
    return ["sqlite", "postgresql"] if POSTGRES_URL else ["sqlite"]


@pytest.fixture(scope="session", params=_backends())
def backend(request) -> str:
    return request.param


class PostgresDatabases:
    """Throwaway databases on the test PostgreSQL server, dropped at the end."""

    def __init__(self, url: str):
        self.admin = create_engine(url, isolation_level="AUTOCOMMIT")
        self.url = url
        self.created: list[str] = []

    def new(self) -> str:
        name = f"distributor_test_{uuid.uuid4().hex[:10]}"
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        self.created.append(name)
        parts = urlsplit(self.url)
        return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, ""))

    def drop_all(self) -> None:
        with self.admin.connect() as conn:
            for name in self.created:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self.admin.dispose()


@pytest.fixture(scope="session")
def postgres():
    if not POSTGRES_URL:
        yield None
        return
    databases = PostgresDatabases(POSTGRES_URL)
    yield databases
    databases.drop_all()


def new_database_url(backend: str, postgres, directory: Path) -> str:
    if backend == "postgresql":
        return postgres.new()
    return f"sqlite:///{directory / f'db-{uuid.uuid4().hex[:8]}.sqlite'}"


def write_config(path: Path, channels: list[dict] | None = None,
                 publisher: dict | None = None) -> Path:
    """A TOML config file from plain dicts (strings, lists and booleans only)."""

    def value(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        return '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'

    lines = ["[publisher]"]
    for k, v in (publisher or {"name": "StratNews Test", "address": "1 Test Road, Delhi"}).items():
        lines.append(f"{k} = {value(v)}")
    for channel in channels or []:
        lines.append("\n[[channels]]")
        lines += [f"{k} = {value(v)}" for k, v in channel.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def settings_env(tmp: Path, database_url: str, redis_url: str, smtp_url: str,
                 config: Path | None = None, **extra: str) -> dict[str, str]:
    env = {
        "DISTRIBUTOR_DATABASE_URL": database_url,
        "DISTRIBUTOR_BROKER_URL": redis_url,
        **({"DISTRIBUTOR_BROKER_URL": BROKER_URL, "DISTRIBUTOR_REDIS_URL": redis_url}
           if BROKER_URL else {}),
        "DISTRIBUTOR_SMTP_URL": smtp_url,
        "DISTRIBUTOR_SECRET_KEY": SECRET_KEY,
        "DISTRIBUTOR_API_TOKEN": API_TOKEN,
        "DISTRIBUTOR_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "DISTRIBUTOR_PUBLIC_URL": "https://news.example.org",
        "DISTRIBUTOR_FROM": "StratNews <news@news.example.org>",
        "DISTRIBUTOR_VAR_DIR": str(tmp / "var"),
        "DISTRIBUTOR_CONFIG": str(config or write_config(tmp / "distributor.toml")),
        # Each stack its own keys: no worker ever takes another stack's tasks.
        "DISTRIBUTOR_BROKER_PREFIX": f"t{uuid.uuid4().hex[:8]}:",
    }
    env.update({f"DISTRIBUTOR_{k.upper()}": v for k, v in extra.items()})
    return env


@pytest.fixture()
def database_url(backend, postgres, tmp_path) -> str:
    """This test's database, on each backend: tmp_path/db.sqlite, or a fresh PostgreSQL
    database in the postgresql pass. Every fixture of one test shares it."""
    if backend == "postgresql":
        return postgres.new()
    return f"sqlite:///{tmp_path / 'db.sqlite'}"


def migrated(url: str) -> str:
    """The database at `url` with the schema in place, as after `distributor db upgrade`
    (which the CLI does by itself only for SQLite)."""
    database = Database(url)
    database.upgrade()
    database.dispose()
    return url


@pytest.fixture()
def make_settings(tmp_path, redis_url, database_url):
    """Build Settings for a test: this test's database (each backend) unless told otherwise."""
    default_database = database_url

    def make(channels: list[dict] | None = None, database_url: str | None = None,
             smtp_url: str | None = None, **extra: str) -> Settings:
        config = write_config(tmp_path / "distributor.toml", channels)
        env = settings_env(tmp_path, database_url or default_database,
                           redis_url, smtp_url or f"maildir:{tmp_path / 'outbox'}", config,
                           **extra)
        return load_settings(env)

    return make


@pytest.fixture()
def db(make_settings) -> Database:
    settings = make_settings()
    database = Database(settings.database_url.get_secret_value())
    database.upgrade()
    yield database
    database.dispose()


@pytest.fixture(scope="session")
def smtp_server():
    with SMTPServer() as server:
        yield server


@pytest.fixture(scope="session")
def http_receiver():
    with HTTPReceiver() as receiver:
        yield receiver


class Worker:
    """A real `celery -A tasks worker` subprocess."""

    def __init__(self, env: dict[str, str], cwd: Path, concurrency: int = 4,
                 queues: str = "publish,email,channels,digests,maintenance"):
        self.env = {**os.environ, **env, "PYTHONPATH": str(ROOT)}
        self.cwd = cwd
        self.log = cwd / f"worker-{uuid.uuid4().hex[:6]}.log"
        if self.env.get("DISTRIBUTOR_BROKER_URL", "").startswith("amqp"):  # prefixed queue names
            prefix = self.env.get("DISTRIBUTOR_BROKER_PREFIX", "")
            queues = ",".join(prefix + q for q in queues.split(","))
        self.args = [sys.executable, "-m", "celery", "-A", "tasks", "worker", "-Q", queues,
                     "--pool", "threads", "-c", str(concurrency), "--without-mingle",
                     "--without-gossip", "--without-heartbeat", "-l", "info",
                     "-n", f"test-{uuid.uuid4().hex[:6]}@%h"]
        self.process: subprocess.Popen | None = None

    def start(self) -> Worker:
        self.handle = self.log.open("ab")
        self.process = subprocess.Popen(self.args, env=self.env, cwd=self.cwd,
                                        stdout=self.handle, stderr=subprocess.STDOUT)
        wait_for(lambda: b"ready." in self.log.read_bytes() or self.process.poll() is not None,
                 timeout=30, what="the worker to be ready")
        if self.process.poll() is not None:
            raise RuntimeError(f"worker exited:\n{self.output()}")
        return self

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        if getattr(self, "handle", None):
            self.handle.close()


@pytest.fixture()
def start_worker(tmp_path):
    workers: list[Worker] = []

    def start(env: dict[str, str], **kwargs) -> Worker:
        worker = Worker(env, tmp_path, **kwargs).start()
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.stop()


def pytest_report_header(config):
    backends = ", ".join(_backends())
    broker = f"; broker {urlsplit(BROKER_URL).hostname} (amqp)" if BROKER_URL else ""
    return (f"distributor: databases {backends}; redis {_redis_base()} (a database number "
            f"per run){broker}")


def delete_broker_queues(env: dict[str, str]) -> None:
    """On RabbitMQ a stack's queues outlive it (they are durable): delete them."""
    url = env.get("DISTRIBUTOR_BROKER_URL", "")
    if not url.startswith("amqp"):
        return
    with Connection(url, connect_timeout=5) as connection:
        for name in QUEUES:
            channel = connection.channel()
            channel.queue_delete(env["DISTRIBUTOR_BROKER_PREFIX"] + name)
            channel.exchange_delete(env["DISTRIBUTOR_BROKER_PREFIX"] + name)
            channel.close()



@pytest.fixture(autouse=True)
def _fresh_peer_replies(request):
    """Replies queued on the shared peers by one test never leak into the next."""
    yield
    if "http_receiver" in request.fixturenames or "stack" in request.fixturenames:
        receiver = request.getfixturevalue("http_receiver")
        receiver.replies.clear()
        receiver.path_replies.clear()
    if "smtp_server" in request.fixturenames or "stack" in request.fixturenames:
        handler = request.getfixturevalue("smtp_server").handler
        handler.data_replies.clear()
        handler.busy_rcpts = 0
        handler.max_per_second = None
