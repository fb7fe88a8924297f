"""`distributor worker`: one bulk process per core plus a fast lane for channel posts
and publishing, all under one foreground process that SIGTERM stops cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import redis

from distributor.cli.workers import BULK, FAST_LANE, plan
from distributor.monitor.queues import worker_heartbeats
from tests.conftest import ROOT, settings_env
from tests.peers import wait_for


def test_the_default_plan_is_a_fast_lane_and_one_bulk_process_per_core():
    children = plan(processes=2, threads=8)
    assert [(c.name, c.queues) for c in children] == [
        ("fast", FAST_LANE), ("bulk1", BULK), ("bulk2", BULK)]
    assert FAST_LANE == ("publish", "channels", "maintenance")  # breaking news never waits
    assert {q for c in children for q in c.queues} == {
        "publish", "channels", "maintenance", "email", "digests"}
    only = plan(processes=3, threads=4, queues=("email",))
    assert [(c.queues, c.threads) for c in only] == [(("email",), 4)] * 3


def test_the_worker_command_starts_every_lane_and_stops_on_sigterm(tmp_path: Path, redis_url):
    env = {**os.environ, **settings_env(tmp_path, f"sqlite:///{tmp_path / 'db.sqlite'}",
                                        redis_url, f"maildir:{tmp_path / 'outbox'}"),
           "PYTHONPATH": str(ROOT)}
    distributor = str(Path(sys.executable).parent / "distributor")
    process = subprocess.Popen([distributor, "worker", "--processes", "2", "-c", "2"], env=env,
                               cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    client = redis.Redis.from_url(redis_url)
    prefix = env["DISTRIBUTOR_BROKER_PREFIX"]
    try:
        beats = wait_for(lambda: len(b := worker_heartbeats(client, prefix)) == 3 and b,
                         timeout=60, what="three workers to leave a heartbeat")
        assert sorted(name.split("@")[0] for name in beats) == ["bulk1", "bulk2", "fast"]
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
        output = process.stdout.read().decode(errors="replace")
        assert "fast: publish,channels,maintenance × 2 threads" in output
        assert "Traceback" not in output
    finally:
        if process.poll() is None:
            process.kill()
        for key in client.scan_iter(match=prefix + "*"):
            client.delete(key)
        client.close()
