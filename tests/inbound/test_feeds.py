"""Polling feeds against a local news site: first poll records, later polls send
exactly the new items, 304 does nothing, broken feeds leave a reason."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update

from distributor.audience.lists import create_list
from distributor.audience.subscribers import add_subscriber
from distributor.inbound.feeds import due_feeds, list_feeds, poll_feed
from distributor.inbound.fetch import http_session
from distributor.outbox.wake import MemoryDispatcher
from distributor.store import Article, ChannelPost, FeedItem, FeedState, Send
from tests.inbound.feedsite import fixture, wordpress_feed
from tests.peers import free_port

HOOK = {"name": "ops-hook", "type": "webhook", "url": "http://127.0.0.1:9/hooks/all"}


def count(db, table) -> int:
    with db.session() as session:
        return session.scalar(select(func.count()).select_from(table))


def poll(settings, db, feed=0, **kwargs):
    return poll_feed(db, settings, settings.file.feeds[feed], http_session(), MemoryDispatcher(),
                     force=True, **kwargs)


def test_first_poll_records_fifty_then_only_the_two_new_posts_are_planned(site, feed_service):
    page = site.page("/feed/", wordpress_feed(skip_newest=2))
    settings, db, _ = feed_service(
        [{"url": site.url("/feed/"), "every": "5m",
          "sections": {"Defence": "Defence and Security"}}], channels=[HOOK])
    create_list(db, "breaking", instant=True)
    add_subscriber(db, "reader@example.com", "breaking")

    first = poll(settings, db)
    assert (first.status, len(first.created), first.known) == ("ok", 0, 50)
    assert count(db, Article) == 0 and count(db, ChannelPost) == 0 and count(db, Send) == 0
    assert count(db, FeedItem) == 50

    page.set(wordpress_feed())
    second = poll(settings, db)
    assert (second.status, len(second.created), second.known) == ("ok", 2, 50)
    assert site.to("/feed/")[-1].headers.get("If-None-Match")  # asked conditionally
    with db.session() as session:
        articles = session.scalars(select(Article).order_by(Article.id)).all()
        posts = session.scalars(select(ChannelPost)).all()
        sends = session.scalars(select(Send)).all()
    assert [a.guid for a in articles] == ["https://stratnews.example/?p=24357",
                                         "https://stratnews.example/?p=24364"]  # oldest first
    newest = articles[1]
    assert newest.title == "Sri Lanka Signs Debt Restructuring Deal With Bilateral Lenders (52)"
    assert newest.source == "feed" and newest.author == "Ashwin Ahmad"
    assert newest.section == "South Asia and Beyond"
    assert newest.published_at == datetime(2026, 11, 29, 5, 30, tzinfo=UTC)
    assert newest.image_url.endswith("/story-24364-1024x576.jpg")
    assert "<script" not in newest.body_html and "Officials familiar" in newest.body_html
    assert sorted(p.article_id for p in posts) == [a.id for a in articles]
    assert {p.state for p in posts} == {"planned"}
    assert len(sends) == 2 and {s.kind for s in sends} == {"alert"}
    assert count(db, FeedItem) == 52

    third = poll(settings, db)
    assert (third.status, third.created) == ("unchanged", [])
    assert site.to("/feed/")[-1].status == 304
    assert count(db, Article) == 2


def test_unchanged_feed_answers_304_and_nothing_happens(site, feed_service):
    site.page("/feed/", wordpress_feed())
    settings, db, _ = feed_service([{"url": site.url("/feed/"), "backfill": True}])
    assert len(poll(settings, db).created) == 52
    result = poll(settings, db)
    assert (result.status, result.created) == ("unchanged", [])
    hit = site.to("/feed/")[-1]
    assert hit.status == 304 and hit.headers["If-None-Match"].startswith('"')
    assert count(db, Article) == 52
    assert list_feeds(db, settings)[0]["status"] == "unchanged"


def test_a_gzipped_feed_is_read_and_capped_by_its_decoded_size(site, feed_service):
    site.page("/feed/", wordpress_feed(), gzip=True)
    settings, db, _ = feed_service([{"url": site.url("/feed/")}])
    assert poll(settings, db).known == 52
    site.page("/feed/", wordpress_feed() * 40, gzip=True)  # 5 MB unpacked, ~40 kB on the wire
    result = poll(settings, db, max_bytes=1_000_000)
    assert result.status == "error" and "too large" in result.error


def test_without_etag_if_modified_since_is_used(site, feed_service):
    site.page("/feed/", wordpress_feed(), etag=False)
    settings, db, _ = feed_service([{"url": site.url("/feed/")}])
    poll(settings, db)
    assert poll(settings, db).status == "unchanged"
    assert "If-Modified-Since" in site.to("/feed/")[-1].headers


def test_broken_feeds_leave_a_reason_and_other_feeds_go_on(site, feed_service):
    site.page("/ok/", wordpress_feed())
    site.page("/500/", status=500)
    site.page("/html/", b"<!DOCTYPE html><html><head><title>Maintenance</title></head>"
                        b"<body><p>Back soon<br></body></html>", content_type="text/html")
    site.page("/json/", b'{"posts": []}', content_type="application/json")
    site.page("/huge/", stream_bytes=50_000_000)
    closed = f"http://127.0.0.1:{free_port()}/feed/"
    urls = [site.url("/500/"), site.url("/html/"), site.url("/json/"), site.url("/huge/"),
            closed, site.url("/ok/")]
    settings, db, _ = feed_service([{"url": url} for url in urls])

    results = [poll(settings, db, i, max_bytes=1_000_000) for i in range(len(urls))]

    assert [r.status for r in results] == ["error"] * 5 + ["ok"]
    assert results[-1].known == 52
    rows = {row["url"]: row for row in list_feeds(db, settings)}
    assert rows[site.url("/500/")]["error"] == "HTTP 500 Internal Server Error"
    assert rows[site.url("/html/")]["error"].startswith("not well-formed XML")
    assert rows[site.url("/json/")]["error"].startswith("not well-formed XML")
    assert "too large" in rows[site.url("/huge/")]["error"]
    assert rows[closed]["error"].startswith("unreachable")
    assert rows[site.url("/ok/")] | {"last_poll_at": None, "last_success_at": None} == {
        "url": site.url("/ok/"), "every": "5m", "backfill": False, "status": "ok",
        "last_poll_at": None, "last_success_at": None, "item_count": 52, "known": 52,
        "error": None}
    assert count(db, Article) == 0


def test_a_feed_declaring_a_huge_length_is_not_read(site, feed_service):
    site.page("/feed/", wordpress_feed())
    settings, db, _ = feed_service([{"url": site.url("/feed/")}])
    result = poll(settings, db, max_bytes=10_000)
    assert result.status == "error" and "Content-Length" in result.error


def test_a_slow_feed_times_out(site, feed_service):
    site.page("/feed/", wordpress_feed(), delay=2.0)
    settings, db, _ = feed_service([{"url": site.url("/feed/")}])
    result = poll(settings, db, timeout=0.5)
    assert result.status == "error" and result.error.startswith("unreachable: no answer")


def test_a_feed_dripping_bytes_is_cut_off_at_the_deadline(site, feed_service):
    site.page("/feed/", wordpress_feed(), drip=0.1)
    settings, db, _ = feed_service([{"url": site.url("/feed/")}])
    result = poll(settings, db, timeout=1.0)
    # The deadline, not the socket timeout, ended it (each byte comes well within 1 s).
    assert result.status == "error" and result.error.startswith("feed too slow")


def test_items_without_links_are_skipped_with_their_reason(site, feed_service):
    site.page("/feed/", fixture("rss-broken-items.xml"))
    settings, db, _ = feed_service([{"url": site.url("/feed/"), "backfill": True}])
    result = poll(settings, db)
    assert result.status == "partial" and len(result.created) == 1
    assert len(result.skipped) == 3
    row = list_feeds(db, settings)[0]
    assert row["status"] == "partial"
    assert "'Budget Session To Begin On January 31': no link" in row["error"]
    assert "link is not an http(s) URL" in row["error"]
    assert "no title" in row["error"]


def test_the_poll_claims_the_feed_so_two_pollers_never_overlap(site, feed_service):
    site.page("/feed/", wordpress_feed())
    settings, db, _ = feed_service([{"url": site.url("/feed/"), "every": "5m"}])
    now = datetime.now(UTC)
    assert [f.url for f in due_feeds(db, settings, now)] == [site.url("/feed/")]
    feed = settings.file.feeds[0]
    assert poll_feed(db, settings, feed, http_session(), MemoryDispatcher(), now).status == "ok"
    assert due_feeds(db, settings, now + timedelta(minutes=1)) == []
    assert poll_feed(db, settings, feed, http_session(), MemoryDispatcher(),
                     now + timedelta(minutes=1)).status \
        == "busy"  # not due yet
    with db.session() as session:  # another poller holds the lease
        session.execute(update(FeedState).values(lease_until=now + timedelta(minutes=10)))
    later = now + timedelta(minutes=6)
    assert due_feeds(db, settings, later) == []
    assert poll_feed(db, settings, feed, http_session(), MemoryDispatcher(), later,
                     force=True).status == "busy"
    assert len(site.to("/feed/")) == 1


def test_an_item_already_published_by_the_cms_webhook_is_not_sent_again(site, feed_service):
    import json

    from distributor.inbound.article import ingest
    from distributor.inbound.sources import wordpress_to_article

    site.page("/feed/", wordpress_feed(skip_newest=1))
    settings, db, _ = feed_service([{"url": site.url("/feed/")}])
    poll(settings, db)
    post = json.loads(fixture("wordpress-post.json"))
    assert ingest(db, settings, wordpress_to_article(post)).created  # the hook came first
    site.pages["/feed/"].set(wordpress_feed())
    result = poll(settings, db)
    assert (result.created, result.known) == ([], 52)
    assert count(db, Article) == 1


def test_atom_feeds_are_read_too(site, feed_service):
    site.page("/atom/", fixture("atom-feed.xml"), content_type="application/atom+xml")
    settings, db, _ = feed_service([{"url": site.url("/atom/"), "backfill": True,
                                     "section": "Opinion"}])
    result = poll(settings, db)
    assert (result.status, len(result.created)) == ("ok", 3)


def test_a_poll_failing_half_way_keeps_what_it_sent_and_is_repeated(site, feed_service,
                                                                    monkeypatch):
    import distributor.inbound.feeds

    page = site.page("/feed/", wordpress_feed(skip_newest=3))
    settings, db, _ = feed_service([{"url": site.url("/feed/")}])
    poll(settings, db)
    page.set(wordpress_feed())
    real_publish, calls = distributor.inbound.feeds.publish, []

    def publish_then_fail(*args, **kwargs):  # the database goes away after one article
        calls.append(1)
        if len(calls) > 1:
            raise RuntimeError("connection lost")
        return real_publish(*args, **kwargs)

    monkeypatch.setattr(distributor.inbound.feeds, "publish", publish_then_fail)
    broken = poll(settings, db)
    assert (broken.status, broken.error, len(broken.created)) == (
        "error", "internal error: RuntimeError", 1)  # returned to be fanned out
    monkeypatch.setattr(distributor.inbound.feeds, "publish", real_publish)
    repeated = poll(settings, db)
    assert site.to("/feed/")[-1].status == 200  # the ETag was not stored: read in full
    assert (repeated.status, len(repeated.created), repeated.known) == ("ok", 2, 50)
    assert count(db, Article) == 3
