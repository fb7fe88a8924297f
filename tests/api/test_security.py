"""The security review's findings (issue 18), one reproduction each: every test here
failed before its fix."""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner

from distributor.api import create_app
from distributor.bootstrap import load_settings
from distributor.cli import cli
from distributor.errors import ConfigError
from tests.api.conftest import AUTH
from tests.conftest import API_TOKEN, settings_env

# -- 1. Empty or short secrets are refused when the settings load -------------------------


@pytest.mark.parametrize("name,value", [
    ("DISTRIBUTOR_API_TOKEN", ""),
    ("DISTRIBUTOR_API_TOKEN", "   "),
    ("DISTRIBUTOR_API_TOKEN", "change-me"),
    ("DISTRIBUTOR_WEBHOOK_SECRET", ""),
    ("DISTRIBUTOR_WEBHOOK_SECRET", "whsec_"),
    ("DISTRIBUTOR_WEBHOOK_SECRET", "whsec_AA=="),
    ("DISTRIBUTOR_SECRET_KEY", ""),
    ("DISTRIBUTOR_SECRET_KEY", "short-key"),
])
def test_empty_or_short_secrets_are_refused_naming_the_variable(tmp_path, name, value):
    env = {"DISTRIBUTOR_VAR_DIR": str(tmp_path / "var"),
           "DISTRIBUTOR_CONFIG": str(tmp_path / "none.toml"), name: value}
    (tmp_path / "none.toml").write_text("")
    with pytest.raises(ConfigError) as error:
        load_settings(env)
    message = str(error.value)
    assert message.startswith(name + ":") and "\n" not in message
    if value.strip():
        assert value not in message


def test_an_empty_secret_file_is_refused_too(tmp_path):
    (tmp_path / "token").write_text("\n")
    env = {"DISTRIBUTOR_VAR_DIR": str(tmp_path / "var"),
           "DISTRIBUTOR_API_TOKEN_FILE": str(tmp_path / "token")}
    with pytest.raises(ConfigError, match="^DISTRIBUTOR_API_TOKEN: is empty"):
        load_settings(env)


