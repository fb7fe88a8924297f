"""What an operator types when something is wrong: deliveries, failures, status, prune,
unpublish. Each answers in words and in --json, and refuses what it cannot do."""

from __future__ import annotations

import json

from sqlalchemy import select, update

from distributor.bootstrap import load_settings
from distributor.store import ChannelPost, Database

HOOK = {"name": "hook", "type": "webhook", "url": "https://hooks.example.org/x"}


def publish(run, tmp_path, guid: str = "g1", **fields) -> None:
    article = tmp_path / f"{guid}.json"
    article.write_text(json.dumps({"guid": guid, "url": f"https://news.example.org/{guid}",
                                   "title": "Ports", **fields}))
    assert run("publish", str(article)).exit_code == 0


def database() -> Database:
    return Database(load_settings().database_url.get_secret_value())


def test_deliveries_in_words_and_json_and_a_clear_no_for_an_unknown_guid(run, tmp_path):
    assert run("lists", "create", "breaking", "--instant").exit_code == 0
    assert run("subscribers", "add", "a@example.com", "--list", "breaking").exit_code == 0
    publish(run, tmp_path)
    words = run("deliveries", "g1")
    assert words.exit_code == 0 and "Ports" in words.stdout and "emails" in words.stdout
    report = json.loads(run("deliveries", "g1", "--json").stdout)
    assert report["sends"][0]["planned"] == 1 and report["scheduled_for"] is None
    unknown = run("deliveries", "nope")
    assert unknown.exit_code == 2 and "no article" in unknown.stderr


def test_failures_are_listed_and_retried_one_or_all(run, tmp_path, monkeypatch):
    config = tmp_path / "hook.toml"
    config.write_text('[[channels]]\nname = "hook"\ntype = "webhook"\n'
                      'url = "https://hooks.example.org/x"\n')
    monkeypatch.setenv("DISTRIBUTOR_CONFIG", str(config))
    assert run("failures", "list").stdout.startswith("no failures")
    publish(run, tmp_path)
    db = database()
    with db.session() as session:
        post_id = session.scalar(select(ChannelPost.id))
        session.execute(update(ChannelPost).values(state="failed", error="HTTP 500 boom"))
    items = json.loads(run("failures", "list", "--json").stdout)
    assert [(i["id"], i["error"]) for i in items] == [(f"post:{post_id}", "HTTP 500 boom")]
    assert "1 failures" in run("failures", "list").stdout
    assert run("failures", "retry").exit_code == 2  # an id or --all
    assert run("failures", "retry", "post:x").exit_code == 2
    again = run("failures", "retry", f"post:{post_id}")
    assert again.exit_code == 0 and "re-opened" in again.stdout
    assert run("failures", "retry", f"post:{post_id}").exit_code == 2  # no longer failed
    assert "nothing to retry" in run("failures", "retry", "--all").stdout
    db.dispose()


def test_status_answers_in_json_without_workers(run):
    status = json.loads(run("status", "--json").stdout)
    assert status["broker"] == "ok" and status["workers"] == []


def test_prune_and_unpublish_say_what_they_did(run, tmp_path):
    assert json.loads(run("db", "prune", "--json").stdout) == {"sends": 0, "rows": 0}
    assert run("db", "prune", "--older-than", "soon").exit_code == 2
    assert run("lists", "create", "breaking", "--instant").exit_code == 0
    assert run("subscribers", "add", "a@example.com", "--list", "breaking").exit_code == 0
    publish(run, tmp_path, "later", published_at="2099-01-01T00:00:00Z")
    report = json.loads(run("deliveries", "later", "--json").stdout)
    assert report["scheduled_for"].startswith("2099-01-01")
    status = json.loads(run("status", "--json").stdout)
    assert [(a["guid"], a["scheduled_for"][:10]) for a in status["scheduled"]] == \
        [("later", "2099-01-01")]
    assert "embargoed articles" in run("status").stdout
    undone = json.loads(run("articles", "unpublish", "later", "--json").stdout)
    assert undone["guid"] == "later"
    assert json.loads(run("status", "--json").stdout)["scheduled"] == []
    assert run("articles", "unpublish", "nope").exit_code == 2


def test_status_watch_redraws_until_ctrl_c_and_refuses_json(run, monkeypatch):
    """--watch takes a fresh snapshot every WATCH_EVERY and ends quietly on Ctrl-C; the
    third wait is where the operator presses it."""
    from types import SimpleNamespace

    import distributor.cli.monitor as monitor_cli
    from distributor import monitor

    taken, waits = [], []
    real = monitor.snapshot

    def counted(*args, **kwargs):
        taken.append(1)
        return real(*args, **kwargs)

    def wait(seconds):
        waits.append(seconds)
        if len(waits) == 3:
            raise KeyboardInterrupt

    monkeypatch.setattr(monitor, "snapshot", counted)
    # The command's own clock only (time.sleep itself is shared with other threads).
    monkeypatch.setattr(monitor_cli, "time", SimpleNamespace(sleep=wait))
    result = run("status", "--watch")
    assert result.exit_code == 0, result.output
    assert len(taken) == 3 and waits == [monitor_cli.WATCH_EVERY] * 3
    refused = run("status", "--watch", "--json")
    assert refused.exit_code == 2 and "--watch and --json do not go together" in refused.output
