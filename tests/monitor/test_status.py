"""`distributor status` and /v1/status against real Redis and a real worker."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from distributor.monitor import snapshot
from distributor.outbox import wake
from tests.peers import wait_for


def queue(data: dict, name: str) -> dict:
    return next(q for q in data["queues"] if q["name"] == name)


def test_status_shows_a_queued_batch_while_no_worker_consumes_then_its_progress(
        monitored, start_worker):
    article_id = monitored.publish()
    wake.fan_out(monitored.db, monitored.dispatcher, article_id, datetime.now(UTC))

    result = monitored.cli("status", "--json")
    assert result.returncode == 0, result.stderr
    before = json.loads(result.stdout)
    assert before["broker"] == "ok"
    assert queue(before, "email")["waiting"] == 1
    assert queue(before, "channels")["waiting"] == 1
    assert before["workers"] == []
    send = before["sends"][0]
    assert (send["list"], send["state"], send["planned"], send["sent"]) == ("breaking",
                                                                          "planned", 3, 0)
    assert send["eta_seconds"] is None
    assert [d["list"] for d in before["digests"]] == ["morning"]
    assert before["digests"][0]["next_run"].endswith("+05:30")

    start_worker(monitored.env)

    def finished():
        data = snapshot(monitored.db, monitored.dispatcher.app, monitored.settings)
        return data if data["sends"][0]["state"] == "done" else None

    after = wait_for(finished, timeout=30, what="the send to finish")
    send = after["sends"][0]
    assert (send["sent"], send["planned"], send["done"], send["fraction"]) == (3, 3, 3, 1.0)
    assert queue(after, "email")["waiting"] == 0
    assert [w["replied"] for w in after["workers"]] == [True]
    assert after["workers"][0]["heartbeat"]["seconds_ago"] < 30

    human = monitored.cli("status")
    assert human.returncode == 0
    assert "breaking" in human.stdout and "3/3" in human.stdout
    assert "workers online: 1" in human.stdout


def test_status_says_plainly_and_fast_when_redis_is_down(monitored):
    result = monitored.cli("status", env_broker="redis://127.0.0.1:1/0")
    assert result.returncode == 0, result.stderr
    assert "broker: unreachable (127.0.0.1:1/0)" in result.stdout

    result = monitored.cli("status", "--json", env_broker="redis://127.0.0.1:1/0")
    assert json.loads(result.stdout)["broker"].startswith("unreachable")


def test_status_shows_the_last_beat_run_once_the_sweeper_ran(monitored, start_worker):
    assert snapshot(monitored.db, None, monitored.settings)["beat"] is None
    start_worker(monitored.env)
    monitored.dispatcher.app.send_task("maintenance.sweep")
    beat = wait_for(lambda: snapshot(monitored.db, None, monitored.settings)["beat"],
                    timeout=20, what="the sweeper to record its run")
    assert beat["seconds_ago"] < 20