def test_the_cli_exits_2_with_one_line_on_an_empty_token(tmp_path, redis_url, monkeypatch):
    env = settings_env(tmp_path, f"sqlite:///{tmp_path / 'db.sqlite'}", redis_url,
                       f"maildir:{tmp_path / 'outbox'}", api_token="")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    result = CliRunner().invoke(cli, ["lists", "list"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [result.output.strip()]
    assert "DISTRIBUTOR_API_TOKEN" in result.output


def test_without_a_token_the_api_says_on_start_that_admin_and_dashboard_are_off(
        make_settings, db, dispatcher, caplog):
    settings = make_settings().model_copy(update={"api_token": None})
    with caplog.at_level(logging.WARNING, logger="distributor.api"):
        create_app(settings, db, dispatcher)
    assert any("DISTRIBUTOR_API_TOKEN is not set" in r.getMessage() and "dashboard" in
               r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("secret", ["", "whsec_", "whsec_AA=="])
def test_a_webhook_channel_with_an_empty_or_short_secret_is_refused(tmp_path, secret):
    from tests.conftest import write_config

    config = write_config(tmp_path / "distributor.toml", [
        {"name": "hook", "type": "webhook", "url": "https://e.org/h", "secret": secret}])
    with pytest.raises(ConfigError, match=r"channels\[0\] \(hook\): secret: .*(empty|24 to 64)"):
        load_settings({"DISTRIBUTOR_VAR_DIR": str(tmp_path / "var"),
                       "DISTRIBUTOR_CONFIG": str(config)})

# -- 2. Article text cannot use the per-recipient placeholders ----------------------------

PLANTED = ("%%recipient_email%%", "%%unsubscribe_url%%", "%%recipient_name%%")


def test_article_text_cannot_plant_per_recipient_placeholders(make_settings):
    from email import message_from_bytes, policy

    from distributor.email.compose import compile_alert
    from distributor.email.message import Recipient
    from distributor.store import Article

    article = Article(
        guid="g-planted", url="https://example.org/feed-1?t=%%unsubscribe_url%%&e=%%recipient_email%%",
        title="Planted %%recipient_email%% %%recipient_name%%", summary="s %%unsubscribe_url%%",
        section="World", author="%%recipient_email%%", tags=[], body_html="",
        image_url="https://tracker.example/pixel.gif?e=%%recipient_email%%",
        published_at=datetime(2026, 11, 29, tzinfo=UTC))
    compiled = compile_alert(make_settings(), article, "breaking", "alert-1")
    reader = Recipient(1, "alice@example.com", "Alice", "https://news.example.org/unsubscribe/SECRET")
    message = message_from_bytes(compiled.fill(reader), policy=policy.default)
    html = message.get_body(("html",)).get_content()
    text = message.get_body(("plain",)).get_content()
    for body in (html, text):
        assert "tracker.example/pixel.gif?e=%%recipient_email%%" in body or "pixel" not in body
        assert body.count("alice@example.com") == 1  # the footer's own, nothing planted
        assert body.count("unsubscribe/SECRET") == 1
        assert "%%recipient_email%%" in body  # left as the literal text it was
    assert "pixel.gif?e=alice" not in html


# -- 3. Deeply nested body HTML is refused before nh3 -------------------------------------


def test_deeply_nested_body_html_is_refused_fast_with_a_4xx(client):
    depth = 100_000
    html = ("<div>" * depth + "x" + "</div>" * depth)[:990_000]
    response = client.post("/v1/articles", headers=AUTH, json={
        "url": "https://e.org/nest", "title": "nest", "body_html": html})
    assert response.status_code == 422
    assert "deep" in response.json()["fields"]["body_html"]
    assert client.get("/v1/articles/https%3A%2F%2Fe.org%2Fnest/deliveries",
                      headers=AUTH).status_code == 404


def test_ordinary_nesting_still_goes_through(client):
    html = "<div><ul>" + "<li><p>item <b>bold <i>it</i></b></p>" * 300 + "</ul></div>"
    response = client.post("/v1/articles", headers=AUTH, json={
        "url": "https://e.org/flat", "title": "flat", "body_html": html})
    assert response.status_code == 202


# -- 4. Unauthenticated requests get a clear 4xx, never a 500 with a traceback ------------


def _deep_json(depth: int = 200_000) -> bytes:
    return b"[" * depth + b"]" * depth


def test_a_non_ascii_webhook_signature_is_a_401(client):
    body = b'{"url": "https://e.org/a", "title": "a"}'
    headers = {"webhook-id": "msg_1", "webhook-timestamp": str(int(time.time())),
               "webhook-signature": "v1,\xe9\xe9".encode("latin-1"), "content-type": "application/json"}
    response = client.post("/v1/articles", content=body, headers=headers)
    assert response.status_code == 401
    assert "signature" in response.json()["error"]


@pytest.mark.parametrize("path", ["/subscribe", "/v1/articles", "/v1/articles?format=ghost"])
def test_deeply_nested_json_is_a_400(client, path):
    headers = {"content-type": "application/json", **(AUTH if "articles" in path else {})}
    response = client.post(path, content=_deep_json(), headers=headers)
    assert 400 <= response.status_code < 500
    assert "JSON" in response.json()["error"]


@pytest.mark.parametrize("field", ["name", "list", "email"])
def test_invalid_unicode_on_subscribe_is_a_422_naming_the_field(client, field):
    data = {"email": "a@example.com", "list": "breaking", "name": "A", field: "x\ud800y"}
    body = json.dumps(data)  # ensure_ascii: the lone surrogate travels as \\ud800
    response = client.post("/subscribe", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert field in response.json()["fields"]


def test_no_traceback_is_logged_for_these_requests(client, caplog):
    with caplog.at_level(logging.DEBUG):
        client.post("/subscribe", content=_deep_json(), headers={"content-type": "application/json"})
        client.post("/subscribe", content=json.dumps({"email": "a@example.com", "list": "x",
                                                      "name": "\ud800"}),
                    headers={"content-type": "application/json"})
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]


# -- 5. /metrics aggregates no ledger, /health scans no keyspace --------------------------


class CommandLog:
    """A real Redis client that notes the name of every command it sends."""

    def __init__(self, client):
        self.client = client
        self.names: list[str] = []

    def __getattr__(self, name):
        attribute = getattr(self.client, name)
        if name == "pipeline":
            return lambda *a, **k: CommandLog._Pipe(attribute(*a, **k), self.names)
        if callable(attribute):
            self.names.append(name)
        return attribute

    class _Pipe:
        def __init__(self, pipe, names):
            self.pipe, self.names = pipe, names

        def __getattr__(self, name):
            if name != "execute":
                self.names.append(name)
            return getattr(self.pipe, name)


def test_health_does_not_scan_the_redis_keyspace(client, redis_client):
    from distributor.monitor.queues import record_worker, worker_heartbeats

    settings = client.app.state.settings
    record_worker(redis_client, "w1@host", prefix=settings.broker_prefix)
    for n in range(2000):  # a shared Redis holds other stacks' keys
        redis_client.set(f"other-stack:key:{n}", n, ex=60)
    reader = CommandLog(redis_client)
    assert list(worker_heartbeats(reader, settings.broker_prefix)) == ["w1@host"]
    assert not {"scan", "scan_iter", "keys"} & set(reader.names), reader.names
    spy = client.app.state.broker = CommandLog(client.app.state.broker)
    answer = client.get("/health")
    assert answer.status_code == 200, answer.json()
    assert not {"scan", "scan_iter", "keys"} & set(spy.names), spy.names


def _seed_ledger(db, rows: int) -> None:
    from distributor.states import DeliveryState, SendState
    from distributor.store import Article, Delivery, MailingList, Send

    with db.session() as session:
        mailing_list = MailingList(name="big", kind="instant")
        article = Article(guid="g-big", url="https://e.org/big", title="big",
                          published_at=datetime.now(UTC))
        session.add_all([mailing_list, article])
        session.flush()
        done = Send(kind="alert", article_id=article.id, list_id=mailing_list.id,
                    state=SendState.DONE, finished_at=datetime.now(UTC))
        running = Send(kind="digest", list_id=mailing_list.id, state=SendState.RUNNING)
        session.add_all([done, running])
        session.flush()
        done_id, running_id = done.id, running.id
    table = Delivery.__table__
    with db.engine.begin() as conn:
        conn.execute(table.insert(), [{"send_id": done_id, "subscriber_id": n,
                                       "state": DeliveryState.SENT, "attempts": 1,
                                       "at": datetime.now(UTC)} for n in range(rows)])
        conn.execute(table.insert(), [{"send_id": running_id, "subscriber_id": n,
                                       "state": DeliveryState.DEFERRED, "attempts": 1,
                                       "at": datetime.now(UTC)} for n in range(7)])


def test_metrics_scrape_reads_counters_and_never_scans_the_ledger(client, db, redis_client,
                                                                   backend):
    if backend != "sqlite":
        pytest.skip("reads the plan with SQLite's EXPLAIN QUERY PLAN; PostgreSQL's planner "
                    "may scan a table this small by choice")
    from sqlalchemy import event

    from distributor.monitor.counters import count_emails

    _seed_ledger(db, 20_000)
    prefix = client.app.state.settings.broker_prefix
    count_emails(redis_client, prefix, "big", {"sent": 20_000}, retries=3)
    statements: list[tuple[str, object]] = []

    def note(conn, cursor, statement, parameters, context, executemany):
        statements.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", note)
    try:
        text = client.get("/metrics").text
    finally:
        event.remove(db.engine, "before_cursor_execute", note)
    assert len(statements) <= 6
    with db.engine.connect() as conn:
        for statement, parameters in statements:
            if "deliveries" not in statement:
                continue
            plan = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).all()
            scans = [row[-1] for row in plan if row[-1].startswith("SCAN deliveries")]
            assert not scans, (statement, plan)
    assert 'distributor_emails_total{list="big",result="sent"} 20000.0' in text
    assert 'distributor_emails_deferred{list="big"} 7.0' in text
    assert 'distributor_retries_total{kind="email",name="big"} 3.0' in text


# -- 6. Dashboard sign-in: throttled, revocable, no token material in the cookie ----------


def _login(client, token=API_TOKEN, **headers):
    return client.post("/login", data={"token": token}, headers=headers, follow_redirects=False)


def test_login_guesses_are_throttled(client):
    answers = [_login(client, f"guess-{n}-0123456789abcdef").status_code for n in range(8)]
    assert answers[:5] == [401] * 5
    assert set(answers[5:]) == {429}
    assert _login(client).status_code == 429  # even the right token waits: no oracle


def test_logout_revokes_the_cookie(client):
    assert _login(client).status_code == 303
    stolen = client.cookies.get("distributor_session")
    assert client.get("/").status_code == 200
    assert client.post("/logout", follow_redirects=False).status_code == 303
    client.cookies.clear()
    replayed = client.get("/", cookies={"distributor_session": stolen})
    assert replayed.status_code == 401


def test_the_cookie_holds_no_part_of_a_hash_of_the_token(client):
    import base64
    import hashlib

    first = _login(client).cookies.get("distributor_session")
    client.cookies.clear()
    second = _login(client).cookies.get("distributor_session")
    assert first and second and first != second  # a random id per sign-in
    digest = hashlib.sha256(API_TOKEN.encode()).hexdigest()
    for cookie in (first, second):
        raw = cookie + "=" * (-len(cookie) % 4)
        decoded = base64.urlsafe_b64decode(raw.split(".")[0] + "==")
        for text in (cookie, decoded.hex(), decoded.decode("latin-1")):
            assert digest[:8] not in text and API_TOKEN not in text


def test_a_post_without_origin_is_checked_by_its_referer(client):
    assert _login(client).status_code == 303
    evil = client.post("/dashboard/failures/post:1/retry",
                       headers={"Referer": "https://evil.example/page"}, follow_redirects=False)
    assert evil.status_code == 403
    own = client.post("/dashboard/failures/post:1/retry",
                      headers={"Referer": "http://testserver/"}, follow_redirects=False)
    assert own.status_code == 303


def test_link_tokens_never_reach_the_access_log(settings, request):
    import io

    from distributor.logs import setup_logging

    stream = io.StringIO()
    setup_logging(settings, stream=stream)
    access = logging.getLogger("uvicorn.access")
    level, disabled = access.level, access.disabled
    access.setLevel(logging.INFO)  # as `distributor api` runs it; other tests may have raised it
    access.disabled = False
    request.addfinalizer(lambda: (access.setLevel(level), setattr(access, "disabled", disabled)))
    for path in ("/unsubscribe/WzEsMSwiYWJjIl0.Zx9-secret", "/confirm/WzEsMiwiZCJd.tok_en?x=1",
                 "/v1/status?token=dst_AbCdEfGhIjKlMnOpQrStUv"):
        access.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", path, "1.1", 200)
    out = stream.getvalue()
    assert "Zx9-secret" not in out and "tok_en" not in out and "AbCdEfGh" not in out
    assert "/unsubscribe/[redacted]" in out and "/confirm/[redacted]?x=1" in out


def test_pages_with_a_token_in_their_url_send_no_referrer(client):
    page = client.get("/unsubscribe/not-a-valid-token")
    assert page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["x-frame-options"] == "DENY"


# -- 7. The subscribe answer takes the same time and work for a known address -------------


def test_subscribe_does_the_same_work_for_new_and_known_addresses(client, db, dispatcher):
    from distributor.api.subscribe import ANSWER_FLOOR_SECONDS
    from distributor.audience.lists import create_list
    from distributor.audience.subscribers import add_subscriber

    create_list(db, "weekly", instant=False, schedule="0 8 * * 1", double_opt_in=True)
    add_subscriber(db, "known@example.com", "weekly")
    timings = {}
    for who in ("known", "new"):
        before = len(dispatcher.calls)
        started = time.perf_counter()
        answer = client.post("/subscribe", json={"email": f"{who}@example.com", "list": "weekly"})
        timings[who] = time.perf_counter() - started
        assert answer.status_code == 202
        assert [name for name, _ in dispatcher.calls[before:]] == ["email.confirm"]
    assert min(timings.values()) >= ANSWER_FLOOR_SECONDS

