"""What the benchmarks share: a workspace, a seeded database, an SMTP sink process,
worker processes, and peak-RSS sampling."""

from __future__ import annotations

import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import insert, select

from distributor.bootstrap import load_settings
from distributor.config import Settings
from distributor.store import Database, MailingList, Subscriber, Subscription

ROOT = Path(__file__).resolve().parents[1]
SECRET_KEY = "bench-secret-key-0123456789"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()}"


def broker_url(db_number: int | None = None) -> str:
    """The local Redis, database DISTRIBUTOR_BENCH_REDIS_DB (default 14), so that two
    benchmark runs at once can be told apart."""
    if db_number is None:
        db_number = int(os.environ.get("DISTRIBUTOR_BENCH_REDIS_DB", "14"))
    base = os.environ.get("DISTRIBUTOR_BROKER_URL", "redis://127.0.0.1:6379/0")
    return base.rsplit("/", 1)[0] + f"/{db_number}"


@dataclass
class Workspace:
    """A temporary directory with its own database and settings."""

    path: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="distributor-bench-")))
    env: dict[str, str] = field(default_factory=dict)

    def configure(self, smtp_url: str, database_url: str | None = None, **extra: str) -> Settings:
        (self.path / "distributor.toml").write_text(
            '[publisher]\nname = "StratNews Global"\naddress = "B-12, Press Enclave, New Delhi"\n')
        self.env = {
            "DISTRIBUTOR_DATABASE_URL": database_url or f"sqlite:///{self.path / 'bench.db'}",
            "DISTRIBUTOR_BROKER_URL": broker_url(),
            "DISTRIBUTOR_SMTP_URL": smtp_url,
            "DISTRIBUTOR_SECRET_KEY": SECRET_KEY,
            "DISTRIBUTOR_CONFIG": str(self.path / "distributor.toml"),
            "DISTRIBUTOR_VAR_DIR": str(self.path / "var"),
            "DISTRIBUTOR_PUBLIC_URL": "https://news.example.org",
            "DISTRIBUTOR_FROM": "StratNews <news@news.example.org>",
            "DISTRIBUTOR_LOG_LEVEL": "WARNING",
            **{f"DISTRIBUTOR_{k.upper()}": v for k, v in extra.items()},
        }
        return load_settings(self.env)

    def cleanup(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


def seed_list(db: Database, name: str, count: int, kind: str = "digest",
              chunk: int = 20_000) -> None:
    """A list with `count` active subscribers, inserted in bulk."""
    with db.session() as session:
        session.add(MailingList(name=name, kind=kind, schedule="0 7 * * *" if kind == "digest"
                                else None, timezone="Asia/Kolkata", sections=[]))
    with db.session() as session:
        list_id = session.scalar(select(MailingList.id).where(MailingList.name == name))
        start = session.scalar(select(Subscriber.id).order_by(Subscriber.id.desc())) or 0
    for first in range(0, count, chunk):
        rows = [{"email": f"{name}.reader{n}@example.com", "name": f"Reader {n}"}
                for n in range(first, min(count, first + chunk))]
        with db.session() as session:
            session.execute(insert(Subscriber), rows)
            ids = session.scalars(select(Subscriber.id).where(Subscriber.id > start)
                                  .order_by(Subscriber.id)).all()
            session.execute(insert(Subscription), [
                {"list_id": list_id, "subscriber_id": i, "status": "active", "sections": []}
                for i in ids])
            start = ids[-1]


class SMTPSink:
    """A local SMTP server that accepts everything and counts what it took: Postfix's
    smtp-sink when installed (its -c counter), else an aiosmtpd sink in its own process
    (so it does not share our GIL). Counting at the sink, not in our database, is what
    says the messages arrived."""

    def __init__(self):
        self.port = free_port()
        self.out = Path(tempfile.mkstemp(prefix="distributor-sink-")[1])
        binary = shutil.which("smtp-sink") or (
            "/usr/sbin/smtp-sink" if Path("/usr/sbin/smtp-sink").exists() else None)
        if binary:
            self.kind = "Postfix smtp-sink"
            args = [binary, "-c", "-u", "nobody", f"127.0.0.1:{self.port}", "256"]
            stdout = self.out.open("wb")
        else:
            self.kind = "aiosmtpd sink (Postfix smtp-sink not installed)"
            args = [sys.executable, "-m", "bench.sink", str(self.port), str(self.out)]
            stdout = subprocess.DEVNULL
        self.process = subprocess.Popen(args, cwd=ROOT, stdout=stdout,
                                        stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("the SMTP sink did not start")

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def count(self) -> int:
        """Messages taken so far (smtp-sink updates its counter when a session quits).
        Only the file's tail is read: smtp-sink appends a line per update."""
        with self.out.open("rb") as handle:
            handle.seek(max(0, self.out.stat().st_size - 512))
            text = handle.read().decode(errors="replace")
        if self.kind.startswith("Postfix"):
            found = re.findall(r"mesg=(\d+)", text)
            return int(found[-1]) if found else 0
        return int(text or 0)

    def wait_for(self, total: int, timeout: float) -> float:
        """Seconds until the sink has taken `total` messages in all (or the timeout)."""
        started = time.monotonic()
        while self.count() < total and time.monotonic() - started < timeout:
            time.sleep(0.05)
        return time.monotonic()

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)
        self.out.unlink(missing_ok=True)


def start_worker(env: dict[str, str], cwd: Path, concurrency: int, queues: str = "email",
                 name: str = "bench") -> subprocess.Popen:
    log = (cwd / f"{name}.log").open("ab")
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "tasks", "worker", "-Q", queues, "--pool",
         "threads", "-c", str(concurrency), "--without-mingle", "--without-gossip",
         "--without-heartbeat", "-l", "warning", "-n", f"{name}@%h"],
        env={**os.environ, **env, "PYTHONPATH": str(ROOT)}, cwd=cwd, stdout=log,
        stderr=subprocess.STDOUT)
    time.sleep(0.5)
    return process


def wait_ready(app, timeout: float = 60, expected: int = 1) -> None:
    """Until `expected` workers answer a ping."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(app.control.ping(timeout=0.5) or []) >= expected:
            return
    raise RuntimeError(f"fewer than {expected} workers answered")


class PeakRSS:
    """Samples a process's peak resident memory (VmHWM) while running."""

    def __init__(self, pid: int):
        self.pid = pid
        self.peak_kb = 0
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _read(self) -> int:
        try:
            for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
        except OSError:
            pass
        return 0

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            self.peak_kb = max(self.peak_kb, self._read())

    def __enter__(self) -> PeakRSS:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.peak_kb = max(self.peak_kb, self._read())
        self._stop.set()
        self.thread.join(2)

    @property
    def mb(self) -> float:
        return self.peak_kb / 1024
