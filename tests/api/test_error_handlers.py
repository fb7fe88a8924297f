"""The API's error handlers, each driven by a real request: 422 names the field, 503
says what does not answer, 500 answers JSON with a request id and no traceback or
exception text, and the log line carries the same id."""

from __future__ import annotations

import json
import logging
import time
import uuid

import pytest
from fastapi.testclient import TestClient

from distributor.api import create_app
from distributor.channels.adapters.webhook import sign
from distributor.outbox.wake import MemoryDispatcher
from tests.api.conftest import AUTH
from tests.conftest import WEBHOOK_SECRET
from tests.peers import free_port

ARTICLE = {"url": "https://news.example.org/handlers", "title": "Handlers"}


class Exploding(MemoryDispatcher):
    def fan_out(self, article_id: int) -> None:
        raise RuntimeError("password=hunter2 in a message nobody should see")


def test_a_bad_field_answers_422_naming_it(client):
    response = client.post("/v1/articles", headers=AUTH, json={"url": "not a url", "title": ""})
    assert response.status_code == 422
    body = response.json()
    assert body["error"] and set(body["fields"]) & {"url", "title"}


def test_a_query_of_the_wrong_type_answers_422_through_the_validation_handler(client):
    response = client.get("/v1/subscribers", headers=AUTH, params={"limit": "many"})
    assert response.status_code == 422, response.text
    assert response.json() == {"error": "invalid request", "fields": {
        "limit": response.json()["fields"]["limit"]}}
    assert "integer" in response.json()["fields"]["limit"]


def test_an_unexpected_error_answers_500_json_with_a_request_id_and_nothing_else(
        settings, db, caplog):
    app = create_app(settings, db, Exploding())
    with TestClient(app, raise_server_exceptions=False) as client, \
            caplog.at_level(logging.ERROR, logger="distributor.api"):
        response = client.post("/v1/articles", headers=AUTH, json=ARTICLE)
    assert response.status_code == 500
    body = response.json()
    assert body["error"] == "internal error; see the server log"
    assert body["request_id"] == response.headers["X-Request-ID"] and len(body["request_id"]) == 16
    assert "hunter2" not in response.text and "Traceback" not in response.text
    logged = [r.getMessage() for r in caplog.records if r.name == "distributor.api"]
    assert any(body["request_id"] in line and "RuntimeError" in line for line in logged)
    assert not any("hunter2" in line for line in logged)


def test_a_broker_that_does_not_answer_gives_503_saying_so(make_settings, db):
    dead = f"redis://127.0.0.1:{free_port()}/0"
    settings = make_settings(broker_url=dead)
    body = json.dumps(ARTICLE).encode()
    message_id, timestamp = f"msg_{uuid.uuid4().hex}", int(time.time())
    headers = {"webhook-id": message_id, "webhook-timestamp": str(timestamp),
               "webhook-signature": sign(WEBHOOK_SECRET, message_id, timestamp, body),
               "Content-Type": "application/json"}
    with TestClient(create_app(settings, db, MemoryDispatcher()),
                    raise_server_exceptions=False) as client:
        response = client.post("/v1/articles", content=body, headers=headers)
    assert response.status_code == 503
    assert response.json()["error"].startswith("broker does not answer")
    assert dead not in response.text


@pytest.mark.parametrize("path", ["/v1/articles", "/subscribe"])
def test_the_openapi_declares_a_request_body_for_the_bodies_it_reads(client, path):
    operation = client.get("/openapi.json").json()["paths"][path]["post"]
    assert "requestBody" in operation


@pytest.mark.parametrize("sections", [5, True, "Asia", {"a": 1}])
def test_sections_that_are_not_a_list_answer_422_naming_them(client, sections):
    """Found by the negative fuzz: a number here was a 500."""
    response = client.post("/subscribe", json={"email": "reader@example.org", "list": "x",
                                               "sections": sections})
    assert response.status_code == 422
    assert response.json()["fields"] == {"sections": "must be a list of names"}


@pytest.mark.parametrize("url, field", [("/v1/subscribers?list=%00", "list"),
                                        ("/v1/articles/a%00b/deliveries", "path")])
def test_a_nul_in_the_query_or_path_answers_422_on_every_database(client, url, field):
    """Found by the fuzz on PostgreSQL (which cannot store NUL): these were 500s."""
    response = client.get(url, headers=AUTH)
    assert response.status_code == 422
    assert response.json()["fields"] == {field: "contains a NUL character"}


def test_an_id_beyond_the_id_column_answers_422(client):
    """Found by the fuzz on PostgreSQL: after=2**31 overflowed its INTEGER id: a 500."""
    response = client.get("/v1/subscribers", headers=AUTH, params={"after": 2**31})
    assert response.status_code == 422 and "after" in response.json()["fields"]
    assert client.get("/v1/subscribers", headers=AUTH,
                      params={"after": 2**31 - 1}).status_code == 200


def test_a_nul_inside_a_json_body_is_never_a_500(client, backend):
    """Found by the fuzz on PostgreSQL: {"list": "\\u0000"} reached the database, which
    refused it: a 500. PostgreSQL now answers 422; SQLite stores NUL and finds no list."""
    response = client.post("/v1/digests", headers=AUTH, json={"list": "\x00"})
    assert response.status_code == (422 if backend == "postgresql" else 404), response.text
    if backend == "postgresql":
        assert "cannot store" in response.json()["error"]


@pytest.mark.parametrize("path", ["/archive/daily/%C2%B2",
                                  "/archive/daily?page=99999999999999999999"])
def test_digits_that_are_not_ascii_or_not_a_sane_page_are_a_clear_4xx(client, path):
    """Found by the fuzz: '²' passes str.isdigit() but not int(); a page that large
    overflowed the database's offset."""
    assert 400 <= client.get(path).status_code < 500

