"""View online and the archive: each edition of a public list has a web copy without
anything personal, linked from the email; an index with pages; an Atom feed that a
feed reader (feedparser) reads back."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import feedparser

from distributor.email.archive import PER_PAGE
from distributor.inbound.article import ingest


def view_online(message) -> str | None:
    html = message.get_body(("html",)).get_content()
    found = re.search(r'<a href="(https://news\.example\.org/archive/[^"]+)"[^>]*>View this',
                      html)
    return found.group(1) if found else None


def test_an_alert_links_to_its_web_copy_which_carries_nothing_personal(newsroom):
    alice = newsroom.reader("alice")
    send_id = newsroom.publish("Monsoon arrives early", section="Weather")
    message = newsroom.mailed(alice)[-1]
    link = view_online(message)
    assert link == f"https://news.example.org/archive/breaking/{send_id}"
    assert f"View online: {link}" in message.get_body(("plain",)).get_content()
    copy = newsroom.client().get(link.removeprefix("https://news.example.org"))
    assert copy.status_code == 200 and "Monsoon arrives early" in copy.text
    for personal in (alice, "/unsubscribe/", "/manage/", "View this email"):
        assert personal not in copy.text
    assert "<img" not in copy.text  # no pixel, and this article had no picture
    assert "set-cookie" not in copy.headers


def test_a_private_list_has_no_web_copy_and_no_archive(newsroom):
    bob = newsroom.reader("bob", "staff")
    newsroom.publish("Staff only")
    assert view_online(newsroom.mailed(bob)[-1]) is None
    client = newsroom.client()
    assert client.get("/archive/staff").status_code == 404
    assert client.get("/archive/staff/feed.atom").status_code == 404
    assert client.get("/archive/staff/1").status_code == 404


def test_an_embargoed_article_stays_out_of_the_archive_until_it_is_published(newsroom):
    later = datetime.now(UTC) + timedelta(hours=2)
    ingest(newsroom.db, newsroom.settings, {"url": "https://news.example.org/embargo",
                                            "title": "Embargoed budget",
                                            "published_at": later.isoformat()})
    client = newsroom.client()  # `breaking` has no readers: its send is done at once
    assert "Embargoed budget" not in client.get("/archive/breaking").text
    assert "Embargoed budget" not in client.get("/archive/breaking/feed.atom").text
    for send_id in range(1, 4):
        assert client.get(f"/archive/breaking/{send_id}").status_code == 404


def test_a_digest_has_a_web_copy_with_the_whole_edition(newsroom):
    alice = newsroom.reader("alice", "daily", sections=["Business"])
    newsroom.publish("Rupee steadies", section="Business")
    newsroom.publish("Cricket final tonight", section="Sport")
    send_id = newsroom.digest()
    mail = newsroom.mailed(alice)[-1]
    assert "Cricket" not in mail.get_body(("html",)).get_content()  # her sections only
    copy = newsroom.client().get(f"/archive/daily/{send_id}")
    assert "Rupee steadies" in copy.text and "Cricket final tonight" in copy.text
    assert view_online(mail).endswith(f"/archive/daily/{send_id}")


def test_the_index_has_pages_of_twenty_newest_first(newsroom):
    for n in range(PER_PAGE + 5):
        newsroom.publish(f"Story number {n}")
    client = newsroom.client()
    first = client.get("/archive/breaking")
    assert first.status_code == 200
    titles = re.findall(r">(Story number \d+)</a>", first.text)
    assert len(titles) == PER_PAGE and titles[0] == f"Story number {PER_PAGE + 4}"
    assert 'rel="next" href="?page=2"' in first.text
    second = client.get("/archive/breaking?page=2")
    assert re.findall(r">(Story number \d+)</a>", second.text)[-1] == "Story number 0"
    assert client.get("/archive/breaking?page=3").status_code == 404
    for bad in ("abc", "0", "-1"):
        answer = client.get(f"/archive/breaking?page={bad}")
        assert answer.status_code == 400 and "page" in answer.text


def test_the_atom_feed_reads_back_in_a_feed_reader(newsroom):
    newsroom.publish("First story")
    newsroom.publish("Second story")
    answer = newsroom.client().get("/archive/breaking/feed.atom")
    assert answer.headers["content-type"].startswith("application/atom+xml")
    feed = feedparser.parse(answer.content)
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.version == "atom10"
    assert feed.feed.title.endswith("breaking")
    assert [e.title for e in feed.entries] == ["Second story", "First story"]
    assert all(e.link.startswith("https://news.example.org/archive/breaking/")
               for e in feed.entries)
    assert all(e.id and e.updated_parsed for e in feed.entries)
