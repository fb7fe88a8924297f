"""`distributor feeds poll|list`: the configured RSS/Atom feeds."""

from __future__ import annotations

import sys

import click

from distributor.cli.base import Context, emit, pass_ctx


@click.group()
def feeds() -> None:
    """The RSS and Atom feeds of the config file ([[feeds]])."""


def _no_feeds(obj: Context) -> bool:
    if obj.settings.file.feeds:
        return False
    where = obj.settings.config or "the config file"
    click.echo(f"no feeds configured: add a [[feeds]] table with a url to {where}", err=True)
    return True


@feeds.command("poll")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@pass_ctx
def feeds_poll(obj: Context, as_json: bool) -> None:
    """Poll every configured feed once, now, and send its new items.

    Prints per feed how many items were new (sent), known (seen before) and
    skipped, and the error if it could not be read. Exit status 1 when any
    feed could not be read; the other feeds are polled all the same.
    """
    from distributor.inbound.feeds import poll_feed, unique_feeds
    from distributor.inbound.fetch import http_session

    if _no_feeds(obj):
        return
    results = []
    http = http_session()
    for feed in unique_feeds(obj.settings):
        result = poll_feed(obj.db, obj.settings, feed, http, obj.dispatcher, force=True)
        results.append(result.as_dict())

    def human(rows) -> None:
        for row in rows:
            line = (f"{row['url']}: {row['status']}, {row['new']} new, {row['known']} known, "
                    f"{len(row['skipped'])} skipped")
            click.echo(line + (f" — {row['error']}" if row["error"] else ""))
            for reason in row["skipped"]:
                click.echo(f"  skipped {reason}")

    emit(results, as_json, human)
    if any(row["status"] == "error" for row in results):
        sys.exit(1)


@feeds.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@pass_ctx
def feeds_list(obj: Context, as_json: bool) -> None:
    """Each feed: interval, last poll, status, items in the feed and known, last error."""
    from distributor.inbound.feeds import list_feeds

    if _no_feeds(obj):
        return
    rows = list_feeds(obj.db, obj.settings)

    def human(rows) -> None:
        from rich.console import Console
        from rich.table import Table

        table = Table("feed", "every", "status", "last poll", "items", "known", "reason")
        for row in rows:
            polled = row["last_poll_at"].strftime("%Y-%m-%d %H:%M:%S") if row[
                "last_poll_at"] else "never"
            table.add_row(row["url"], row["every"], row["status"], polled,
                          str(row["item_count"]), str(row["known"]), row["error"] or "")
        Console().print(table)

    emit(rows, as_json, human)
