"""The commands an administrator runs now and then: `db upgrade` (repeatable, and a
clear exit 1 when the database is not there), tokens and the audit log in words."""

from __future__ import annotations


def test_db_upgrade_is_repeatable_and_says_so(run):
    for _ in range(2):
        result = run("db", "upgrade")
        assert result.exit_code == 0 and "database is up to date" in result.stdout


def test_db_upgrade_against_a_database_that_does_not_answer_exits_1(run, monkeypatch):
    monkeypatch.setenv("DISTRIBUTOR_DATABASE_URL",
                       "postgresql+psycopg://nobody:secret-password@127.0.0.1:1/none")
    result = run("db", "upgrade")
    assert result.exit_code == 1
    assert "database does not answer" in result.stderr
    assert "secret-password" not in result.stderr + result.stdout


def test_tokens_and_the_audit_log_read_in_words(run):
    assert "no named tokens" in run("tokens", "list").stdout
    assert "no audit entries yet" in run("audit").stdout
    assert run("tokens", "create", "cms", "--role", "publish").exit_code == 0
    listed = run("tokens", "list").stdout
    assert listed.startswith("cms\tpublish\tcreated ") and "last used never" in listed
    revoked = run("tokens", "revoke", "cms")
    assert revoked.exit_code == 0 and "token 'cms' revoked" in revoked.stdout
    log = run("audit").stdout.splitlines()
    assert any("tokens revoke cms" in line for line in log)
    assert any("tokens create cms" in line for line in log)
    assert "no named tokens" in run("tokens", "list").stdout
