"""The command line: exit status 0 / 2 / 1, messages that name what is wrong."""

from __future__ import annotations

import json


def test_help_explains_each_command(run):
    for command in ([], ["publish"], ["lists", "create"], ["subscribers", "import"],
                    ["worker"], ["beat"], ["api"], ["db", "upgrade"], ["deliveries"]):
        result = run(*command, "--help")
        assert result.exit_code == 0 and "Usage:" in result.output


def test_publish_prints_the_guid_and_refuses_bad_input(run, tmp_path):
    article = tmp_path / "a.json"
    article.write_text(json.dumps({"url": "https://news.example.org/x", "title": "X"}))
    first = run("publish", str(article))
    assert first.exit_code == 0 and first.stdout.strip() == "https://news.example.org/x"
    again = run("publish", str(article))
    assert again.exit_code == 0 and "already published" in again.stderr

    bad = run("publish", "-", input='{"url": "https://x.org", "title": "a\\nb"}')
    assert bad.exit_code == 2 and "title" in bad.stderr
    assert run("publish", str(tmp_path / "missing.json")).exit_code == 2
    huge = run("publish", "-", input="x" * 2_000_000)
    assert huge.exit_code == 2 and "larger than" in huge.stderr


def test_lists_and_subscribers(run, tmp_path):
    assert run("lists", "create", "breaking", "--instant").exit_code == 0
    assert run("lists", "create", "breaking", "--instant").exit_code == 2
    assert run("lists", "create", "x").exit_code == 2
    assert run("lists", "create", "d", "--schedule", "not cron").exit_code == 2
    assert run("lists", "create", "d", "--schedule", "0 7 * * *",
               "--timezone", "Mars/Base").exit_code == 2
    assert run("subscribers", "add", "a@example.com", "--list", "nope").exit_code == 2
    assert run("subscribers", "add", "not-an-email", "--list", "breaking").exit_code == 2
    assert run("subscribers", "add", "a@example.com", "--list", "breaking").exit_code == 0
    listed = json.loads(run("lists", "list", "--json").stdout)
    assert listed[0]["name"] == "breaking" and listed[0]["active"] == 1


def test_csv_import_reports_bad_rows_by_line_and_imports_the_rest(run, tmp_path):
    run("lists", "create", "breaking", "--instant")
    run("lists", "create", "asia", "--instant")
    csv = tmp_path / "subs.csv"
    csv.write_text("email,name,lists\n"
                   "asha@example.com,Asha,breaking;asia\n"
                   "not-an-email,Bad,breaking\n"
                   "vikram@example.com,Vikram,nosuchlist\n"
                   "meera@example.com,Meera,breaking\n"
                   + "x" * 5000 + "\n")
    result = run("subscribers", "import", str(csv))
    assert result.exit_code == 0
    assert "imported 2" in result.stdout
    assert "line 3:" in result.stderr and "line 4:" in result.stderr and "line 6:" in result.stderr
    again = run("subscribers", "import", str(csv))
    assert "imported 0, unchanged 2" in again.stdout


def test_a_bad_setting_exits_2_with_one_line(run, monkeypatch):
    monkeypatch.setenv("DISTRIBUTOR_PUBLIC_URL", "gopher://x")
    result = run("lists", "list")
    assert result.exit_code == 2
    assert result.stderr.strip().count("\n") == 0 and "DISTRIBUTOR_PUBLIC_URL" in result.stderr


def test_an_unreachable_database_exits_1(run, monkeypatch):
    monkeypatch.setenv("DISTRIBUTOR_DATABASE_URL",
                       "postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2")
    result = run("lists", "list")
    assert result.exit_code == 1 and "database" in result.stderr


def test_lists_update_changes_a_list_in_place_and_prints_the_next_digest(run):
    assert run("lists", "create", "daily", "--schedule", "0 7 * * *").exit_code == 0
    six = run("lists", "create", "odd", "--schedule", "0 0 7 * * *")
    assert six.exit_code == 2 and "five-field cron" in six.stderr
    updated = run("lists", "update", "daily", "--schedule", "30 6 * * *",
                  "--timezone", "Asia/Kolkata", "--max-age", "3h")
    assert updated.exit_code == 0
    assert "next digest" in updated.stdout and "06:30 Asia/Kolkata" in updated.stdout
    assert run("lists", "update", "daily").exit_code == 2  # nothing to change
    assert run("lists", "update", "daily", "--max-age", "soon").exit_code == 2
    [daily] = json.loads(run("lists", "list", "--json").stdout)
    assert (daily["schedule"], daily["timezone"], daily["max_age"]) == (
        "30 6 * * *", "Asia/Kolkata", 10800)


def test_a_mistyped_smtp_url_stops_every_command_with_exit_2(run, monkeypatch):
    monkeypatch.setenv("DISTRIBUTOR_SMTP_URL", "smtp+startls://user:s3cret-pw@mail.example.org:587")
    for args in (["lists", "list"], ["status", "--json"], ["failures", "list"]):
        result = run(*args)
        assert result.exit_code == 2, args
        assert result.output.strip().splitlines() == [
            "error: DISTRIBUTOR_SMTP_URL: unknown scheme 'smtp+startls': use smtp://, "
            "smtp+starttls://, smtps:// or maildir:PATH"]
        assert "s3cret-pw" not in result.output


def test_an_unparsable_from_address_stops_commands_with_exit_2(run, monkeypatch):
    monkeypatch.setenv("DISTRIBUTOR_FROM", "Newsroom")
    result = run("lists", "list")
    assert result.exit_code == 2
    assert "DISTRIBUTOR_FROM: 'Newsroom' is not an address" in result.output
