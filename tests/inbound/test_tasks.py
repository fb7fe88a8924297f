"""The thin tasks: `feeds.tick` asks for a poll of each due feed on the
maintenance queue; `feeds.poll` polls and asks for fan_out of what it created.
Run in-process with the worker's holders pointed at the test's settings and
database, and the broker replaced by a list (no worker here: see
tests/e2e/test_feed_pipeline.py for the real one)."""

from __future__ import annotations

import pytest

from tasks import feeds as feed_tasks
from tasks import runtime
from tasks.app import app
from tests.inbound.feedsite import wordpress_feed


@pytest.fixture()
def sent(monkeypatch):
    calls: list[tuple] = []
    monkeypatch.setattr(app, "send_task",
                        lambda name, args=None, **options: calls.append((name, args, options)))
    return calls


def use(monkeypatch, settings, db):
    monkeypatch.setattr(runtime, "settings", lambda: settings)
    monkeypatch.setattr(runtime, "db", lambda: db)


def test_tick_asks_for_a_poll_of_each_due_feed(site, feed_service, monkeypatch, sent):
    site.page("/a/", wordpress_feed())
    settings, db, _ = feed_service([{"url": site.url("/a/"), "every": "1h"},
                                    {"url": site.url("/b/"), "every": "1h"}])
    use(monkeypatch, settings, db)
    assert feed_tasks.tick.run() == 2
    assert sent == [("feeds.poll", [site.url("/a/")], {"queue": "maintenance"}),
                    ("feeds.poll", [site.url("/b/")], {"queue": "maintenance"})]

    assert feed_tasks.poll.run(site.url("/a/"))["status"] == "ok"
    sent.clear()
    assert feed_tasks.tick.run() == 1  # /a/ was just polled; /b/ never was
    assert sent[0][1] == [site.url("/b/")]


def test_poll_sends_fan_out_for_each_new_article(site, feed_service, monkeypatch, sent):
    site.page("/feed/", wordpress_feed())
    settings, db, _ = feed_service([{"url": site.url("/feed/"), "backfill": True}])
    use(monkeypatch, settings, db)
    result = feed_tasks.poll.run(site.url("/feed/"))
    assert (result["status"], result["new"]) == ("ok", 52)
    assert [name for name, _, _ in sent] == ["publish.fan_out"] * 52
    assert feed_tasks.poll.run("https://removed.example/feed/") == {
        "url": "https://removed.example/feed/", "status": "not configured"}


def test_the_beat_schedule_has_the_tick():
    entry = app.conf.beat_schedule["feeds"]
    assert (entry["task"], entry["schedule"], entry["options"]) == (
        "feeds.tick", 30.0, {"queue": "maintenance"})
