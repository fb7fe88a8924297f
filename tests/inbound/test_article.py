"""Articles: validation, sanitising, idempotent ingest and the plan written with them."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from distributor.audience.lists import create_list
from distributor.audience.subscribers import add_subscriber
from distributor.errors import InvalidInput
from distributor.inbound.article import ingest, parse_article, sanitise_html
from distributor.outbox.plan import batch_bounds
from distributor.store import Article, Batch, ChannelPost, MailingList, Send

GOOD = {"url": "https://news.example.org/a", "title": "A headline"}


@pytest.mark.parametrize("data,field", [
    ({"title": "x"}, "url"),
    ({"url": "https://x.org/a"}, "title"),
    ({**GOOD, "url": "ftp://x.org/a"}, "url"),
    ({**GOOD, "url": "javascript:alert(1)"}, "url"),
    ({**GOOD, "image_url": "data:image/png;base64,xx"}, "image_url"),
    ({**GOOD, "title": "Breaking\r\nBcc: victim@example.com"}, "title"),
    ({**GOOD, "author": "A\nB"}, "author"),
    ({**GOOD, "section": "S\x00"}, "section"),
    ({**GOOD, "published_at": "yesterday"}, "published_at"),
    ({**GOOD, "published_at": "2026-11-29T05:30:00"}, "published_at"),
    ({**GOOD, "tags": "not-a-list"}, "tags"),
])
def test_bad_fields_are_named(data, field):
    with pytest.raises(InvalidInput) as error:
        parse_article(data)
    assert field in error.value.fields


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b'"a string"', b"\xff\xfe"])
def test_a_body_that_is_not_a_json_object_is_refused(raw):
    with pytest.raises(InvalidInput):
        parse_article(raw)


def test_sanitising_keeps_the_story_and_drops_the_dangerous_parts():
    html = ('<p onclick="steal()">Hello <b>world</b></p><script>alert(1)</script>'
            '<a href="javascript:alert(1)">x</a><a href="https://ok.example/">ok</a>'
            '<img src="https://img.example/p.jpg" onerror="x()"><iframe src="https://e.vil">')
    clean = sanitise_html(html)
    assert "<b>world</b>" in clean and 'href="https://ok.example/"' in clean
    for bad in ("script", "onclick", "onerror", "javascript:", "iframe"):
        assert bad not in clean


def test_ingest_is_idempotent_by_guid_and_defaults_guid_to_url(db, make_settings):
    settings = make_settings()
    first = ingest(db, settings, json.dumps(GOOD).encode())
    again = ingest(db, settings, {**GOOD, "title": "Changed"})
    assert first.created and not again.created
    assert first.guid == again.guid == GOOD["url"]
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Article)) == 1
        assert session.scalar(select(Article.title)) == "A headline"


def test_invalid_input_stores_nothing(db, make_settings):
    with pytest.raises(InvalidInput):
        ingest(db, make_settings(), {"url": "https://x.org", "title": "a\nb"})
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Article)) == 0


def test_the_plan_is_written_with_the_article(db, make_settings, tmp_path):
    settings = make_settings(channels=[
        {"name": "all", "type": "webhook", "url": "https://h.example/all"},
        {"name": "asia", "type": "webhook", "url": "https://h.example/asia",
         "sections": ["South Asia and Beyond"]},
    ])
    create_list(db, "everything", instant=True)
    create_list(db, "asia", instant=True, sections=["SOUTH ASIA AND BEYOND"])
    create_list(db, "business", instant=True, sections=["Business"])
    create_list(db, "daily", instant=False, schedule="0 7 * * *", timezone="Asia/Kolkata")
    add_subscriber(db, "a@example.com", "everything")

    result = ingest(db, settings, {**GOOD, "section": "South Asia and Beyond"})
    with db.session() as session:
        posts = set(session.scalars(select(ChannelPost.channel).where(
            ChannelPost.article_id == result.article_id)))
        lists = set(session.scalars(select(MailingList.name).join(
            Send, Send.list_id == MailingList.id).where(Send.article_id == result.article_id)))
    assert posts == {"all", "asia"}
    assert lists == {"everything", "asia"}


def test_batches_are_keyset_ranges_of_about_the_batch_size(db):
    create_list(db, "big", instant=True)
    for i in range(1234):
        add_subscriber(db, f"r{i}@example.com", "big")
    with db.session() as session:
        list_id = session.scalar(select(MailingList.id))
        bounds, total = batch_bounds(session, list_id, 500)
    assert total == 1234
    assert [last - first + 1 for first, last in bounds] == [500, 500, 234]
    assert all(a[1] < b[0] for a, b in zip(bounds, bounds[1:], strict=False))


def test_a_list_without_subscribers_plans_a_finished_send(db, make_settings):
    create_list(db, "empty", instant=True)
    ingest(db, make_settings(), GOOD)
    with db.session() as session:
        send = session.scalar(select(Send))
        assert send.state == "done" and send.planned == 0
        assert session.scalar(select(func.count()).select_from(Batch)) == 0
