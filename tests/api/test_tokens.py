"""Named API tokens with roles: `distributor tokens create|list|revoke`, then the API
and the dashboard honour the role. DISTRIBUTOR_API_TOKEN stays an admin token."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from distributor.cli import cli
from distributor.store import ApiToken
from tests.api.conftest import AUTH
from tests.conftest import settings_env

ARTICLE = {"url": "https://e.org/tok", "title": "Token test"}


@pytest.fixture()
def tokens(tmp_path, redis_url, database_url, client, monkeypatch):
    env = settings_env(tmp_path, database_url, redis_url,
                       f"maildir:{tmp_path / 'outbox'}", tmp_path / "distributor.toml")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    runner = CliRunner()

    def run(*args):
        return runner.invoke(cli, list(args))

    return run


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def test_a_publish_token_publishes_and_reads_nothing(client, tokens, db):
    made = tokens("tokens", "create", "cms", "--role", "publish")
    assert made.exit_code == 0, made.output
    token = made.stdout.strip().splitlines()[0]
    assert token.startswith("dst_")
    with db.session() as session:
        stored = session.scalar(select(ApiToken))
        assert stored.role == "publish" and token not in (stored.token_hash, stored.name)
    assert client.post("/v1/articles", json=ARTICLE, headers=bearer(token)).status_code == 202
    assert client.get("/v1/status", headers=bearer(token)).status_code == 403
    assert client.post("/login", data={"token": token}).status_code == 401


def test_a_viewer_reads_but_does_not_act(client, tokens):
    token = tokens("tokens", "create", "ops-view", "--role", "viewer").stdout.split()[0]
    assert client.get("/v1/failures", headers=bearer(token)).status_code == 200
    assert client.post("/v1/articles", json=ARTICLE, headers=bearer(token)).status_code == 403
    assert client.post("/v1/lists", json={"name": "x", "instant": True},
                       headers=bearer(token)).status_code == 403
    assert client.post("/login", data={"token": token}, follow_redirects=False).status_code == 303
    page = client.get("/")
    assert page.status_code == 200 and "/retry" not in page.text and "Send now" not in page.text
    acted = client.post("/dashboard/failures/post:1/retry", follow_redirects=False)
    assert acted.status_code == 403


def test_revoking_a_token_locks_it_out_and_ends_its_sessions(client, tokens):
    token = tokens("tokens", "create", "ed", "--role", "admin").stdout.split()[0]
    assert client.get("/v1/status", headers=bearer(token)).status_code == 200
    client.post("/login", data={"token": token})
    assert client.get("/").status_code == 200
    listed = tokens("tokens", "list", "--json")
    rows = json.loads(listed.stdout)
    assert [(r["name"], r["role"]) for r in rows] == [("ed", "admin")]
    assert token not in listed.stdout
    assert tokens("tokens", "revoke", "ed").exit_code == 0
    assert client.get("/v1/status", headers=bearer(token)).status_code == 401
    assert client.get("/").status_code == 401
    assert tokens("tokens", "revoke", "ed").exit_code == 2


def test_bad_names_and_roles_are_refused_with_exit_2(tokens):
    assert tokens("tokens", "create", "a b", "--role", "admin").exit_code == 2
    assert tokens("tokens", "create", "x", "--role", "root").exit_code == 2
    assert tokens("tokens", "create", "dup", "--role", "viewer").exit_code == 0
    again = tokens("tokens", "create", "dup", "--role", "viewer")
    assert again.exit_code == 2 and "exists" in again.output


def test_the_environment_token_is_still_admin(client):
    assert client.post("/v1/lists", json={"name": "adm", "instant": True},
                       headers=AUTH).status_code in (200, 201)


def test_admin_actions_and_sign_ins_are_in_the_audit_log(client, tokens):
    token = tokens("tokens", "create", "ed", "--role", "admin").stdout.split()[0]
    client.post("/v1/lists", json={"name": "audited", "instant": True}, headers=bearer(token))
    client.post("/login", data={"token": "wrong-token-0123456789"})
    client.get("/v1/status", headers=bearer(token))  # reading is not an action
    rows = json.loads(tokens("audit", "--json").stdout)
    seen = [(r["who"], r["action"], r["status"]) for r in rows]
    assert seen[0] == ("?", "POST /login", 401)
    assert seen[1] == ("ed", "POST /v1/lists", 201) or seen[1][:2] == ("ed", "POST /v1/lists")
    assert seen[2][0].startswith("cli:") and seen[2][1] == "tokens create ed --role admin"
    assert all(r["source"] for r in rows) and len(rows) == 3
    client.post("/login", data={"token": token})
    page = client.get("/")
    assert "POST /v1/lists" in page.text and "Audit log" in page.text


def test_requests_without_any_credential_do_not_fill_the_audit_log(client, tokens):
    for n in range(5):
        client.post("/v1/articles", json=ARTICLE, headers=bearer(f"dst_guess{n}"))
        client.post("/v1/lists", json={"name": f"x{n}", "instant": True})
    assert json.loads(tokens("audit", "--json").stdout) == []


def test_an_expired_dashboard_session_is_refused(client, db):
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import update

    from distributor.store import DashboardSession
    from tests.conftest import API_TOKEN

    client.post("/login", data={"token": API_TOKEN})
    assert client.get("/").status_code == 200
    with db.session() as session:
        session.execute(update(DashboardSession).values(
            expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    assert client.get("/").status_code == 401
