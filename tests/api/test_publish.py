"""POST /v1/articles: auth, validation as JSON errors, size cap, idempotency."""

from __future__ import annotations

import json
import time
import uuid

from distributor.channels.adapters.webhook import sign
from tests.api.conftest import AUTH
from tests.conftest import WEBHOOK_SECRET

ARTICLE = {"url": "https://news.example.org/a", "title": "A headline",
           "section": "South Asia and Beyond"}


def signed(body: bytes, message_id: str | None = None, timestamp: int | None = None):
    message_id = message_id or f"msg_{uuid.uuid4().hex}"
    timestamp = int(time.time()) if timestamp is None else timestamp
    return {"webhook-id": message_id, "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(WEBHOOK_SECRET, message_id, timestamp, body),
            "Content-Type": "application/json"}


def test_publish_with_the_token_stores_and_fans_out_once(client, dispatcher):
    first = client.post("/v1/articles", json=ARTICLE, headers=AUTH)
    assert first.status_code == 202 and first.json()["guid"] == ARTICLE["url"]
    again = client.post("/v1/articles", json=ARTICLE, headers=AUTH)
    assert again.status_code == 200 and again.json()["status"] == "already published"
    assert len(dispatcher.ids("publish.fan_out")) == 1


def test_without_or_with_a_wrong_token_nothing_is_stored(client, dispatcher):
    assert client.post("/v1/articles", json=ARTICLE).status_code == 401
    wrong = client.post("/v1/articles", json=ARTICLE, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and wrong.json()["error"]
    assert client.get(f"/v1/articles/{ARTICLE['url']}/deliveries").status_code == 401
    assert dispatcher.ids("publish.fan_out") == []


def test_a_standard_webhooks_signature_is_accepted_once(client, dispatcher):
    body = json.dumps(ARTICLE).encode()
    headers = signed(body)
    assert client.post("/v1/articles", content=body, headers=headers).status_code == 202
    replay = client.post("/v1/articles", content=body, headers=headers)
    assert replay.status_code == 409


def test_bad_signatures_and_old_timestamps_are_refused(client, dispatcher):
    body = json.dumps(ARTICLE).encode()
    tampered = signed(body)
    assert client.post("/v1/articles", content=body.replace(b"A headline", b"Fake"),
                       headers=tampered).status_code == 401
    old = signed(body, timestamp=int(time.time()) - 600)
    response = client.post("/v1/articles", content=body, headers=old)
    assert response.status_code == 401 and "too old" in response.json()["error"]
    assert dispatcher.ids("publish.fan_out") == []


def test_invalid_articles_get_field_errors(client, dispatcher):
    response = client.post("/v1/articles", headers=AUTH,
                           json={"url": "ftp://x", "title": "Line one\r\nBcc: x@y"})
    assert response.status_code == 422
    assert set(response.json()["fields"]) == {"url", "title"}
    missing = client.post("/v1/articles", headers=AUTH, json={})
    assert missing.json()["fields"] == {"url": "required", "title": "required"}
    broken = client.post("/v1/articles", headers={**AUTH, "Content-Type": "application/json"},
                         content=b"{nope")
    assert broken.status_code == 422 and "JSON" in broken.json()["error"]
    assert dispatcher.ids("publish.fan_out") == []


def test_a_body_over_the_limit_gets_413(client, dispatcher):
    big = {**ARTICLE, "body_html": "x" * 10_000_000}
    response = client.post("/v1/articles", headers=AUTH, json=big)
    assert response.status_code == 413
    assert dispatcher.ids("publish.fan_out") == []


def test_deliveries_of_unknown_and_known_articles(client):
    assert client.get("/v1/articles/nope/deliveries", headers=AUTH).status_code == 404
    client.post("/v1/articles", json=ARTICLE, headers=AUTH)
    report = client.get(f"/v1/articles/{ARTICLE['url']}/deliveries", headers=AUTH).json()
    assert report["guid"] == ARTICLE["url"] and report["sends"] == []


def test_admin_lists_and_subscribers(client):
    assert client.post("/v1/lists", headers=AUTH,
                       json={"name": "breaking", "instant": True}).status_code == 201
    duplicate = client.post("/v1/lists", headers=AUTH, json={"name": "breaking", "instant": True})
    assert duplicate.status_code == 422 and duplicate.json()["fields"] == {"name": "already exists"}
    bad = client.post("/v1/subscribers", headers=AUTH, json={"email": "nope", "list": "breaking"})
    assert bad.status_code == 422 and "email" in bad.json()["fields"]
    unknown = client.post("/v1/subscribers", headers=AUTH,
                          json={"email": "a@example.com", "list": "nope"})
    assert unknown.status_code == 404
    ok = client.post("/v1/subscribers", headers=AUTH,
                     json={"email": "A@Example.com", "list": "breaking"})
    assert ok.json() == {"email": "a@example.com", "list": "breaking", "status": "active",
                         "outcome": "added"}
    assert client.get("/v1/lists", headers=AUTH).json()[0]["active"] == 1


def test_a_list_gets_its_own_sender_and_idn_addresses_are_stored_in_ascii(client):
    bad = client.post("/v1/lists", headers=AUTH,
                      json={"name": "brief", "instant": True, "from": "Brief"})
    assert bad.status_code == 422 and "from" in bad.json()["fields"]
    assert client.post("/v1/lists", headers=AUTH, json={
        "name": "brief", "instant": True, "from": "Brief <brief@news.example.org>",
        "reply_to": "desk@news.example.org"}).status_code == 201
    row = client.get("/v1/lists", headers=AUTH).json()[0]
    assert (row["from_address"], row["reply_to"]) == ("Brief <brief@news.example.org>",
                                                      "desk@news.example.org")
    ok = client.post("/v1/subscribers", headers=AUTH, json={"email": "Leser@Bücher.de", "list": "brief"})
    assert ok.json()["email"] == "leser@xn--bcher-kva.de"
