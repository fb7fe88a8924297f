"""Publish latency: from the POST until a local webhook receiver has the post."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests

from bench.common import ROOT, Workspace, free_port, start_worker, wait_ready
from tasks.app import make_app

TOKEN = "bench-token-0123456789"


class Arrivals:
    def __init__(self):
        self.times: dict[str, float] = {}
        self.condition = threading.Condition()

    def record(self, guid: str) -> None:
        with self.condition:
            self.times.setdefault(guid, time.perf_counter())
            self.condition.notify_all()

    def wait(self, guid: str, timeout: float) -> float | None:
        with self.condition:
            self.condition.wait_for(lambda: guid in self.times, timeout)
            return self.times.get(guid)


def receiver(arrivals: Arrivals) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            arrivals.record(json.loads(body)["article"]["guid"])
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def run(articles: int = 200) -> dict:
    arrivals = Arrivals()
    hooks = receiver(arrivals)
    space = Workspace()
    port = free_port()
    try:
        settings = space.configure(f"maildir:{space.path / 'outbox'}", api_token=TOKEN)
        (space.path / "distributor.toml").write_text(
            '[publisher]\nname = "Bench"\naddress = "Delhi"\n\n[[channels]]\nname = "hook"\n'
            f'type = "webhook"\nurl = "http://127.0.0.1:{hooks.server_address[1]}/h"\n'
            'rate = "1000/s"\n')
        env = {**os.environ, **space.env, "PYTHONPATH": str(ROOT)}
        subprocess.run([sys.executable, "-m", "distributor.cli", "db", "upgrade"], env=env,
                       cwd=space.path, check=False, capture_output=True)
        from distributor.store import Database

        Database(settings.database_url.get_secret_value()).upgrade()
        api = subprocess.Popen([sys.executable, "-c", "from distributor.cli import main; main()",
                                "api", "--port", str(port)], env={**env, "DISTRIBUTOR_LOG_LEVEL":
                                                                  "WARNING"},
                               cwd=space.path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        worker = start_worker(space.env, space.path, 4, queues="publish,channels", name="latency")
        try:
            wait_ready(make_app(settings))
            http = requests.Session()
            headers = {"Authorization": f"Bearer {TOKEN}"}
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                try:
                    http.get(f"http://127.0.0.1:{port}/health", timeout=1)
                    break
                except requests.ConnectionError:
                    time.sleep(0.1)
            latencies = []
            for n in range(articles + 5):  # the first five warm up the worker
                guid = f"https://news.example.org/latency-{n}-{time.time_ns()}"
                started = time.perf_counter()
                response = http.post(f"http://127.0.0.1:{port}/v1/articles", headers=headers,
                                     json={"url": guid, "title": f"Latency {n}"}, timeout=10)
                response.raise_for_status()
                arrived = arrivals.wait(guid, timeout=10)
                if n >= 5 and arrived is not None:
                    latencies.append((arrived - started) * 1000)
        finally:
            api.terminate()
            worker.terminate()
            api.wait(10)
            worker.wait(30)
        latencies.sort()
        return {"articles": len(latencies), "p50_ms": statistics.median(latencies),
                "p99_ms": latencies[int(len(latencies) * 0.99) - 1], "max_ms": latencies[-1]}
    finally:
        hooks.shutdown()
        space.cleanup()
