"""digest send, preview, and the subscriber lifecycle commands."""

from __future__ import annotations

import csv
import io
import json


def setup_lists(run, tmp_path):
    run("lists", "create", "daily", "--schedule", "0 7 * * *", "--timezone", "Asia/Kolkata")
    run("lists", "create", "breaking", "--instant")
    for n in range(3):
        run("subscribers", "add", f"r{n}@example.com", "--list", "daily", "--name", f"R {n}")
    run("subscribers", "add", "r0@example.com", "--list", "breaking")
    article = tmp_path / "a.json"
    article.write_text(json.dumps({"url": "https://n.example/a", "title": "Big story",
                                   "section": "South Asia and Beyond"}))
    run("publish", str(article))


def test_digest_dry_run_and_send(run, tmp_path):
    setup_lists(run, tmp_path)
    dry = run("digest", "send", "daily", "--dry-run", "--since", "2000-01-01", "--json")
    assert dry.exit_code == 0
    assert json.loads(dry.stdout) | {} == {"list": "daily", "state": "dry-run", "send_id": None,
                                           "articles": 1, "recipients": 3}
    sent = json.loads(run("digest", "send", "daily", "--since", "2000-01-01", "--json").stdout)
    assert sent["state"] == "planned" and sent["recipients"] == 3
    again = json.loads(run("digest", "send", "daily", "--json").stdout)
    assert again["state"] == "skipped"
    assert run("digest", "send", "breaking").exit_code == 2
    assert run("digest", "send", "nope").exit_code == 2
    assert run("digest", "send", "daily", "--since", "last tuesday").exit_code == 2


def test_preview_writes_exactly_what_would_be_sent(run, tmp_path):
    setup_lists(run, tmp_path)
    out = tmp_path / "alert.html"
    result = run("preview", "alert", "--list", "breaking", "--out", str(out))
    assert result.exit_code == 0
    assert "List-Unsubscribe:" in result.stdout and "To: R 0 <r0@example.com>" in result.stdout
    assert "Big story" in out.read_text() and out.with_suffix(".eml").exists()
    digest = json.loads(run("preview", "digest", "--list", "daily", "--since", "2000-01-01",
                            "--json").stdout)
    assert "SOUTH ASIA AND BEYOND" in digest["text"] and digest["headers"]["Subject"]
    assert run("preview", "digest", "--list", "daily").exit_code == 0
    assert run("preview", "alert", "--list", "breaking", "--article", "nope").exit_code == 2


def test_list_export_remove_and_erase(run, tmp_path):
    setup_lists(run, tmp_path)
    page = json.loads(run("subscribers", "list", "--list", "daily", "--limit", "2",
                          "--json").stdout)
    assert [r["email"] for r in page] == ["r0@example.com", "r1@example.com"]
    rest = json.loads(run("subscribers", "list", "--list", "daily", "--after",
                          str(page[-1]["id"]), "--json").stdout)
    assert [r["email"] for r in rest] == ["r2@example.com"]
    assert run("subscribers", "list", "--status", "weird").exit_code == 2

    exported = run("subscribers", "export").stdout
    rows = list(csv.reader(io.StringIO(exported)))
    assert rows[0] == ["email", "name", "lists", "sections", "timezone"]
    assert ["r0@example.com", "R 0", "breaking;daily", "", ""] in rows

    assert run("subscribers", "remove", "r1@example.com", "--list", "daily").exit_code == 0
    status = json.loads(run("subscribers", "list", "--status", "unsubscribed", "--json").stdout)
    assert [r["email"] for r in status] == ["r1@example.com"]
    assert run("subscribers", "remove", "r2@example.com", "--erase").exit_code == 0
    everyone = run("subscribers", "list", "--json").stdout
    assert "r2@example.com" not in everyone
    # the erased address stays suppressed: adding it again is possible, but no send reaches it
    assert run("subscribers", "remove", "nobody@example.com").exit_code == 2


def test_a_list_can_be_deleted_and_sections_come_from_the_csv(run, tmp_path):
    setup_lists(run, tmp_path)
    csv_file = tmp_path / "prefs.csv"
    csv_file.write_text("email,name,lists,sections\npref@example.com,P,daily,Defence;Economy\n")
    assert "imported 1" in run("subscribers", "import", str(csv_file)).stdout
    rows = json.loads(run("subscribers", "list", "--list", "daily", "--json").stdout)
    assert next(r for r in rows if r["email"] == "pref@example.com")["sections"] == [
        "Defence", "Economy"]
    assert run("lists", "delete", "daily", "--yes").exit_code == 0
    assert run("lists", "delete", "daily", "--yes").exit_code == 2
    assert "daily" not in run("lists", "list").stdout


def test_lists_update_checks_the_address_and_changes_nothing_when_it_is_bad(run):
    assert run("lists", "create", "brief", "--instant", "--from", "Brief <brief@example.org>",
               "--reply-to", "desk@example.org").exit_code == 0
    bad = run("lists", "update", "brief", "--from", "Brief", "--reply-to", "other@example.org")
    assert bad.exit_code == 2
    assert bad.output.strip() == ("error: from: not a sender address (from: 'Brief' is not an "
                                  "address like 'News <news@example.org>')")
    row = json.loads(run("lists", "list", "--json").stdout)[0]
    assert (row["from_address"], row["reply_to"]) == ("Brief <brief@example.org>", "desk@example.org")
    assert run("lists", "update", "brief", "--from", "", "--reply-to", "").exit_code == 0
    row = json.loads(run("lists", "list", "--json").stdout)[0]
    assert (row["from_address"], row["reply_to"]) == (None, None)
    assert run("lists", "update", "nope", "--from", "a@example.org").exit_code == 2
