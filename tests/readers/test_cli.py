"""The reader settings of a list from the command line: given, shown, and refused with
exit status 2 naming the option when wrong."""

from __future__ import annotations

import json


def test_lists_take_and_show_their_reader_settings(newsroom, tmp_path, redis_url, monkeypatch):
    run = newsroom.cli(tmp_path, redis_url, monkeypatch)
    code, output = run("lists", "create", "samachar", "--instant", "--public",
                       "--tracking", "aggregate", "--utm", "utm_source=mail",
                       "--locale", "hi_IN")
    assert code == 0, output
    code, output = run("lists", "list", "--json")
    row = next(r for r in json.loads(output) if r["name"] == "samachar")
    assert (row["public"], row["tracking"], row["utm"], row["locale"]) == (
        True, "aggregate", "utm_source=mail", "hi_IN")
    code, output = run("lists", "list")
    assert code == 0 and "public" in output and "hi_IN" in output  # the table may wrap
    code, output = run("lists", "update", "samachar", "--private", "--opens")
    assert code == 0, output
    row = next(r for r in json.loads(run("lists", "list", "--json")[1])
               if r["name"] == "samachar")
    assert row["public"] is False and row["track_opens"] is True


def test_wrong_reader_settings_exit_2_naming_the_option(newsroom, tmp_path, redis_url,
                                                        monkeypatch):
    run = newsroom.cli(tmp_path, redis_url, monkeypatch)
    for args, named in ((("--utm", "next=https://evil.example"), "utm"),
                        (("--locale", "fr"), "locale"),
                        (("--tracking", "everything"), "tracking")):
        code, output = run("lists", "update", "breaking", *args)
        assert code == 2 and named in output, (args, output)
    code, output = run("lists", "list", "--json")
    row = next(r for r in json.loads(output) if r["name"] == "breaking")
    assert (row["utm"], row["locale"], row["tracking"]) == (None, "en", "off")
