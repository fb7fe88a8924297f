"""A webhook post refused with 400 (retried until the channel's max_age, then given up)
shows up in `failures list` with the service's error text, and `failures retry` sends
it through once the receiver accepts."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from urllib.parse import urlsplit

from fastapi.testclient import TestClient

from distributor.api import create_app
from distributor.monitor.deliveries import deliveries
from distributor.outbox import wake
from distributor.store import Article
from tests.conftest import API_TOKEN
from tests.peers import Reply, wait_for


def post_state(monitored, guid: str) -> str:
    return deliveries(monitored.db, guid)["channels"][0]["state"]


def publish_refused_post(monitored, start_worker) -> str:
    hook = urlsplit(monitored.settings.channels[0].options.url).path
    refused = Reply(400, {"error": "unknown chat id"})
    monitored.http.reply_on(hook, refused, refused)  # the first try and the one retry
    start_worker(monitored.env)  # first, so that the post's turn comes within its max_age
    article_id = monitored.publish("Refused by the hook")
    with monitored.db.session() as session:
        guid = session.get(Article, article_id).guid
    wake.fan_out(monitored.db, monitored.dispatcher, article_id, datetime.now(UTC))
    wait_for(lambda: post_state(monitored, guid) == "failed", timeout=30,
             what="the post to fail")
    return guid


def test_failures_list_and_retry_of_a_refused_webhook_post(monitored, start_worker):
    guid = publish_refused_post(monitored, start_worker)

    listed = monitored.cli("failures", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    failure = next(f for f in json.loads(listed.stdout) if f["kind"] == "channel post")
    assert failure["id"].startswith("post:")
    assert failure["channel"] == "newsroom-hook"
    assert "400" in failure["error"] and "unknown chat id" in failure["error"]
    assert failure["attempts"] == 2 and failure["retryable"] is True  # the try and its retry

    human = monitored.cli("failures", "list")
    assert failure["id"] in human.stdout and "unknown chat id" in human.stdout

    retried = monitored.cli("failures", "retry", failure["id"])  # the receiver now says 200
    assert retried.returncode == 0, retried.stderr
    assert "re-opened and enqueued" in retried.stdout
    wait_for(lambda: post_state(monitored, guid) == "sent", timeout=30,
             what="the retried post to go through")
    assert json.loads(monitored.cli("failures", "list", "--json").stdout) == []


def test_retry_of_an_unknown_or_malformed_id_is_a_clear_error(monitored):
    unknown = monitored.cli("failures", "retry", "post:999999")
    assert unknown.returncode == 2
    assert "no channel post post:999999" in unknown.stderr
    malformed = monitored.cli("failures", "retry", "12")
    assert malformed.returncode == 2 and "not a failure id" in malformed.stderr
    neither = monitored.cli("failures", "retry")
    assert neither.returncode == 2


def test_failures_over_http_need_the_token_and_retry_goes_through(monitored, start_worker):
    guid = publish_refused_post(monitored, start_worker)
    client = TestClient(create_app(monitored.settings, monitored.db, monitored.dispatcher))
    assert client.get("/v1/failures").status_code == 401
    assert client.get("/v1/status").status_code == 401
    auth = {"Authorization": f"Bearer {API_TOKEN}"}

    failures = client.get("/v1/failures", headers=auth).json()["failures"]
    post_id = next(f["id"] for f in failures if f["kind"] == "channel post")
    missing = client.post("/v1/failures/post:999999/retry", headers=auth)
    assert missing.status_code == 404 and "post:999999" in missing.json()["error"]

    answer = client.post(f"/v1/failures/{post_id}/retry", headers=auth)
    assert answer.status_code == 202, answer.text
    wait_for(lambda: post_state(monitored, guid) == "sent", timeout=30,
             what="the retried post to go through")
    status = client.get("/v1/status", headers=auth).json()
    assert status["broker"] == "ok" and status["channel_posts"] == []
