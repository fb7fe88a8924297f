"""Ghost pushes post.published straight to /v1/articles?format=ghost, authenticated by
its own X-Ghost-Signature (HMAC-SHA256 of body + timestamp, keyed with the secret)."""

from __future__ import annotations

import hashlib
import hmac
import time

from tests.conftest import ROOT, WEBHOOK_SECRET

BODY = (ROOT / "tests" / "inbound" / "fixtures" / "ghost-post-published.json").read_bytes()
URL = "/v1/articles?format=ghost"


def ghost_header(body: bytes, secret: str = WEBHOOK_SECRET, at_ms: int | None = None) -> str:
    """As Ghost's webhook trigger builds it."""
    stamp = str(at_ms if at_ms is not None else int(time.time() * 1000))
    digest = hmac.new(secret.encode(), body + stamp.encode(), hashlib.sha256).hexdigest()
    return f"sha256={digest}, t={stamp}"


def post(client, body: bytes, header: str | bytes):
    return client.post(URL, content=body, headers={"content-type": "application/json",
                                                   "X-Ghost-Signature": header})


def test_a_signed_ghost_delivery_publishes_and_its_retry_sends_nothing_more(client, dispatcher):
    header = ghost_header(BODY)
    first = post(client, BODY, header)
    assert first.status_code == 202, first.json()
    planned = list(dispatcher.calls)
    retry = post(client, BODY, header)  # Ghost retries with the same header
    assert retry.status_code == 200
    assert dispatcher.calls == planned  # a known guid: nothing sent again


def test_wrong_key_changed_body_old_stamp_or_garbage_is_a_401(client):
    now_ms = int(time.time() * 1000)
    cases = [
        ghost_header(BODY, secret="whsec_another-secret-entirely-0000"),
        ghost_header(BODY[:-2] + b" }"),
        ghost_header(BODY, at_ms=now_ms - 10 * 60 * 1000),
        "sha256=zz, t=1",
        ("sha256=" + "é" * 64 + ", t=1").encode("latin-1"),
    ]
    for header in cases:
        answer = post(client, BODY, header)
        assert answer.status_code == 401, (header, answer.text)
        assert "Ghost signature" in answer.json()["error"]
