"""Feeds end to end on the session stack (its real Celery worker, SMTP server and
webhook receiver): a WordPress-style feed of 50 posts is polled and nothing goes
out; two posts appear and exactly those two go out by email and channel; an
unchanged feed answers 304 and nothing more happens.

It lives with the stack because two workers with different databases must not
share one Redis database: each would take the other's tasks."""

from __future__ import annotations

import time

from distributor.audience.lists import create_list
from distributor.audience.subscribers import add_subscriber
from distributor.bootstrap import load_settings
from distributor.inbound.feeds import list_feeds, poll_feed
from distributor.inbound.fetch import http_session
from tests.inbound.feedsite import FeedSite, wordpress_feed
from tests.peers import wait_for

NEW_TITLES = {"Sri Lanka Signs Debt Restructuring Deal With Bilateral Lenders (52)",
              "Rupee Steadies As Crude Prices Ease Ahead Of OPEC Meeting (51)"}


def test_only_new_feed_posts_go_out_by_email_and_channel(stack):
    tag = stack.unique("run")

    def document(skip_newest: int = 0) -> bytes:  # guids of this run only
        return wordpress_feed(skip_newest).replace(b"/?p=", f"/{tag}/?p=".encode())

    with FeedSite() as site:
        page = site.page("/feed/", document(skip_newest=2))
        config = stack.tmp / f"{tag}.toml"
        config.write_text(stack.settings.config.read_text()
                          + f'\n[[feeds]]\nurl = "{site.url("/feed/")}"\n')
        settings = load_settings({**stack.env, "DISTRIBUTOR_CONFIG": str(config)})
        feed = settings.file.feeds[0]
        # The fixture feed carries fixed dates: old news by now, so the list takes any age.
        create_list(stack.db, tag, instant=True, max_age="3650d")
        readers = [f"{stack.unique('reader')}@example.com" for _ in range(2)]
        for email in readers:
            add_subscriber(stack.db, email, tag)

        def poll_and_send():
            return poll_feed(stack.db, settings, feed, http_session(), stack.dispatcher,
                             force=True)

        def ours(path: str) -> list:
            return [r for r in stack.http.to(path) if tag in r.json()["article"]["guid"]]

        first = poll_and_send()
        assert (first.status, first.created, first.known) == ("ok", [], 50)

        page.set(document())
        second = poll_and_send()
        assert len(second.created) == 2
        wait_for(lambda: all(len(stack.smtp.handler.to(e)) == 2 for e in readers)
                 and len(ours("/hooks/all")) == 2, timeout=30,
                 what="two alerts per reader and two webhook posts")
        for email in readers:
            assert {m.message["Subject"] for m in stack.smtp.handler.to(email)} == NEW_TITLES
        assert {r.json()["article"]["title"] for r in ours("/hooks/all")} == NEW_TITLES
        assert {r.json()["article"]["section"] for r in ours("/hooks/asia")} == {
            "South Asia and Beyond"}  # the section filter applies to feed items too

        third = poll_and_send()
        assert (third.status, third.created) == ("unchanged", [])
        assert site.to("/feed/")[-1].status == 304
        time.sleep(1.0)
        assert len(ours("/hooks/all")) == 2
        assert all(len(stack.smtp.handler.to(e)) == 2 for e in readers)
        assert list_feeds(stack.db, settings)[0]["status"] == "unchanged"
