"""Watching and repairing: `distributor status` and `distributor failures`."""

from __future__ import annotations

import time

import click

from distributor.cli.base import Context, emit, pass_ctx

WATCH_EVERY = 2.0


def _ago(seconds: float | None) -> str:
    if seconds is None:
        return "never"
    if seconds < 90:
        return f"{seconds:.0f}s ago"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min ago"
    return f"{seconds / 3600:.1f} h ago"


def _eta(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    return f"{seconds:.0f}s" if seconds < 120 else f"{seconds / 60:.0f} min"


def render_status(data: dict):
    """The snapshot as rich renderables (one Group), for print and for Live."""
    from rich.console import Group
    from rich.progress_bar import ProgressBar
    from rich.table import Table
    from rich.text import Text

    parts = [Text(f"distributor status at {data['at'][:19]}Z", style="bold")]
    if data["broker"] != "ok":
        parts.append(Text(f"broker: {data['broker']} — queues and workers unknown",
                          style="bold red"))
    else:
        queues = Table("queue", "waiting", "taken, not acked", title="queues",
                       title_justify="left")
        for q in data["queues"]:
            queues.add_row(q["name"], str(q["waiting"]), str(q["unacked"]))
        parts.append(queues)
        workers = Table("worker", "answers ping", "active tasks", "heartbeat",
                        title=f"workers online: {sum(w['replied'] for w in data['workers'])}",
                        title_justify="left")
        for w in data["workers"]:
            beat = w["heartbeat"]["seconds_ago"] if w["heartbeat"] else None
            workers.add_row(w["name"], "yes" if w["replied"] else "[red]no[/red]",
                            "" if w["active"] is None else str(w["active"]), _ago(beat))
        parts.append(workers if data["workers"] else Text("workers online: none",
                                                          style="bold red"))
        beat = data["beat"]
        parts.append(Text(f"last beat run: {_ago(beat['seconds_ago']) if beat else 'never'}"))
    for route in data.get("mail_routes", []):
        if route["state"] == "down":
            parts.append(Text(f"mail route {route['name']}: down: {route['reason']}", style="bold red"))
        elif route["carrying"]:
            parts.append(Text(f"mail route {route['name']}: carrying the mail"))
    sends = Table("send", "list", "state", "progress", "sent/planned", "failed", "rate/s",
                  "ETA", "why", title="sends, last 24 h", title_justify="left")
    for s in data["sends"]:
        sends.add_row(str(s["send_id"]), s["list"], s["state"],
                      ProgressBar(total=max(1, s["planned"]), completed=s["done"], width=20),
                      f"{s['sent']}/{s['planned']}", str(s["failed"]),
                      f"{s['rate_per_second']:.1f}" if s["rate_per_second"] else "–",
                      _eta(s["eta_seconds"]), (s["error"] or "")[:80])
    parts.append(sends if data["sends"] else Text("sends, last 24 h: none"))
    if data["channel_posts"]:
        posts = Table("id", "channel", "state", "attempts", "article", "error",
                      title="channel posts failed or waiting on a retry", title_justify="left")
        for p in data["channel_posts"]:
            posts.add_row(p["id"], p["channel"], p["state"], str(p["attempts"]),
                          (p["title"] or "")[:40], (p["error"] or "")[:80])
        parts.append(posts)
    for channel in data.get("disabled_channels", []):
        parts.append(Text(f"channel {channel['name']} ({channel['type']}) is "
                          f"{channel.get('state', 'disabled')}: "
                          f"{channel['reason']}", style="bold red"))
    if data["digests"]:
        digests = Table("digest list", "schedule", "timezone", "next run", title="digests",
                        title_justify="left")
        for d in data["digests"]:
            digests.add_row(d["list"], d["schedule"] or "", d["timezone"],
                            (d["next_run"] or "invalid schedule")[:16].replace("T", " "))
        parts.append(digests)
    if data.get("scheduled"):
        held = Table("scheduled for", "article", "guid", title="embargoed articles",
                     title_justify="left")
        for a in data["scheduled"]:
            held.add_row(a["scheduled_for"][:16].replace("T", " "), (a["title"] or "")[:50],
                         a["guid"][:60])
        parts.append(held)
    return Group(*parts)


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.option("--watch", is_flag=True, help="Redraw every 2 s until Ctrl-C.")
@pass_ctx
def status(obj: Context, as_json: bool, watch: bool) -> None:
    """Queues, workers, the sends of the last 24 hours with their progress, channel
    posts in trouble, the last beat run and each digest list's next run.

    When the broker (Redis) does not answer, this says so within a few seconds."""
    from rich.console import Console

    from distributor.monitor import snapshot

    def take() -> dict:
        return snapshot(obj.db, obj.celery, obj.settings)

    if not watch:
        data = take()
        emit(data, as_json, lambda d: Console().print(render_status(d)))
        return
    if as_json:
        raise click.UsageError("--watch and --json do not go together")
    from rich.live import Live

    try:
        with Live(render_status(take()), refresh_per_second=4, screen=False) as live:
            while True:
                time.sleep(WATCH_EVERY)
                live.update(render_status(take()))
    except KeyboardInterrupt:
        pass


@click.group()
def failures() -> None:
    """What failed and why; try it again.

    Ids: post:N (channel post), send:N (email send), batch:N (one batch of a send),
    delivery:N (a refused or bounced address: listed, never retried)."""


@failures.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@pass_ctx
def failures_list(obj: Context, as_json: bool) -> None:
    """Failed channel posts, sends, batches and deliveries, newest first."""
    from distributor.monitor.failures import list_failures

    items = list_failures(obj.db)

    def human(items) -> None:
        if not items:
            click.echo("no failures")
            return
        for i in items:  # blocks, not a table: error texts are long and must stay whole
            attempts = "" if i["attempts"] is None else f" · {i['attempts']} attempts"
            when = (i["at"] or "")[:19].replace("T", " ")
            click.echo(f"{i['id']:<14} {i['kind']}: {i['what']}")
            click.echo(f"{'':<14} {i['state']} at {when} UTC{attempts}"
                       + ("" if i["retryable"] else f" · {i.get('note') or 'not retried'}"))
            click.echo(f"{'':<14} error: {i['error'] or '(none recorded)'}")
        click.echo(f"\n{len(items)} failures. Retry one with `distributor failures retry ID`, "
                   "all with `--all`.")

    emit(items, as_json, human)


@failures.command("retry")
@click.argument("failure_id", required=False)
@click.option("--all", "retry_everything", is_flag=True, help="Retry every retryable failure.")
@pass_ctx
def failures_retry(obj: Context, failure_id: str | None, retry_everything: bool) -> None:
    """Re-open a failure (post:N, send:N or batch:N) and enqueue it again."""
    from distributor.monitor.failures import retry, retry_all

    if bool(failure_id) == retry_everything:
        raise click.UsageError("give one failure ID or --all")
    done = (retry_all(obj.db, obj.dispatcher) if retry_everything
            else [retry(obj.db, obj.dispatcher, failure_id)])
    for item in done:
        click.echo(f"{item.id}: {item.what} {item.status}")
    if not done:
        click.echo("nothing to retry")
