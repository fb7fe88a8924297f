"""POST /v1/articles?format=wordpress|ghost: the same auth, validation, storage and
plan as the plain article JSON."""

from __future__ import annotations

import json
import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from distributor.api import create_app
from distributor.channels.adapters.webhook import sign
from distributor.outbox.wake import MemoryDispatcher
from distributor.store import Article, ChannelPost
from tests.conftest import API_TOKEN, WEBHOOK_SECRET
from tests.inbound.feedsite import fixture

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
HOOK = {"name": "ops-hook", "type": "webhook", "url": "http://127.0.0.1:9/hooks/all"}


class FirstTime:
    def first_time(self, message_id: str) -> bool:
        return True


@pytest.fixture()
def api(feed_service):
    settings, db, _ = feed_service([], channels=[HOOK])
    dispatcher = MemoryDispatcher()
    with TestClient(create_app(settings, db, dispatcher, replay_guard=FirstTime())) as client:
        client.db, client.dispatcher = db, dispatcher
        yield client


def stored(db, guid: str) -> Article:
    with db.session() as session:
        return session.scalar(select(Article).where(Article.guid == guid))


def test_a_wordpress_post_publishes_like_the_plain_format(api):
    body = fixture("wordpress-post.json")
    answer = api.post("/v1/articles?format=wordpress", content=body, headers=AUTH)
    assert answer.status_code == 202, answer.text
    assert answer.json() == {"guid": "https://stratnews.example/?p=24364", "status": "accepted"}
    article = stored(api.db, "https://stratnews.example/?p=24364")
    assert (article.section, article.author, article.source) == (
        "South Asia and Beyond", "Ashwin Ahmad", "api")
    assert "<script" not in article.body_html and "practical step" in article.body_html
    assert api.dispatcher.ids("publish.fan_out") == [article.id]
    with api.db.session() as session:
        assert session.scalar(select(ChannelPost.channel)) == "ops-hook"

    again = api.post("/v1/articles?format=wordpress", content=body, headers=AUTH)
    assert (again.status_code, again.json()["status"]) == (200, "already published")
    assert api.dispatcher.ids("publish.fan_out") == [article.id]


def test_a_ghost_webhook_publishes_like_the_plain_format(api):
    answer = api.post("/v1/articles?format=ghost", content=fixture("ghost-post-published.json"),
                      headers=AUTH)
    assert answer.status_code == 202, answer.text
    article = stored(api.db, "674952e1c3a0b2001d8f4e21")
    assert article.url == "https://dispatch.example/critical-minerals-andes/"
    assert (article.section, article.author) == ("Geopolitics", "Lucía Paredes")
    assert article.image_url == "https://dispatch.example/content/images/2026/11/salar.jpg"


def test_a_signed_wordpress_post_is_accepted_without_a_token(api):
    body = fixture("wordpress-post.json")
    stamp = int(time.time())
    headers = {"webhook-id": "msg_wp_24364", "webhook-timestamp": str(stamp),
               "webhook-signature": sign(WEBHOOK_SECRET, "msg_wp_24364", stamp, body)}
    answer = api.post("/v1/articles?format=wordpress", content=body, headers=headers)
    assert answer.status_code == 202, answer.text


@pytest.mark.parametrize("format_name", ["wordpress", "ghost"])
def test_the_same_auth_is_required(api, format_name):
    answer = api.post(f"/v1/articles?format={format_name}",
                      content=fixture("wordpress-post.json"))
    assert answer.status_code == 401
    assert stored(api.db, "https://stratnews.example/?p=24364") is None


def test_an_unknown_format_is_refused_naming_format(api):
    answer = api.post("/v1/articles?format=drupal", content=b"{}", headers=AUTH)
    assert answer.status_code == 422
    assert set(answer.json()["fields"]) == {"format"}


def test_a_bad_wordpress_post_names_the_field_and_stores_nothing(api):
    post = json.loads(fixture("wordpress-post.json"))
    post["title"] = {"rendered": ""}
    answer = api.post("/v1/articles?format=wordpress", content=json.dumps(post), headers=AUTH)
    assert answer.status_code == 422
    assert answer.json()["fields"] == {"title.rendered": "required"}
    assert stored(api.db, "https://stratnews.example/?p=24364") is None
    assert api.dispatcher.ids("publish.fan_out") == []


def test_a_bad_ghost_value_is_refused_by_the_article_rules(api):
    body = json.loads(fixture("ghost-post-published.json"))
    body["post"]["current"]["feature_image"] = "javascript:alert(1)"
    answer = api.post("/v1/articles?format=ghost", content=json.dumps(body), headers=AUTH)
    assert answer.status_code == 422
    assert "image_url" in answer.json()["fields"]


def test_the_plain_format_is_unchanged(api):
    article = {"url": "https://news.example.org/plain", "title": "Plain"}
    for query in ("", "?format=json"):
        answer = api.post(f"/v1/articles{query}", json=article, headers=AUTH)
        assert answer.status_code in (200, 202)
        assert answer.json()["guid"] == "https://news.example.org/plain"
