"""`distributor lists …` and `distributor subscribers …`."""

from __future__ import annotations

import dataclasses
import io
import sys
from pathlib import Path

import click

from distributor.cli.base import Context, emit, pass_ctx
from distributor.errors import InvalidInput


def reader_options(command):
    """What readers meet, the same on `lists create` and `lists update`: click tracking,
    UTM parameters, the open pixel and the language."""
    for option in reversed([
        click.option("--tracking", type=click.Choice(["off", "aggregate", "per-subscriber"]),
                     help="Clicks: off (default; links go straight to the article), "
                          "aggregate (counts only) or per-subscriber (who clicked, deleted "
                          "on erase)."),
        click.option("--utm", metavar="QUERY",
                     help='UTM parameters added to article links, e.g. '
                          '"utm_source=newsletter&utm_medium=email" ("" removes them).'),
        click.option("--opens/--no-opens", "track_opens", default=None,
                     help="Count opens with a pixel (needs --tracking; unreliable: mail "
                          "clients load or block images at will)."),
        click.option("--locale", metavar="LOCALE",
                     help="The language of its emails and pages: en (default) or hi_IN."),
    ]):
        command = option(command)
    return command


@click.group()
def lists() -> None:
    """Mailing lists: instant (an email per article) or digest (on a schedule)."""


@lists.command("create")
@click.argument("name")
@click.option("--instant", is_flag=True, help="Email every matching article as it is published.")
@click.option("--schedule", metavar="CRON", help='Digest list: a cron line such as "0 7 * * *".')
@click.option("--timezone", "tz", default="UTC", show_default=True,
              help="IANA time zone the schedule runs in, e.g. Asia/Kolkata.")
@click.option("--section", "sections", multiple=True,
              help="Only articles of this section (repeatable; case-insensitive). "
                   "Without it the list gets every article.")
@click.option("--double-opt-in", is_flag=True, help="New subscribers must confirm by email.")
@click.option("--max-age", metavar="DURATION",
              help="Alerts: an article older than this when its email's turn comes is not "
                   "sent (marked expired). Default 6h.")
@click.option("--quiet", metavar="HH:MM-HH:MM",
              help="Alerts in this window (the list's time zone) wait for its end; "
                   'articles with "priority": "breaking" do not.')
@click.option("--from", "from_address", metavar="ADDR",
              help='This list\'s sender, e.g. "Morning Brief <brief@news.example.org>" '
                   "(default: DISTRIBUTOR_FROM).")
@click.option("--reply-to", metavar="ADDR", help="Where replies to this list's emails go.")
@click.option("--local-time", is_flag=True,
              help="Digest lists: send at the schedule's hour in each subscriber's own time "
                   "zone (subscribers without one: --timezone).")
@click.option("--public/--private", default=False, show_default=True,
              help="Public: readers find it on the web (sign-up page /lists/NAME/subscribe, "
                   "archive /archive/NAME, Atom feed, the preference centre).")
@reader_options
@pass_ctx
def lists_create(obj: Context, name: str, instant: bool, schedule: str | None, tz: str,
                 sections: tuple[str, ...], double_opt_in: bool, max_age: str | None,
                 quiet: str | None, from_address: str | None, reply_to: str | None,
                 local_time: bool, public: bool, tracking: str | None, utm: str | None,
                 track_opens: bool | None, locale: str | None) -> None:
    """Create the list NAME."""
    from distributor.audience.lists import create_list

    if not instant and not schedule:
        raise click.UsageError("give --instant or --schedule CRON")
    created = create_list(obj.db, name, instant=instant, schedule=schedule, timezone=tz,
                          sections=sections, double_opt_in=double_opt_in, max_age=max_age,
                          quiet=quiet, from_address=from_address, reply_to=reply_to,
                          local_time=local_time, public=public, tracking=tracking or "off",
                          utm=utm, track_opens=bool(track_opens), locale=locale or "en")
    click.echo(f"created {created.kind} list {created.name}" + _next_run(created))


@lists.command("update")
@click.argument("name")
@click.option("--schedule", metavar="CRON", help='A new cron line, e.g. "30 6 * * 1-5".')
@click.option("--timezone", "tz", help="A new IANA time zone for the schedule.")
@click.option("--max-age", metavar="DURATION", help="Alerts older than this are not sent.")
@click.option("--quiet", metavar="HH:MM-HH:MM", help='Quiet hours for alerts ("off" clears).')
@click.option("--from", "from_address", metavar="ADDR",
              help='This list\'s sender, "Name <addr@domain>"; "" goes back to DISTRIBUTOR_FROM.')
@click.option("--reply-to", metavar="ADDR", help='Where replies go; "" removes Reply-To.')
@click.option("--local-time/--list-time", "local_time", default=None,
              help="Send digests at the hour in each subscriber's own zone, or in the list's.")
@click.option("--public/--private", default=None,
              help="Serve (or stop serving) its sign-up page, web archive and Atom feed.")
