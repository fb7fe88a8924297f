"""`distributor check`: one line per peer, exact reasons, exit 2 when anything fails;
against real peers (an aiosmtpd server with AUTH, the test Redis, the database)."""

from __future__ import annotations

import pytest
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.conftest import migrated, new_database_url
from tests.peers import SMTPServer, free_port

PASSWORD = "s3cret-pw"


def _authenticator(server, session, envelope, mechanism, auth_data):
    # RFC 4954: 235 on success, 535 5.7.8 when the credentials are wrong (aiosmtpd's reply).
    ok = isinstance(auth_data, LoginPassword) and auth_data.password == PASSWORD.encode()
    return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd sends the 535


@pytest.fixture()
def auth_server():
    with SMTPServer(auth_require_tls=False, authenticator=_authenticator) as server:
        yield server


@pytest.fixture()
def ready(run, database_url):
    """The test database migrated, as after `distributor db upgrade`."""
    migrated(database_url)
    return run


def lines(result) -> list[str]:
    """The check's own lines (the in-process SMTP server logs into the same output)."""
    return [line for line in result.output.strip().splitlines()
            if line.startswith(("config: ", "smtp: ", "redis: ", "database: "))]


def test_a_healthy_setup_is_all_ok(ready, auth_server, monkeypatch, backend):
    monkeypatch.setenv("DISTRIBUTOR_SMTP_URL", f"smtp://news:{PASSWORD}@127.0.0.1:{auth_server.port}")
    result = ready("check")
    assert result.exit_code == 0, result.output
    out = lines(result)
    assert out[0].startswith("config: ok: ")
    assert out[1] == f"smtp: ok: smtp://127.0.0.1:{auth_server.port}: EHLO, AUTH as news"
    assert out[2].startswith("redis: ok: 127.0.0.1:6379/") and out[2].endswith(": PING answered")
    assert out[3].startswith(f"database: ok: {backend}: schema at ")
    assert PASSWORD not in result.output


def test_a_refused_login_is_named_and_exits_2(ready, auth_server, monkeypatch):
    monkeypatch.setenv("DISTRIBUTOR_SMTP_URL", f"smtp://news:wrong-{PASSWORD}@127.0.0.1:{auth_server.port}")
    result = ready("check")
    assert result.exit_code == 2
    assert lines(result)[1] == (f"smtp: FAILED: smtp://127.0.0.1:{auth_server.port}: SMTP login "
                                "refused: 535 5.7.8 Authentication credentials invalid")
    assert lines(result)[2].startswith("redis: ok") and lines(result)[3].startswith("database: ok")
    assert PASSWORD not in result.output


def test_a_wrong_port_is_named_and_exits_2(ready, monkeypatch):
    port = free_port()
    monkeypatch.setenv("DISTRIBUTOR_SMTP_URL", f"smtp://127.0.0.1:{port}")
    result = ready("check")
    assert result.exit_code == 2
    assert lines(result)[1] == (f"smtp: FAILED: smtp://127.0.0.1:{port}: SMTP connect to "
                                f"127.0.0.1:{port} failed: ConnectionRefusedError: [Errno 111] "
                                "Connection refused")


def test_a_wrong_scheme_stops_at_the_config_line(ready, monkeypatch):
    monkeypatch.setenv("DISTRIBUTOR_SMTP_URL", f"smtp+startls://news:{PASSWORD}@127.0.0.1:587")
    result = ready("check")
    assert result.exit_code == 2
    assert lines(result) == ["config: FAILED: DISTRIBUTOR_SMTP_URL: unknown scheme 'smtp+startls': "
                             "use smtp://, smtp+starttls://, smtps:// or maildir:PATH"]


def test_an_unreachable_redis_and_an_unmigrated_database_are_named(run, monkeypatch, backend,
                                                                    postgres, tmp_path):
    port = free_port()
    monkeypatch.setenv("DISTRIBUTOR_BROKER_URL", f"redis://127.0.0.1:{port}/0")
    monkeypatch.setenv("DISTRIBUTOR_DATABASE_URL", new_database_url(backend, postgres, tmp_path))
    result = run("check")
    assert result.exit_code == 2
    out = lines(result)
    assert out[1].startswith("smtp: ok: maildir:")
    assert out[2].startswith(f"redis: FAILED: 127.0.0.1:{port}/0: ConnectionError")
    assert out[3] == f"database: FAILED: {backend}: no schema yet; run `distributor db upgrade`"


def test_an_amqp_broker_and_a_database_that_do_not_answer_are_named(ready, monkeypatch):
    dead = free_port()
    monkeypatch.setenv("DISTRIBUTOR_BROKER_URL", f"amqp://guest:broker-pw@127.0.0.1:{dead}//")
    monkeypatch.setenv("DISTRIBUTOR_REDIS_URL", "redis://127.0.0.1:6379/0")
    monkeypatch.setenv("DISTRIBUTOR_DATABASE_URL",
                       f"postgresql+psycopg://u:db-pw@127.0.0.1:{dead}/none")
    result = ready("check")
    assert result.exit_code == 2
    said = "\n".join(line for line in result.output.splitlines()
                     if line.startswith(("broker: ", "database: ")))
    assert f"broker: FAILED: 127.0.0.1:{dead}" in said and "Connection refused" in said
    assert "database: FAILED: postgresql: does not answer: " in said
    assert "broker-pw" not in result.output and "db-pw" not in result.output
