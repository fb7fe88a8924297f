"""`distributor report list NAME --since 7d`: what a list did, in figures."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from distributor.cli.base import Context, emit, pass_ctx
from distributor.states import DeliveryState

FIGURES = (DeliveryState.SENT, DeliveryState.FAILED, DeliveryState.BOUNCED)


@click.group()
def report() -> None:
    """Figures of what was sent and what readers did with it."""


def _rate(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def _human(data: dict) -> None:
    click.echo(f"list {data['list']} ({data['kind']}, tracking {data['tracking']}) "
               f"since {data['since'][:16]}Z")
    click.echo(f"  editions {data['editions']}  "
               + "  ".join(f"{state} {data[state]}" for state in FIGURES))
    clickers = "" if data["unique_clickers"] is None else \
        f"  readers who clicked {data['unique_clickers']}"
    click.echo(f"  clicks {data['clicks']} ({_rate(data['click_rate'])} of emails sent)"
               + clickers)
    if data["opens_counted"]:
        click.echo(f"  opens {data['opens']} (a pixel: many clients block it, some load "
                   "it unread; read it as a floor, not a count)")
    click.echo("  day        " + "".join(f"{state:>9}" for state in FIGURES) + "   clicks")
    for row in data["by_day"]:
        click.echo(f"  {row['day']} " + "".join(f"{row[state]:>9}" for state in FIGURES)
                   + f"{row['clicks']:>9}")
    if data["top_articles"]:
        click.echo("  top articles by clicks:")
        for row in data["top_articles"]:
            click.echo(f"  {row['clicks']:>6}  {row['title']}")
    compare = data["compare"]
    click.echo(f"  all tracked lists: instant {_rate(compare['instant']['click_rate'])} "
               f"clicks per email, digest {_rate(compare['digest']['click_rate'])}")
    if data["tracking"] == "off":
        click.echo("  (this list does not track clicks: `distributor lists update "
                   f"{data['list']} --tracking aggregate`)")


@report.command("list")
@click.argument("name")
@click.option("--since", default="7d", show_default=True, metavar="DURATION",
              help="How far back: 24h, 7d, 30d (at most 366d).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_ctx
def report_list(obj: Context, name: str, since: str, as_json: bool) -> None:
    """Sends, delivery, bounces, clicks per day, the most clicked articles, and instant
    against digest lists, for the list NAME."""
    from distributor.monitor.report import list_report, parse_since

    now = datetime.now(UTC)
    emit(list_report(obj.db, name, parse_since(since, now), now), as_json, _human)
