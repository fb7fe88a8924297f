"""Digest lists' next run: the cron read in the list's own timezone."""

from __future__ import annotations

from datetime import UTC, datetime

from distributor.monitor.progress import progress
from distributor.monitor.schedule import next_run


def test_next_run_is_read_in_the_lists_timezone():
    now = datetime(2026, 11, 29, 1, 0, tzinfo=UTC)  # 06:30 in Kolkata
    upcoming = next_run("0 7 * * *", "Asia/Kolkata", now)
    assert upcoming.isoformat() == "2026-11-29T07:00:00+05:30"
    assert upcoming.astimezone(UTC).hour == 1 and upcoming.astimezone(UTC).minute == 30
    assert next_run("not a cron", "UTC", now) is None
    assert next_run("0 7 * * *", "Mars/Olympus", now) is None


def test_progress_gives_rate_and_time_left():
    start = datetime(2026, 11, 29, 1, 0, tzinfo=UTC)
    report = {"planned": 1000, "sent": 190, "failed": 10, "skipped": 0, "state": "running",
              "_created": start, "_finished": None}
    figures = progress(report, start, start.replace(second=20), start.replace(second=30))
    assert figures["done"] == 200 and figures["fraction"] == 0.2
    assert figures["rate_per_second"] == 10.0 and figures["eta_seconds"] == 80.0
