"""Operating the service: db, deliveries, and the beat and api processes."""

from __future__ import annotations

import os
import sys

import click

from distributor.cli.base import Context, db_hint, emit, pass_ctx
from distributor.errors import InvalidInput, Unavailable


@click.group()
def db() -> None:
    """The database schema."""


@db.command("upgrade")
@pass_ctx
def db_upgrade(obj: Context) -> None:
    """Create or migrate the schema to the latest version (safe to repeat)."""
    from sqlalchemy.exc import OperationalError

    from distributor.store import Database

    database = Database(obj.settings.database_url.get_secret_value())
    try:
        database.upgrade()
    except OperationalError as exc:
        raise Unavailable(f"database does not answer: {db_hint(exc)}") from None
    click.echo("database is up to date")


@db.command("prune")
@click.option("--older-than", metavar="DURATION",
              help="Sends that ended longer ago than this (default: DISTRIBUTOR_LEDGER_RETENTION, "
                   "30d).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@pass_ctx
def db_prune(obj: Context, older_than: str | None, as_json: bool) -> None:
    """Roll the per-recipient ledger rows of long-finished sends up into per-send figures
    and delete them (failures and bounces keep their rows). Reports keep their numbers;
    a pruned send can no longer be retried. Beat does this once a day."""
    from datetime import UTC, datetime

    from distributor.email.ledger import prune
    from distributor.values import parse_duration

    try:
        retention = parse_duration(older_than) if older_than else obj.settings.ledger_retention
    except ValueError as exc:
        raise InvalidInput(f"--older-than: {exc}", {"older_than": str(exc)}) from None
    result = prune(obj.db, retention, datetime.now(UTC))
    emit({"sends": result.sends, "rows": result.rows}, as_json, lambda r: click.echo(
        f"pruned {r['rows']:,} ledger rows of {r['sends']:,} sends"))


@click.command()
@click.argument("guid")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@pass_ctx
def deliveries(obj: Context, guid: str, as_json: bool) -> None:
    """What happened to the article GUID: each channel post, and each send's
    planned / sent / failed counts."""
    from distributor.monitor.deliveries import COUNTS
    from distributor.monitor.deliveries import deliveries as report

    data = report(obj.db, guid)

    def human(data) -> None:
        from rich.console import Console
        from rich.table import Table

        console = Console()
        console.print(f"[bold]{data['title']}[/bold]\n{data['url']}")
        if data["scheduled_for"]:
            console.print(f"embargoed: scheduled for {data['scheduled_for']}")
        posts = Table("channel", "state", "attempts", "remote id", "error", title="channels")
        for p in data["channels"]:
            posts.add_row(p["channel"], p["state"], str(p["attempts"]), p["remote_id"] or "",
                          p["error"] or "")
        sends = Table("list", "kind", "state", *COUNTS, "why", title="emails")
        for s in data["sends"]:
            sends.add_row(s["list"], s["kind"], s["state"], *(str(s[k]) for k in COUNTS),
                          s["error"] or "")
        console.print(posts if data["channels"] else "no channel posts")
        console.print(sends if data["sends"] else "no email sends")

    emit(data, as_json, human)


@click.command()
@click.pass_obj
def check(obj: Context) -> None:
    """Can this configuration work? Checks the settings, then connects to the SMTP
    server (EHLO, STARTTLS and AUTH when configured), Redis and the database: one line
    each. Exit status 2 when anything fails."""
    from distributor.errors import ConfigError
    from distributor.monitor.check import check_all

    try:
        settings = obj.settings
    except ConfigError as exc:
        click.echo(f"config: FAILED: {exc}")
        sys.exit(2)
    click.echo(f"config: ok: {settings.config or 'no config file'}")
    findings = check_all(settings)
    secrets = settings.secret_values()
    for finding in findings:
        click.echo(finding.line(secrets))
    if not all(f.ok for f in findings):
        sys.exit(2)


def _exec_celery(args: list[str]) -> None:
    os.execv(sys.executable, [sys.executable, "-m", "celery", "-A", "tasks", *args])


@click.command(context_settings={"ignore_unknown_options": True})
@click.argument("celery_args", nargs=-1, type=click.UNPROCESSED)
@pass_ctx
def beat(obj: Context, celery_args) -> None:
    """Run the scheduler in the foreground: the sweeper every minute and the digests.

    A thin wrapper over `celery -A tasks beat`; extra arguments go to celery."""
    schedule = obj.settings.var_dir / "celerybeat-schedule"
    obj.settings.var_dir.mkdir(parents=True, exist_ok=True)
    _exec_celery(["beat", "--schedule", str(schedule), "--loglevel", obj.settings.log_level,
                  *celery_args])


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to listen on.")
@pass_ctx
def api(obj: Context, host: str, port: int) -> None:
    """Serve the HTTP API (publish hook, admin API, unsubscribe pages) in the foreground."""
    import uvicorn

    from distributor.api import create_app

    app = create_app(obj.settings, obj.db, obj.dispatcher)
    uvicorn.run(app, host=host, port=port, log_level=obj.settings.log_level.lower(),
                proxy_headers=True, log_config=None)  # distributor.logs set it up
