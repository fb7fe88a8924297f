"""The generic webhook against the Standard Webhooks spec (v1.0.0): its secrets, its
signatures checked by the reference library, and what each answer means."""

from __future__ import annotations

import base64
import os
from datetime import UTC, timedelta

import pytest
import requests
from standardwebhooks.webhooks import Webhook

from distributor.channels.adapters.base import Outgoing
from distributor.channels.admin import overview
from distributor.channels.post import run_post
from distributor.errors import ConfigError, PermanentError, TransientError
from tests.channels.conftest import adapter_for, channel_of, post_row, publish
from tests.peers import HTTPReceiver, Reply

ARTICLE = {"url": "https://news.example.org/x", "title": "T", "summary": "S"}


def whsec(size: int, padded: bool = True) -> str:
    encoded = base64.b64encode(os.urandom(size)).decode()
    return "whsec_" + (encoded if padded else encoded.rstrip("="))


@pytest.fixture()
def receiver():
    with HTTPReceiver() as server:
        yield server


def hook(receiver, **keys):
    return adapter_for(channel_of("webhook", {"url": receiver.url("/hook"), **keys}))


@pytest.mark.parametrize("secret", ["whsec_", "", whsec(3), whsec(23), whsec(65)],
                         ids=["empty", "blank", "3 bytes", "23 bytes", "65 bytes"])
def test_a_secret_outside_24_to_64_bytes_is_refused(secret):
    with pytest.raises(ConfigError, match="secret"):
        channel_of("webhook", {"url": "https://example.org/hook", "secret": secret})


@pytest.mark.parametrize("secret", [whsec(24), whsec(32, padded=False), whsec(64),
                                    whsec(31, padded=False)],
                         ids=["24 bytes", "unpadded 32", "64 bytes", "unpadded 31"])
def test_the_signature_verifies_with_the_reference_library(receiver, secret):
    hook(receiver, secret=secret).send(Outgoing(1, "msg_1_hook", "text", ARTICLE))
    [request] = receiver.requests
    payload = Webhook(secret).verify(request.body, request.headers)
    assert payload["article"]["url"] == ARTICLE["url"]
    assert request.headers["webhook-id"] == "msg_1_hook"


def test_only_410_gone_disables_the_endpoint(receiver):
    adapter = hook(receiver)
    receiver.replies.append(Reply(410, b"gone"))
    with pytest.raises(PermanentError) as caught:
        adapter.send(Outgoing(1, "k", "t", ARTICLE))
    assert caught.value.disable


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 413, 422, 500, 503])
def test_any_other_failure_is_retried(receiver, status):
    """"A webhook delivery is ... considered a failure in any other scenario. Example
    failure scenarios include non-2xx response status codes (e.g: 404 and 500)"; the
    sender retries on a schedule."""
    receiver.replies.append(Reply(status, b"nope"))
    with pytest.raises(TransientError, match=str(status)):
        hook(receiver).send(Outgoing(1, "k", "t", ARTICLE))


def test_a_redirect_is_a_failure_and_the_secret_headers_stay_home(receiver):
    """Spec: "3xx: Failure ... it's recommended to update the webhook URL instead"."""
    receiver.reply_on("/hook", Reply(302, b"", {"Location": receiver.url("/elsewhere")}))
    with pytest.raises(PermanentError, match="update the URL"):
        hook(receiver, secret=whsec(32)).send(Outgoing(1, "k", "t", ARTICLE))
    assert receiver.to("/elsewhere") == []


def test_a_404_is_retried_until_max_age_and_leaves_the_channel_enabled(setup, receiver,
                                                                       limiter):
    settings, db = setup([{"name": "hook", "type": "webhook", "url": receiver.url("/hook"),
                           "max_age": "2h", "rate": "60/s"}])
    [post_id] = publish(settings, db)
    receiver.replies.extend([Reply(404, b"not here yet"), Reply(404, b"not here yet")])
    first = run_post(db, settings, requests.Session(), post_id, limiter=limiter)
    assert first.state == "retry" and "404" in first.error
    created = post_row(db, post_id).created_at.replace(tzinfo=UTC)
    last = run_post(db, settings, requests.Session(), post_id, limiter=limiter,
                    now=created + timedelta(hours=2, seconds=1))
    assert last.state == "failed" and "gave up" in last.error
    assert overview(db, settings)[0]["state"] == "enabled"


def test_the_webhook_id_never_holds_a_dot():
    """Spec: the message id and timestamp should "not be allowed to include any `.`"."""
    from distributor.channels.adapters.base import idempotency_key

    assert idempotency_key(7, "ops-hook_2") == "msg_7_ops-hook_2"
    dotted = idempotency_key(7, "ops.hook")
    assert "." not in dotted and dotted != idempotency_key(7, "ops-hook")
    assert dotted == idempotency_key(7, "ops.hook")


def test_a_long_summary_is_cut_to_keep_the_body_under_20_kb(receiver):
    """The spec recommends bodies "usually smaller than 20kb": a cut, not a refusal."""
    article = {**ARTICLE, "summary": "한국어 문장 " * 5000, "body_html": "<p>x</p>" * 5000}
    hook(receiver).send(Outgoing(1, "k", "text", article))
    [request] = receiver.requests
    sent = request.json()["article"]
    assert len(request.body) <= 20_000 and "body_html" not in sent
    assert sent["summary"].endswith("\u2026") and len(sent["summary"]) > 5000
    assert article["summary"].startswith(sent["summary"][:-1])
