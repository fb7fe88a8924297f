"""A million on PostgreSQL (`make bench-scale`, `python -m bench --scale`).

Seeds N subscribers (default 1,000,000) on two lists into a throwaway database on the
local PostgreSQL with COPY, then sends one digest to all of them through the real
stack: the Redis broker, `distributor worker` as started by default (a fast lane and
one bulk process per core), the API (uvicorn) and Postfix's smtp-sink counting at the
receiver. While the digest runs it measures what the issue asks: the sweeper's and a
`/metrics` scrape's cost, and how long a breaking-news channel post takes from the
POST to a local webhook receiver (the fast lane must not wait behind the email). The
same-layout ceiling (the same bytes over plain smtplib, as many processes and threads)
is measured in the same run. Worker memory is compared with a smaller send first.
"""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import requests
from sqlalchemy import create_engine, text

from bench import throughput
from bench.common import ROOT, PeakRSS, SMTPSink, Workspace, free_port, wait_ready
from bench.latency import Arrivals, receiver
from distributor.email.digests import send_now
from distributor.outbox import wake
from distributor.store import Database
from distributor.store.redis_client import redis_for
from tasks.app import make_app
from tasks.dispatch import CeleryDispatcher

TOKEN = "bench-token-0123456789"
DEFAULT_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def _database(server_url: str) -> tuple[str, callable]:
    """A fresh database on the server; the function that drops it."""
    name = f"distributor_scale_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    parts = urlsplit(server_url)

    def drop() -> None:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, "")), drop


def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def seed(url: str, count: int) -> float:
    """`count` subscribers by COPY, all on list 'daily' and on list 'weekly' (two
    subscription rows each, set-based). Seconds taken, indexes and ANALYZE included."""
    started = time.monotonic()
    with psycopg.connect(_libpq(url), autocommit=False) as connection:
        connection.execute(
            "INSERT INTO lists (name, kind, schedule, timezone, sections, double_opt_in, max_age, "
            "local_time, created_at) VALUES "
            "('daily', 'digest', '0 7 * * *', 'Asia/Kolkata', '[]', false, 86400, false, "
            " '2000-01-01'), "
            "('weekly', 'digest', '0 7 * * 1', 'Asia/Kolkata', '[]', false, 86400, false, "
            " '2000-01-01')")
        with connection.cursor().copy(
                "COPY subscribers (email, name, created_at) FROM STDIN") as copy:
            now = datetime.now(UTC)
            for n in range(count):
                copy.write_row((f"reader{n}@example.com", f"Reader {n}", now))
        connection.execute(
            "INSERT INTO subscriptions (list_id, subscriber_id, status, sections, created_at, "
            "updated_at) SELECT l.id, s.id, 'active', '[]', now(), now() "
            "FROM subscribers s CROSS JOIN lists l")
        connection.commit()
    with psycopg.connect(_libpq(url), autocommit=True) as connection:
        connection.execute("ANALYZE")
    return time.monotonic() - started


def _size(url: str) -> int:
    with psycopg.connect(_libpq(url)) as connection:
        return connection.execute("SELECT pg_database_size(current_database())").fetchone()[0]


def _backend_pids(url: str) -> list[int]:
    name = urlsplit(url).path.strip("/")
    with psycopg.connect(_libpq(url)) as connection:
        return [row[0] for row in connection.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,))]


