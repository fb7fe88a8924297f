"""Converters from feed items, WordPress posts and Ghost webhooks to the article
JSON: pure logic on the fixture files."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from distributor.config import FeedConfig
from distributor.errors import FeedError, InvalidInput, SkipItem
from distributor.inbound.article import parse_article
from distributor.inbound.fetch import Fetched, parse
from distributor.inbound.sources import (
    convert,
    entry_to_article,
    ghost_to_article,
    wordpress_to_article,
)
from tests.inbound.feedsite import fixture, wordpress_feed


def entries(name: str, content_type: str = "application/rss+xml") -> list:
    body = wordpress_feed() if name == "wordpress" else fixture(name)
    return parse(Fetched(200, body, content_type))


def test_a_wordpress_item_becomes_an_article():
    feed = FeedConfig(url="https://stratnews.example/feed/")
    guid, article = entry_to_article(entries("wordpress")[0], feed)
    assert guid == article["guid"] == "https://stratnews.example/?p=24364"
    assert article["url"].startswith("https://stratnews.example/2026/11/29/sri-lanka-")
    assert article["author"] == "Ashwin Ahmad"
    assert article["section"] == "South Asia and Beyond"
    assert article["tags"] == ["South Asia and Beyond", "Maritime"]
    assert article["summary"].startswith("Sri Lanka Signs Debt Restructuring Deal With "
                                         "Bilateral Lenders: what happened")
    assert "…" in article["summary"] and "<p>" not in article["summary"]
    assert "<strong>New Delhi:</strong>" in article["body_html"]  # content:encoded
    assert article["published_at"] == datetime(2026, 11, 29, 5, 30, tzinfo=UTC)
    assert article["image_url"].endswith("story-24364-1024x576.jpg")  # media:content
    parse_article(article)  # valid as the plain format


def test_enclosure_images_and_the_sections_mapping():
    feed = FeedConfig(url="https://x.example/", sections={"economy": "Business"})
    _, article = entry_to_article(entries("wordpress")[1], feed)
    assert article["section"] == "Business"  # mapped, case-insensitively
    assert article["image_url"].endswith("story-24357-1024x576.jpg")  # enclosure
    fixed = FeedConfig(url="https://x.example/", section="Wire")
    assert entry_to_article(entries("wordpress")[1], fixed)[1]["section"] == "Wire"


def test_atom_entries():
    feed = FeedConfig(url="https://harbournotes.example/atom.xml", section="Maritime desk")
    first, second, third = entries("atom-feed.xml", "application/atom+xml")
    guid, article = entry_to_article(first, feed)
    assert guid == "tag:harbournotes.example,2026-11-29:/vizhinjam-transhipment"
    assert article["title"] == "Why Vizhinjam Matters For Transhipment"
    assert article["author"] == "Rohan Menon"
    assert article["image_url"] == "https://harbournotes.example/media/vizhinjam-cranes.webp"
    assert article["tags"] == ["Maritime", "Infrastructure"]
    assert article["section"] == "Maritime desk"
    assert "millionth container" in article["body_html"]
    assert entry_to_article(second, feed)[1]["published_at"] == datetime(
        2026, 11, 28, 11, 20, tzinfo=UTC)  # updated when there is no published
    assert entry_to_article(third, feed)[1]["image_url"] is None


def test_items_that_cannot_be_articles_say_why():
    feed = FeedConfig(url="https://capitaldesk.example/rss")
    items = entries("rss-broken-items.xml")
    assert entry_to_article(items[0], feed)[0] == "capitaldesk-2026-1180"
    reasons = []
    for item in items[1:]:
        with pytest.raises(SkipItem) as caught:
            entry_to_article(item, feed)
        reasons.append(str(caught.value))
    assert reasons == ["'Budget Session To Begin On January 31': no link",
                       "'Click Here For The Full Schedule': link is not an http(s) URL",
                       "https://capitaldesk.example/politics/untitled-draft: no title"]


@pytest.mark.parametrize("body, reason", [
    (b"<html><body><p>Not found</body></html>", "not well-formed XML"),
    (b"<?xml version='1.0'?><sitemap><url/></sitemap>", "not an RSS or Atom feed"),
    (b"", "not an RSS or Atom feed"),
    (wordpress_feed()[:5000], "not well-formed XML"),  # cut off mid-way
])
def test_documents_that_are_not_feeds_are_refused(body, reason):
    with pytest.raises(FeedError, match=reason):
        parse(Fetched(200, body, "text/xml"))


def test_a_document_is_never_taken_for_a_file_name(tmp_path):
    secret = tmp_path / "secret.xml"
    secret.write_bytes(wordpress_feed())
    with pytest.raises(FeedError):
        parse(Fetched(200, str(secret).encode(), "text/plain"))


def test_a_wordpress_rest_post_becomes_an_article():
    article = wordpress_to_article(json.loads(fixture("wordpress-post.json")))
    assert article["guid"] == "https://stratnews.example/?p=24364"
    assert article["title"] == "Sri Lanka Signs Debt Restructuring Deal With Bilateral Lenders (52)"
    assert article["summary"] == "Colombo’s creditors agreed to a fifteen-year schedule … Read more"
    assert article["section"] == "South Asia and Beyond"
    assert article["tags"] == ["South Asia and Beyond", "Economy", "Debt & Finance", "Sri Lanka"]
    assert article["author"] == "Ashwin Ahmad"
    assert article["image_url"].endswith("/story-24364.jpg")
    assert article["published_at"] == "2026-11-29T05:30:00Z"
    parsed = parse_article(article)
    assert parsed.published_at == datetime(2026, 11, 29, 5, 30, tzinfo=UTC)


def test_a_wordpress_post_without_embeds_still_publishes():
    post = json.loads(fixture("wordpress-post.json"))
    del post["_embedded"]
    article = wordpress_to_article(post)
    assert (article["section"], article["author"], article["image_url"]) == (None, None, None)
    parse_article(article)


@pytest.mark.parametrize("change, field", [
    ({"title": {"rendered": "  "}}, "title.rendered"),
    ({"title": {"rendered": 5}}, "title.rendered"),
    ({"link": None}, "link"),
    ({"status": "draft"}, "status"),
    ({"date_gmt": 17}, "date_gmt"),
])
def test_a_bad_wordpress_post_names_the_field(change, field):
    post = json.loads(fixture("wordpress-post.json")) | change
    with pytest.raises(InvalidInput) as caught:
        wordpress_to_article(post)
    assert field in caught.value.fields


def test_a_ghost_webhook_becomes_an_article():
    article = ghost_to_article(json.loads(fixture("ghost-post-published.json")))
    assert article == {
        "guid": "674952e1c3a0b2001d8f4e21",
        "url": "https://dispatch.example/critical-minerals-andes/",
        "title": "Inside The Race For Critical Minerals In The Andes",
        "summary": "Lithium, royalties and who gets to set the price.",
        "body_html": article["body_html"],
        "section": "Geopolitics",
        "tags": ["Geopolitics", "Resources"],
        "author": "Lucía Paredes",
        "image_url": "https://dispatch.example/content/images/2026/11/salar.jpg",
        "published_at": "2026-11-29T05:30:00.000Z",
    }
    assert "royalty rules" in article["body_html"]
    parse_article(article)


def test_members_only_ghost_posts_keep_their_body_private():
    body = json.loads(fixture("ghost-post-published.json"))
    body["post"]["current"]["visibility"] = "paid"
    article = ghost_to_article(body)
    assert article["body_html"] == "" and article["summary"]


@pytest.mark.parametrize("body, field", [
    ({}, "post.current"),
    ({"post": {"current": {}}}, "post.current"),
    ({"post": {"current": {"title": "T"}}}, "post.current.url"),
    ({"post": {"current": {"url": "https://d.example/x", "title": ""}}}, "post.current.title"),
    ({"post": {"current": {"url": "https://d.example/x", "title": "T", "status": "draft"}}},
     "post.current.status"),
    ([], "body"),
])
def test_a_bad_ghost_body_names_the_field(body, field):
    with pytest.raises(InvalidInput) as caught:
        ghost_to_article(body)
    assert field in caught.value.fields


def test_convert_refuses_unknown_formats_and_bad_json():
    with pytest.raises(InvalidInput) as caught:
        convert("drupal", b"{}")
    assert "format" in caught.value.fields
    with pytest.raises(InvalidInput) as caught:
        convert("ghost", b"{not json")
    assert "body" in caught.value.fields
    assert convert(None, b'{"a": 1}') == b'{"a": 1}'


def test_entity_expansion_bombs_are_refused():
    entities = '<!ENTITY a0 "lol">' + "".join(
        f'<!ENTITY a{i} "{f"&a{i - 1};" * 10}">' for i in range(1, 10))
    body = (f'<?xml version="1.0"?><!DOCTYPE rss [{entities}]><rss version="2.0"><channel>'
            '<title>&a9;</title></channel></rss>').encode()
    with pytest.raises(FeedError, match="not well-formed XML"):
        parse(Fetched(200, body, "application/rss+xml"))


def test_external_entities_are_not_read(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("s3cret-value")
    body = (f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY x SYSTEM "file://{secret}">]>'
            '<rss version="2.0"><channel><title>t</title><item><title>&x;</title>'
            '<link>https://e.example/a</link></item></channel></rss>').encode()
    for item in parse(Fetched(200, body, "application/rss+xml")):
        assert "s3cret" not in str(item)
