"""`distributor digest send` and `distributor preview alert|digest`."""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import click

from distributor.cli.base import Context, emit, pass_ctx
from distributor.errors import InvalidInput
from distributor.states import SendState


def parse_since(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        since = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(f"--since: {value!r} is not an ISO date or time",
                           {"since": "not ISO 8601"}) from None
    return since if since.tzinfo else since.replace(tzinfo=UTC)


@click.group()
def digest() -> None:
    """Digest emails: what was published since a list's last digest."""


@digest.command("send")
@click.argument("list_name", metavar="LIST")
@click.option("--since", help="Take articles published after this ISO time "
                              "(default: since the list's last digest).")
@click.option("--dry-run", is_flag=True, help="Render it and count recipients; send nothing.")
@click.option("--wait", is_flag=True, help="Show progress until the send is done.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@pass_ctx
def digest_send(obj: Context, list_name: str, since: str | None, dry_run: bool, wait: bool,
                as_json: bool) -> None:
    """Send LIST's digest now, by hand (the schedule is not changed)."""
    from distributor.email.digests import send_now

    result = send_now(obj.db, obj.settings, obj.dispatcher, list_name, since=parse_since(since),
                      dry_run=dry_run)
    data = result.as_dict()
    if result.state == SendState.PLANNED and not result.enqueued:
        click.echo("warning: broker unreachable; the digest is planned and goes out when the "
                   "sweeper next runs", err=True)
    waited = wait and result.state == SendState.PLANNED
    if waited:
        data.update(_wait(obj, result.send_id, quiet=as_json))
    emit(data, as_json, lambda d: click.echo(
        f"digest {d['list']}: {d['state']}, {d['articles']} articles, "
        f"{d['recipients']} recipients" + (f", send {d['send_id']}" if d["send_id"] else "")
        + (f"; sent {d['sent']}, failed {d['failed']}" if waited else "")))


def _wait(obj: Context, send_id: int, quiet: bool, timeout: float = 3600) -> dict:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from distributor.monitor.deliveries import COUNTS, send_counts, send_report
    from distributor.states import SEND_OPEN
    from distributor.store import Send

    deadline = time.monotonic() + timeout
    with Progress(TextColumn("sending"), BarColumn(), MofNCompleteColumn(),
                  disable=quiet or not sys.stderr.isatty(), transient=True) as progress:
        task = None
        while time.monotonic() < deadline:
            with obj.db.session() as session:
                send = session.get(Send, send_id)
                report = send_report(send, "", send_counts(session, [send_id])[send_id])
            if task is None:
                task = progress.add_task("send", total=send.planned)
            progress.update(task, completed=report["sent"] + report["failed"] + report["skipped"])
            if send.state not in SEND_OPEN:
                break
            time.sleep(0.5)
    return {"state": report["state"], **{key: report[key] for key in COUNTS}}


@click.group()
def preview() -> None:
    """Exactly what would be sent, without sending it."""


def _write(out: str | None, result, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(result.as_dict(), indent=2))
        return
    if out:
        path = Path(out)
        path.write_text(result.html)
        path.with_suffix(".txt").write_text(result.text)
        path.with_suffix(".eml").write_bytes(result.raw)
        click.echo(f"wrote {path} (HTML), {path.with_suffix('.txt')} (text) and "
                   f"{path.with_suffix('.eml')} (the whole message)")
    for name, value in result.headers.items():
        click.echo(f"{name}: {value}")
    if not out:
        click.echo("\n" + result.text)


@preview.command("alert")
@click.option("--list", "list_name", required=True, help="The list it would go to.")
@click.option("--article", "guid", help="Article guid (default: the latest).")
@click.option("--out", help="Write the HTML here (plus .txt and .eml beside it).")
@click.option("--json", "as_json", is_flag=True, help="Print headers, text and HTML as JSON.")
@pass_ctx
def preview_alert_command(obj: Context, list_name: str, guid: str | None, out: str | None,
                          as_json: bool) -> None:
    """The alert email for one sample subscriber of the list."""
    from distributor.email.preview import preview_alert

    _write(out, preview_alert(obj.db, obj.settings, list_name, guid), as_json)


@preview.command("digest")
@click.option("--list", "list_name", required=True, help="The digest list.")
@click.option("--since", help="Articles after this ISO time (default: since the last digest).")
@click.option("--out", help="Write the HTML here (plus .txt and .eml beside it).")
@click.option("--json", "as_json", is_flag=True, help="Print headers, text and HTML as JSON.")
@pass_ctx
def preview_digest_command(obj: Context, list_name: str, since: str | None, out: str | None,
                           as_json: bool) -> None:
    """The next digest for one sample subscriber of the list."""
    from distributor.email.preview import preview_digest

    _write(out, preview_digest(obj.db, obj.settings, list_name, parse_since(since)), as_json)
