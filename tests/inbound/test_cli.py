"""`distributor feeds poll|list` and `distributor publish --format`."""

from __future__ import annotations

import json

from click.testing import CliRunner

from distributor.cli import cli
from tests.inbound.feedsite import FIXTURES, wordpress_feed


def run(env, *args):
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def test_feeds_poll_and_list(site, feed_service):
    page = site.page("/feed/", wordpress_feed(skip_newest=2))
    site.page("/gone/", status=410)
    _, _, env = feed_service([{"url": site.url("/feed/"), "every": "10m"},
                              {"url": site.url("/gone/")}])

    first = run(env, "feeds", "poll", "--json")
    assert first.exit_code == 1  # one feed could not be read
    good, gone = json.loads(first.stdout)
    assert good == {"url": site.url("/feed/"), "status": "ok", "new": 0, "known": 50,
                    "skipped": [], "error": None}
    assert (gone["status"], gone["error"]) == ("error", "HTTP 410 Gone")

    page.set(wordpress_feed())
    second = run(env, "feeds", "poll")
    assert f"{site.url('/feed/')}: ok, 2 new, 50 known, 0 skipped" in second.stdout
    assert "HTTP 410 Gone" in second.stdout

    listed = json.loads(run(env, "feeds", "list", "--json").stdout)
    assert [(r["status"], r["item_count"], r["known"], r["every"]) for r in listed] == [
        ("ok", 52, 52, "10m"), ("error", 0, 0, "5m")]
    table = run(env, "feeds", "list")
    assert table.exit_code == 0 and "error" in table.stdout and "Gone" in table.stdout


def test_no_feeds_configured_says_so(feed_service):
    _, _, env = feed_service([])
    for command in ("poll", "list"):
        result = run(env, "feeds", command)
        assert result.exit_code == 0 and "no feeds configured" in result.stderr


def test_publish_accepts_the_wordpress_and_ghost_formats(feed_service):
    _, _, env = feed_service([])
    wordpress = run(env, "publish", "--format", "wordpress", str(FIXTURES / "wordpress-post.json"))
    assert wordpress.exit_code == 0, wordpress.stderr
    assert wordpress.stdout.strip() == "https://stratnews.example/?p=24364"
    ghost = run(env, "publish", "--format", "ghost", str(FIXTURES / "ghost-post-published.json"))
    assert ghost.stdout.strip() == "674952e1c3a0b2001d8f4e21"
    wrong = run(env, "publish", "--format", "ghost", str(FIXTURES / "wordpress-post.json"))
    assert wrong.exit_code == 2 and "post.current" in wrong.stderr


def test_a_feed_url_that_is_not_http_is_a_config_error(feed_service, tmp_path, redis_url):
    from tests.inbound.conftest import feeds_env

    env = feeds_env(tmp_path, redis_url, [{"url": "file:///etc/passwd"}])
    result = run(env, "feeds", "list")
    assert result.exit_code == 2
    assert "feeds.0.url" in result.stderr and "http(s) URL" in result.stderr