@reader_options
@pass_ctx
def lists_update(obj: Context, name: str, schedule: str | None, tz: str | None,
                 max_age: str | None, quiet: str | None, from_address: str | None,
                 reply_to: str | None, local_time: bool | None, public: bool | None,
                 tracking: str | None, utm: str | None, track_opens: bool | None,
                 locale: str | None) -> None:
    """Change the list NAME in place: only what is given changes; its subscribers and
    history stay. Prints the next scheduled digest after the change."""
    from distributor.audience.lists import update_list

    senders = {k: v for k, v in (("from_address", from_address), ("reply_to", reply_to))
               if v is not None}
    updated = update_list(obj.db, name, schedule=schedule, timezone=tz, max_age=max_age,
                          quiet=quiet, local_time=local_time, public=public,
                          tracking=tracking, utm=utm, track_opens=track_opens, locale=locale,
                          **senders)
    click.echo(f"updated list {updated.name}" + _next_run(updated))


def _next_run(mailing_list) -> str:
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from distributor.email.digests import next_run

    if not mailing_list.schedule:
        return ""
    when = next_run(mailing_list, datetime.now(UTC)).astimezone(ZoneInfo(mailing_list.timezone))
    each = " in each subscriber's own zone" if mailing_list.local_time else ""
    return f"; next digest {when:%Y-%m-%d %H:%M} {mailing_list.timezone}{each}"


@lists.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@pass_ctx
def lists_list(obj: Context, as_json: bool) -> None:
    """Show every list with its kind, schedule, sections and active subscribers."""
    from distributor.audience.lists import list_lists

    rows = [dataclasses.asdict(r) for r in list_lists(obj.db)]

    def table(rows) -> None:
        if not rows:
            click.echo("no lists yet: distributor lists create NAME --instant")
            return
        from rich.console import Console
        from rich.table import Table

        out = Table("list", "kind", "schedule", "sections", "active", "readers")
        for r in rows:
            zone = "each reader's zone" if r["local_time"] else r["timezone"]
            schedule = f"{r['schedule']} ({zone})" if r["schedule"] else "-"
            readers = ("public" if r["public"] else "private") + \
                (f", clicks {r['tracking']}" if r["tracking"] != "off" else "") + \
                (f", {r['locale']}" if r["locale"] != "en" else "")
            out.add_row(r["name"], r["kind"], schedule, ", ".join(r["sections"]) or "all",
                        str(r["active"]), readers)
        Console().print(out)

    emit(rows, as_json, table)


@lists.command("delete")
@click.argument("name")
@click.confirmation_option(prompt="Delete the list, its subscriptions and its send history?")
@pass_ctx
def lists_delete(obj: Context, name: str) -> None:
    """Delete the list NAME (subscribers stay, their other lists too)."""
    from distributor.audience.lists import delete_list

    delete_list(obj.db, name)
    click.echo(f"deleted list {name}")


@click.group()
def subscribers() -> None:
    """Subscribers and their subscriptions."""


@subscribers.command("add")
@click.argument("email")
@click.option("--list", "list_name", required=True, help="The list to subscribe to.")
@click.option("--name", default="", help="The subscriber's name.")
@click.option("--section", "sections", multiple=True,
              help="Digest preference: only these sections (repeatable).")
@click.option("--timezone", "tz", metavar="TZ",
              help="Their IANA time zone, e.g. America/New_York: local-time digest lists "
                   "reach them at the list's hour there (default: the list's zone).")
@click.option("--resubscribe", is_flag=True,
              help="Add someone who unsubscribed from the list again (only with their consent).")
@pass_ctx
def subscribers_add(obj: Context, email: str, list_name: str, name: str,
                    sections: tuple[str, ...], tz: str | None, resubscribe: bool) -> None:
    """Subscribe EMAIL to a list (idempotent). Someone who unsubscribed is refused
    unless --resubscribe; a suppressed (erased, bounced, complained) address always is."""
    from distributor.audience.subscribers import add_subscriber, normalise_email

    added = add_subscriber(obj.db, email, list_name, name, sections, resubscribe=resubscribe,
                           timezone=tz)
    click.echo(f"{normalise_email(email)} on {list_name}: {added.outcome} "
               f"({added.subscription.status})")


@subscribers.command("import")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--resubscribe", is_flag=True,
              help="Put people who unsubscribed back on the lists the file names "
                   "(only with their consent).")
@click.option("--encoding", metavar="CHARSET",
              help="The file's charset when it is not UTF-8, e.g. cp1252 for Excel's plain CSV.")
