"""An embargo end to end: a real worker and two real beat processes. Nothing reaches
the webhook receiver or the SMTP server before the article's time; at its time each
gets exactly one, within the release interval."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta

from distributor.audience.lists import create_list
from distributor.audience.subscribers import add_subscriber
from distributor.inbound.publish import publish
from tests.conftest import ROOT
from tests.peers import wait_for

EMBARGO = 6.0  # seconds ahead


def start_beat(stack) -> subprocess.Popen:
    env = {**os.environ, **stack.env, "PYTHONPATH": str(ROOT), "DISTRIBUTOR_RELEASE_EVERY": "1",
           "DISTRIBUTOR_SWEEP_EVERY": "600", "DISTRIBUTOR_DIGEST_TICK_EVERY": "600"}
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "tasks", "beat", "-l", "warning",
         "-s", str(stack.tmp / f"beat-{uuid.uuid4().hex[:6]}")],
        env=env, cwd=stack.tmp, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def test_an_embargo_goes_out_once_at_its_time_under_two_beats(stack):
    breaking = stack.unique("embargo")
    create_list(stack.db, breaking, instant=True)
    reader = f"{stack.unique('reader')}@example.com"
    add_subscriber(stack.db, reader, breaking)
    guid = stack.unique("budget")
    beats = [start_beat(stack), start_beat(stack)]
    try:
        when = datetime.now(UTC) + timedelta(seconds=EMBARGO)
        due = time.monotonic() + EMBARGO  # the receiver stamps requests on this clock
        result = publish(stack.db, stack.settings, stack.dispatcher, {
            "guid": guid, "url": f"https://news.example.org/{guid}", "title": "Budget",
            "published_at": when.isoformat()})
        assert result.scheduled_for == when

        def posts():
            return [r for r in stack.http.to("/hooks/all") if r.json()["article"]["guid"] == guid]

        time.sleep(EMBARGO / 2)
        assert posts() == [] and stack.smtp.handler.to(reader) == []  # not before its time
        wait_for(lambda: posts() and stack.smtp.handler.to(reader), timeout=60,
                 what="the embargoed article to go out")
        assert min(r.at for r in posts()) >= due - 0.05
        time.sleep(3)  # both beats have run again since: still one of each
        assert len(posts()) == 1 and len(stack.smtp.handler.to(reader)) == 1
    finally:
        for beat in beats:
            beat.terminate()
        for beat in beats:
            beat.wait(timeout=10)
