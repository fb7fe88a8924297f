"""Digest lists' next run: the cron read in the list's own timezone."""

from __future__ import annotations

from datetime import UTC, datetime

from distributor.audience.lists import create_list
from distributor.monitor.progress import progress
from distributor.monitor.schedule import digest_lists


def test_next_run_is_shown_in_the_lists_timezone(db):
    create_list(db, "daily", instant=False, schedule="0 7 * * *", timezone="Asia/Kolkata")
    now = datetime(2026, 11, 29, 1, 0, tzinfo=UTC)  # 06:30 in Kolkata
    [daily] = digest_lists(db, now)
    assert daily["next_run"] == "2026-11-29T07:00:00+05:30"
    assert daily["next_run_utc"] == "2026-11-29T01:30:00+00:00"


def test_progress_gives_rate_and_time_left():
    start = datetime(2026, 11, 29, 1, 0, tzinfo=UTC)
    report = {"planned": 1000, "sent": 190, "failed": 10, "skipped": 0, "state": "running",
              "_created": start, "_finished": None}
    figures = progress(report, start, start.replace(second=20), start.replace(second=30))
    assert figures["done"] == 200 and figures["fraction"] == 0.2
    assert figures["rate_per_second"] == 10.0 and figures["eta_seconds"] == 80.0