@pass_ctx
def subscribers_import(obj: Context, file: str, resubscribe: bool,
                       encoding: str | None) -> None:
    """Import subscribers from a CSV file: email,name,lists[,sections[,timezone]].

    Several lists (and sections, a subscriber's digest preferences) are separated
    by ';'; timezone is an IANA name (local-time digests reach them at the list's
    hour there). UTF-8 is expected; a file in another charset (Excel's plain CSV is
    usually Windows-1252) is refused unless --encoding names it. Bad rows are reported by line
    number and skipped; good rows are imported. People who unsubscribed stay so
    unless --resubscribe; suppressed addresses are refused. Importing the same file
    again changes nothing.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from distributor.audience.bulk import decode_csv, import_csv

    if file == "-":
        data = sys.stdin.buffer.read()
    else:
        path = Path(file)
        if not path.is_file():
            raise InvalidInput(f"{file}: no such file", {"file": "no such file"})
        data = path.read_bytes()
    text, charset = decode_csv(data, encoding)
    total = max(0, text.count("\n") - 1)
    with Progress(TextColumn("importing"), BarColumn(), MofNCompleteColumn(),
                  transient=True, disable=not sys.stderr.isatty(), console=None) as progress:
        task = progress.add_task("import", total=total)
        report = import_csv(obj.db, io.StringIO(text, newline=""), resubscribe=resubscribe,
                            progress=lambda n: progress.advance(task, n))
    for line, error in report.errors:
        click.echo(f"line {line}: {error}", err=True)
    click.echo(f"imported {report.imported}, unchanged {report.unchanged}, "
               f"refused {len(report.errors)}"
               + (f", resubscribed {report.resubscribed}" if report.resubscribed else "")
               + (f", kept unsubscribed {report.kept_unsubscribed} (give --resubscribe to add "
                  "them again)" if report.kept_unsubscribed else ""))
    if report.errors and not (report.imported or report.unchanged):
        sys.exit(2)


@subscribers.command("list")
@click.option("--list", "list_name", help="Only this list.")
@click.option("--status", help="unconfirmed, active, unsubscribed, bounced or complained.")
@click.option("--limit", default=100, show_default=True, help="Rows per page (max 1000).")
@click.option("--after", default=0, help="Page on: the last id of the previous page.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@pass_ctx
def subscribers_list(obj: Context, list_name: str | None, status: str | None, limit: int,
                     after: int, as_json: bool) -> None:
    """Subscriptions, a page at a time, ordered by subscriber id."""
    from rich.console import Console
    from rich.table import Table

    from distributor.audience.subscribers import list_subscribers

    rows = list_subscribers(obj.db, list_name, status, limit, after)

    def table(rows) -> None:
        out = Table("id", "email", "name", "list", "status", "sections")
        for r in rows:
            out.add_row(str(r["id"]), r["email"], r["name"], r["list"], r["status"],
                        ", ".join(r["sections"]) or "all")
        Console().print(out)
        if len(rows) == limit:
            click.echo(f"more: --after {rows[-1]['id']}", err=True)

    emit(rows, as_json, table)


@subscribers.command("show")
@click.argument("email")
@click.option("--limit", default=100, show_default=True, help="At most this many events.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@pass_ctx
def subscribers_show(obj: Context, email: str, limit: int, as_json: bool) -> None:
    """One reader: their lists, whether the address is suppressed (and why), and every
    bounce and complaint received for it, newest first, with the raw reason."""
    from rich.console import Console
    from rich.table import Table

    from distributor.audience.bounces import events_of

    if not 1 <= limit <= 1000:
        raise InvalidInput("limit: between 1 and 1000", {"limit": "between 1 and 1000"})

    def human(found: dict) -> None:
        click.echo(f"{found['email']} (id {found['id']})"
                   + (f", suppressed: {found['suppressed']}" if found["suppressed"] else ""))
        lists = Table("list", "status", "sections")
        for row in found["subscriptions"]:
            lists.add_row(row["list"], row["status"], ", ".join(row["sections"]) or "all")
        Console().print(lists)
        if not found["events"]:
            click.echo("no bounces or complaints")
            return
        events = Table("at", "kind", "status", "source", "send", "reason")
        for e in found["events"]:
            events.add_row(e["at"][:19], e["kind"], e["status"] or "", e["source"],
                           str(e["send_id"] or ""), e["reason"][:200])
        Console().print(events)

    emit(events_of(obj.db, email, limit), as_json, human)


@subscribers.command("remove")
@click.argument("email")
@click.option("--list", "list_name", help="Only from this list (default: every list).")
@click.option("--erase", is_flag=True,
              help="Delete the person entirely (GDPR); a hash of the address stays suppressed.")
@pass_ctx
def subscribers_remove(obj: Context, email: str, list_name: str | None, erase: bool) -> None:
    """Unsubscribe EMAIL, or erase it with --erase."""
    from distributor.audience.subscribers import remove_subscriber

    click.echo(f"{email}: {remove_subscriber(obj.db, email, list_name, erase)}")


@subscribers.command("export")
@click.option("--list", "list_name", help="Only this list.")
@click.option("--out", type=click.Path(dir_okay=False, allow_dash=True), default="-",
              help="File to write (default: stdout).")
@pass_ctx
def subscribers_export(obj: Context, list_name: str | None, out: str) -> None:
    """Active subscribers as CSV (email,name,lists), ready for `subscribers import`."""
    from distributor.audience.bulk import export_csv

    if out == "-":
        count = export_csv(obj.db, sys.stdout, list_name)
    else:
        with open(out, "w", newline="") as handle:
            count = export_csv(obj.db, handle, list_name)
    click.echo(f"exported {count}", err=True)