class Probes(threading.Thread):
    """While the send runs: a `/metrics` scrape and a sweep every second, a breaking
    article POSTed every half second (its webhook post timed to the receiver), and the
    peak RSS of every PostgreSQL backend of the bench database."""

    def __init__(self, api: str, db: Database, settings, arrivals: Arrivals, url: str):
        super().__init__(daemon=True)
        self.api, self.db, self.settings, self.arrivals, self.url = api, db, settings, arrivals, url
        self.metrics_ms: list[float] = []
        self.sweep_ms: list[float] = []
        self.post_ms: list[float] = []
        self.pg_peak_kb: dict[int, int] = {}
        self.stop = threading.Event()

    def run(self) -> None:
        http = requests.Session()
        dispatcher = CeleryDispatcher(make_app(self.settings))
        n = 0
        while not self.stop.is_set():
            started = time.perf_counter()
            http.get(f"{self.api}/metrics", timeout=30).raise_for_status()
            self.metrics_ms.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            wake.sweep(self.db, dispatcher, datetime.now(UTC), timedelta(seconds=120))
            self.sweep_ms.append((time.perf_counter() - started) * 1000)
            for _ in range(2):
                guid = f"https://news.example.org/breaking-{n}-{time.time_ns()}"
                n += 1
                started = time.perf_counter()
                http.post(f"{self.api}/v1/articles", json={"url": guid, "title": f"Breaking {n}"},
                          headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
                arrived = self.arrivals.wait(guid, timeout=10)
                self.post_ms.append(((arrived or time.perf_counter() + 10) - started) * 1000)
                self.stop.wait(0.5)
            for pid in _backend_pids(self.url):
                self.pg_peak_kb[pid] = max(self.pg_peak_kb.get(pid, 0), _private_kb(pid))

    def finish(self) -> None:
        self.stop.set()
        self.join(60)


def _private_kb(pid: int) -> int:
    """A backend's own memory (RssAnon): its RSS without the shared buffers it touched,
    which every backend counts again."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("RssAnon:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, int(len(ordered) * share + 0.5) - 1)] if ordered else float("nan")


def send(sink: SMTPSink, count: int, processes: int, threads: int, server_url: str,
         probe: bool) -> dict:
    """Seed, start the stack, send one digest to everyone; the figures."""
    url, drop = _database(server_url)
    db = None
    arrivals = Arrivals()
    hooks = receiver(arrivals)
    space = Workspace()
    port = free_port()
    try:
        settings = space.configure(sink.url, url, worker_concurrency=str(threads),
                                   api_token=TOKEN)
        (space.path / "distributor.toml").write_text(
            '[publisher]\nname = "Bench"\naddress = "Delhi"\n\n[[channels]]\nname = "hook"\n'
            f'type = "webhook"\nurl = "http://127.0.0.1:{hooks.server_address[1]}/h"\n'
            'rate = "1000/s"\n')
        db = Database(url)
        db.upgrade()
        seconds_to_seed = seed(url, count)
        throughput._publish(db)
        env = {**os.environ, **space.env, "PYTHONPATH": str(ROOT)}
        command = str(Path(sys.executable).parent / "distributor")
        log = (space.path / "stack.log").open("ab")
        api = subprocess.Popen([command, "api", "--port", str(port)], env=env, cwd=space.path,
                               stdout=log, stderr=subprocess.STDOUT)
        workers = subprocess.Popen([command, "worker", "--processes", str(processes)], env=env,
                                   cwd=space.path, stdout=log, stderr=subprocess.STDOUT)
        try:
            app = make_app(settings)
            wait_ready(app, expected=processes + 1)
            _wait_http(f"http://127.0.0.1:{port}/health")
            children = _children(workers.pid)
            monitors = [PeakRSS(pid).__enter__() for pid in children]
            size_before = _size(url)
            probes = Probes(f"http://127.0.0.1:{port}", db, settings, arrivals, url)
            before = sink.count()
            started = time.monotonic()
            result = send_now(db, settings, CeleryDispatcher(app), "daily")
            planned = time.monotonic() - started
            # The ceiling's bytes: this send's digest, taken before the probes publish
            # breaking articles (a later digest would carry them all).
            message = throughput._message(settings, db)
            print(f"scale: {count:,} readers seeded in {seconds_to_seed:.0f} s, send "
                  f"planned in {planned:.1f} s; sending", flush=True)
            if probe:
                probes.start()
            finished = sink.wait_for(before + count, timeout=max(900, count / 200))
            if probe:
                probes.finish()
            for monitor in monitors:
                monitor.__exit__(None, None, None)
            delivered = sink.count() - before
            time.sleep(2)  # the last ledger writes
            growth = _size(url) - size_before
        finally:
            workers.send_signal(signal.SIGTERM)
            api.terminate()
            workers.wait(90)
            api.wait(10)
        elapsed = finished - started
        return {"recipients": count, "delivered": delivered, "seconds": elapsed,
                "seed_seconds": seconds_to_seed, "planning_seconds": planned,
                "per_second": delivered / elapsed, "send_id": result.send_id,
                "bulk_rss_mb": [m.mb for m in monitors[1:]], "fast_rss_mb": monitors[0].mb,
                "db_growth_bytes": growth, "probes": probes if probe else None,
                "message": message}
    finally:
        hooks.shutdown()
        space.cleanup()
        if db is not None:
            db.dispose()
        drop()


def _wait_http(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            requests.get(url, timeout=1)
            return
        except requests.ConnectionError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer")


def wakeup_memory(messages: int = 50_000) -> dict:
    """Redis memory per queued wake-up: `messages` email.send_batch messages sent to a
    queue no worker reads (its own key prefix), measured with INFO memory, deleted after."""
    space = Workspace()
    try:
        settings = space.configure("maildir:/dev/null", broker_prefix=f"wake-{uuid.uuid4().hex[:6]}:")
        client = redis_for(settings)
        before = client.info("memory")["used_memory"]
        dispatcher = CeleryDispatcher(make_app(settings))
        for n in range(messages):
            dispatcher.send_batch(10_000_000 + n)
        after = client.info("memory")["used_memory"]
        for key in client.scan_iter(f"{settings.broker_prefix}*"):
            client.delete(key)
        client.close()
    finally:
        space.cleanup()
    return {"messages": messages, "bytes_each": (after - before) / messages}


def run(count: int, small: int, processes: int, threads: int, server_url: str | None) -> dict:
    server_url = server_url or os.environ.get("DISTRIBUTOR_BENCH_POSTGRES_URL", DEFAULT_SERVER)
    sink = SMTPSink()
    try:
        first = send(sink, small, processes, threads, server_url, probe=False)
        big = send(sink, count, processes, threads, server_url, probe=True)
        print(f"scale: sent at {big['per_second']:,.0f}/s; the same-layout ceiling", flush=True)
        top = throughput.ceiling(sink, min(count, 200_000), big["message"], processes, threads)
    finally:
        sink.stop()
    return {"small": first, "big": big, "ceiling": top, "sink": sink.kind,
            "wakeups": wakeup_memory()}


def report(r: dict, processes: int, threads: int) -> list[str]:
    big, small, top, probes = r["big"], r["small"], r["ceiling"], r["big"]["probes"]
    growth = max(big["bulk_rss_mb"]) / max(small["bulk_rss_mb"]) - 1
    pg_mb = [kb / 1024 for kb in probes.pg_peak_kb.values()]
    lines = [
        f"`distributor worker` as started by default: a fast lane and {processes} bulk processes "
        f"× {threads} threads, the API (uvicorn), PostgreSQL {_server_version()} on this machine, "
        f"the local Redis as broker, {r['sink']} counting. One digest to every reader of "
        "`daily`, timed from the trigger until the sink has taken every message.\n",
        "| figure | value | target |", "| --- | --- | --- |",
        f"| seeding {big['recipients']:,} subscribers on two lists (COPY) | "
        f"{big['seed_seconds']:.1f} s | |",
        f"| planning the send | {big['planning_seconds']:.2f} s | ≤ 10 s |",
        f"| delivered, counted at the sink | {big['delivered']:,} of {big['recipients']:,} | all |",
        f"| time to deliver | {big['seconds']:.0f} s | |",
        f"| emails/s | {big['per_second']:,.0f} | |",
        f"| same-layout smtplib ceiling/s ({min(big['recipients'], 200_000):,} messages) | "
        f"{top['per_second']:,.0f} | |",
        f"| ratio to the ceiling | **{big['per_second'] / top['per_second']:.2f}** | ≥ 0.8 |",
        f"| emails/s per bulk process | {big['per_second'] / processes:,.0f} | |",
        f"| bulk worker peak RSS, {small['recipients']:,} → {big['recipients']:,} | "
        f"{max(small['bulk_rss_mb']):.0f} → {max(big['bulk_rss_mb']):.0f} MB "
        f"(**{growth * 100:+.1f}%**) | ≤ 10% |",
        f"| fast-lane worker peak RSS | {big['fast_rss_mb']:.0f} MB | |",
        f"| PostgreSQL connections to the bench database (all processes) | {len(pg_mb)} | |",
        f"| PostgreSQL backends: private memory (RssAnon, peak) | max {max(pg_mb, default=0):.0f} "
        f"MB, sum {sum(pg_mb):.0f} MB (shared_buffers {_shared_buffers()} on top) | |",
        f"| database growth for the send | {big['db_growth_bytes'] / 2**20:,.0f} MB "
        f"({big['db_growth_bytes'] / big['recipients']:.0f} bytes per recipient) | |",
        f"| a sweep during the send (n={len(probes.sweep_ms)}) | "
        f"p50 {statistics.median(probes.sweep_ms):.0f} ms, max {max(probes.sweep_ms):.0f} ms | |",
        f"| a `/metrics` scrape during the send (n={len(probes.metrics_ms)}) | "
        f"p50 {statistics.median(probes.metrics_ms):.0f} ms, max {max(probes.metrics_ms):.0f} ms"
        " | ≤ 50 ms |",
        f"| a `/metrics` scrape's database reads against a running send of "
        f"{r['metrics']['rows']:,} ledger rows, apart (`python -m bench --only metrics`) | "
        f"median {r['metrics']['with_index_ms']:.1f} ms (without the partial index on deferred "
        f"rows: {r['metrics']['without_index_ms']:.1f} ms) | ≤ 50 ms |",
        f"| breaking article → webhook during the send (n={len(probes.post_ms)}) | "
        f"p50 {statistics.median(probes.post_ms):.0f} ms, "
        f"**p99 {_percentile(probes.post_ms, 0.99):.0f} ms** | p99 ≤ 500 ms |",
        f"| Redis memory per queued wake-up (one batch task message; {r['wakeups']['messages']:,} "
        f"queued) | {r['wakeups']['bytes_each']:,.0f} bytes: "
        f"{r['wakeups']['bytes_each'] * 1e6 / 2**20:,.0f} MB per million | |",
    ]
    return lines


def _shared_buffers() -> str:
    url = os.environ.get("DISTRIBUTOR_BENCH_POSTGRES_URL", DEFAULT_SERVER)
    with psycopg.connect(_libpq(url)) as connection:
        return connection.execute("SHOW shared_buffers").fetchone()[0]


def _server_version() -> str:
    url = os.environ.get("DISTRIBUTOR_BENCH_POSTGRES_URL", DEFAULT_SERVER)
    try:
        with psycopg.connect(_libpq(url)) as connection:
            return connection.execute("SHOW server_version").fetchone()[0].split()[0]
    except psycopg.Error:
        return "?"
