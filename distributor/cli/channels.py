"""`distributor channels list|test` and `distributor preview channel`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from distributor.cli.base import Context, emit, pass_ctx
from distributor.cli.email import preview


@click.group()
def channels() -> None:
    """Messaging channels: WhatsApp, Telegram, Slack, Discord, webhooks."""


@channels.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@pass_ctx
def channels_list(obj: Context, as_json: bool) -> None:
    """Every configured channel: type, sections, rate, state and its last post."""
    from distributor.channels.admin import overview

    def table(rows) -> None:
        from rich.console import Console
        from rich.markup import escape
        from rich.table import Table

        if not rows:
            click.echo("no channels configured: add [[channels]] to the config file "
                       "(see docs/channels.md)")
            return
        out = Table("channel", "type", "sections", "rate", "state", "last post")
        for r in rows:
            state = r["state"] + (f": {r['reason']}" if r["reason"] else "")
            last = r["last_post"]
            last_text = f"{last['state']} {last['at'][:19]} {last['article']}" if last else "-"
            rate = r["rate"] + (" (default)" if r["rate_source"] == "default" else "")
            out.add_row(*(escape(cell) for cell in (
                r["name"], r["type"], ", ".join(r["sections"]) or "all", rate, state, last_text)))
        Console().print(out)

    emit(overview(obj.db, obj.settings), as_json, table)


@channels.command("test")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@pass_ctx
def channels_test(obj: Context, name: str, as_json: bool) -> None:
    """Send a test message to channel NAME now and show the service's answer.

    Exit status 1 when the service refused it. A channel that was disabled is
    enabled again when the test succeeds."""
    import requests

    from distributor.channels.admin import send_test

    result = send_test(obj.db, obj.settings, requests.Session(), name)

    def human(r) -> None:
        if r["ok"]:
            click.echo(f"{name}: {r['state']}" + (f", message id {r['remote_id']}"
                                                  if r["remote_id"] else ""))
            click.echo(f"answer: {json.dumps(r['answer'], ensure_ascii=False)[:2000]}")
            if r["reenabled"]:
                click.echo(f"{name} was disabled and is enabled again")
        else:
            wait = f" (retry after {r['retry_after']:.0f}s)" if r.get("retry_after") else ""
            click.echo(f"{name}: failed: {r['error']}{wait}", err=True)

    emit(result, as_json, human)
    if not result["ok"]:
        sys.exit(1)


@preview.command("channel")
@click.argument("name")
@click.option("--article", "guid", required=True, metavar="GUID", help="A published article.")
@click.option("--out", type=click.Path(dir_okay=False, writable=True),
              help="Also write the exact JSON body to FILE.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@pass_ctx
def preview_channel(obj: Context, name: str, guid: str, out: str | None, as_json: bool) -> None:
    """The text and JSON body a post of article GUID to channel NAME would send,
    with its length against the service's limit."""
    from distributor.channels.admin import preview as build

    data = build(obj.db, obj.settings, name, guid)
    if out:
        Path(out).write_text(json.dumps(data["payload"], ensure_ascii=False, indent=2) + "\n",
                             encoding="utf-8")

    def human(d) -> None:
        click.echo(d["text"])
        click.echo("-" * 40, err=True)
        note = " (shortened to fit)" if d["shortened"] else ""
        click.echo(f"{d['type']} {d['format']}: length {d['length']} of {d['limit']}{note}",
                   err=True)
        click.echo(f"POST {d['endpoint']}", err=True)
        click.echo(json.dumps(d["payload"], ensure_ascii=False, indent=2), err=True)
        if out:
            click.echo(f"body written to {out}", err=True)

    emit(data, as_json, human)
