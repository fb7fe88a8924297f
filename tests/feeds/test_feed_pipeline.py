"""End to end: a real Celery worker runs the beat task `feeds.tick` against a local
WordPress-style feed; new posts go out as alert emails (real SMTP conversation)
and webhook channel posts, old ones never do."""

from __future__ import annotations

import time
import uuid

from distributor.audience import add_subscriber, create_list
from distributor.config import load_settings
from distributor.feeds import list_feeds
from distributor.store import Database
from tasks.app import make_app
from tests.feeds.conftest import feeds_env
from tests.feeds.feedsite import wordpress_feed
from tests.peers import wait_for

NEW_TITLES = {"Sri Lanka Signs Debt Restructuring Deal With Bilateral Lenders (52)",
              "Rupee Steadies As Crude Prices Ease Ahead Of OPEC Meeting (51)"}


def test_only_new_posts_go_out_by_email_and_channel(site, tmp_path, redis_url, smtp_server,
                                                     http_receiver, start_worker):
    tag = uuid.uuid4().hex[:8]
    page = site.page("/feed/", wordpress_feed(skip_newest=2))
    hook = f"/hooks/feeds-{tag}"
    env = feeds_env(tmp_path, redis_url, [{"url": site.url("/feed/"), "every": "1s"}],
                    [{"name": "newsroom", "type": "webhook", "url": http_receiver.url(hook)}],
                    smtp_url=smtp_server.url, sweep_grace="5")
    settings = load_settings(env)
    db = Database(settings.database_url.get_secret_value())
    db.upgrade()
    create_list(db, f"breaking-{tag}", instant=True)
    readers = [f"reader{i}-{tag}@example.com" for i in range(2)]
    for email in readers:
        add_subscriber(db, email, f"breaking-{tag}")
    start_worker(env)
    app = make_app(settings)

    def tick_until(predicate, what):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            app.send_task("feeds.tick", queue="maintenance")
            try:
                return wait_for(predicate, timeout=3, what=what)
            except AssertionError:
                continue
        raise AssertionError(f"timed out waiting for {what}")

    tick_until(lambda: list_feeds(db, settings)[0]["known"] == 50, "the first poll")
    assert list_feeds(db, settings)[0]["status"] == "ok"
    time.sleep(1.5)  # nothing may go out for the 50 posts already there
    assert http_receiver.to(hook) == []
    assert all(smtp_server.handler.to(email) == [] for email in readers)

    page.set(wordpress_feed())
    tick_until(lambda: all(len(smtp_server.handler.to(e)) == 2 for e in readers)
               and len(http_receiver.to(hook)) == 2, "two alerts per reader and two posts")
    for email in readers:
        assert {m.message["Subject"] for m in smtp_server.handler.to(email)} == NEW_TITLES
    assert {r.json()["article"]["title"] for r in http_receiver.to(hook)} == NEW_TITLES

    hits = len(site.to("/feed/"))
    tick_until(lambda: len(site.to("/feed/")) > hits and site.to("/feed/")[-1].status == 304,
               "an unchanged poll")
    time.sleep(1.0)
    assert len(http_receiver.to(hook)) == 2
    assert all(len(smtp_server.handler.to(e)) == 2 for e in readers)
    assert list_feeds(db, settings)[0]["status"] == "unchanged"
    db.dispose()
