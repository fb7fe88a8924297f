"""`distributor status` in words for each situation an operator meets: the broker down,
a mail route down, a worker that stopped answering, a disabled channel, a bounce
mailbox that cannot be read. The snapshot is data (monitor/snapshot.py builds it from
the real stack in test_status.py); here each case is rendered as the terminal shows it."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

from rich.console import Console

from distributor.cli.monitor import render_status


def shown(data: dict) -> str:
    console = Console(width=200, record=True, file=io.StringIO())
    console.print(render_status(data))
    return console.export_text()


def snapshot(**changes) -> dict:
    now = datetime.now(UTC)
    data = {"at": now.isoformat(), "broker": "ok", "queues": [], "beat": None,
            "workers": [], "sends": [], "channel_posts": [], "digests": []}
    return {**data, **changes}


def test_a_broker_that_does_not_answer_is_said_first_and_in_red():
    text = shown(snapshot(broker="ConnectionError: Error 111 connecting"))
    assert "broker: ConnectionError: Error 111 connecting — queues and workers unknown" in text
    assert "workers online" not in text


def test_workers_heartbeats_and_beat_read_as_ages():
    workers = [{"name": "bulk1@h", "replied": True, "active": 3,
                "heartbeat": {"seconds_ago": 4}},
               {"name": "bulk2@h", "replied": False, "active": None,
                "heartbeat": {"seconds_ago": 600}},
               {"name": "old@h", "replied": False, "active": None,
                "heartbeat": {"seconds_ago": 7200}},
               {"name": "new@h", "replied": True, "active": 0, "heartbeat": None}]
    text = shown(snapshot(workers=workers, beat={"seconds_ago": 30},
                          queues=[{"name": "email", "waiting": 12, "unacked": None}]))
    assert "workers online: 2" in text
    for age in ("4s ago", "10 min ago", "2.0 h ago", "never", "last beat run: 30s ago"):
        assert age in text
    assert "email" in text and "12" in text


def test_routes_channels_mailboxes_and_reputation_that_need_a_person():
    last_poll = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    text = shown(snapshot(
        mail_routes=[{"name": "primary", "state": "down", "reason": "connection refused",
                      "carrying": False},
                     {"name": "backup", "state": "up", "reason": None, "carrying": True}],
        sends=[{"send_id": 7, "list": "daily", "state": "running", "planned": 1000,
                "done": 400, "sent": 398, "failed": 2, "rate_per_second": 12.5,
                "eta_seconds": 300, "error": None},
               {"send_id": 8, "list": "weekly", "state": "paused", "planned": 10, "done": 0,
                "sent": 0, "failed": 0, "rate_per_second": None, "eta_seconds": None,
                "error": "paused: hard bounces over 5%"}],
        channel_posts=[{"id": "post:3", "channel": "tg", "state": "retrying", "attempts": 2,
                        "title": "Ports", "error": "429 Too Many Requests"}],
        disabled_channels=[{"name": "wa", "type": "waha", "state": "paused",
                            "reason": "401: the API key was refused"}],
        bounce_mailboxes=[{"mailbox": "imaps://bounces@mail", "error": "login refused",
                           "last_poll_at": None, "handled": 0, "unparsed": 0},
                          {"mailbox": "imaps://dsn@mail", "error": None,
                           "last_poll_at": last_poll, "handled": 4, "unparsed": 1}],
        reputation=[{"list": "daily", "reached": 1000, "hard_bounces": 60,
                     "hard_bounce_rate": 0.06, "complaints": 1, "complaint_rate": 0.001}],
        digests=[{"list": "daily", "schedule": "0 7 * * *", "timezone": "Asia/Kolkata",
                  "next_run": None}],
        scheduled=[{"scheduled_for": "2026-12-01T07:00:00+00:00", "title": "Embargoed",
                    "guid": "g-embargo"}]))
    assert "mail route primary: down: connection refused" in text
    assert "mail route backup: carrying the mail" in text
    assert "398/1000" in text and "12.5" in text and "5 min" in text
    assert "paused: hard bounces over 5%" in text
    assert "429 Too Many Requests" in text
    assert "channel wa (waha) is paused: 401: the API key was refused" in text
    assert "bounce mailbox imaps://bounces@mail: login refused" in text
    assert "read 5 min ago, 4 handled, 1 unreadable left in it" in text
    assert "6.00%" in text and "invalid schedule" in text and "Embargoed" in text
