from __future__ import annotations

import click

from distributor.cli.base import Context, emit, pass_ctx, read_input


@click.command()
@click.argument("source", metavar="FILE|-")
@click.option("--format", "format_name", type=click.Choice(["json", "wordpress", "ghost"]),
              default="json", show_default=True,
              help="wordpress: a REST post object; ghost: a post.published webhook body.")
@pass_ctx
def publish(obj: Context, source: str, format_name: str) -> None:
    """Publish the article JSON in FILE (or stdin with -) and print its guid.

    The article is stored once by guid; its channel posts and alert emails are
    planned in the same transaction and handed to the workers. Publishing a
    known guid again prints the guid, says so, and sends nothing.
    """
    from distributor.inbound.publish import publish as publish_article
    from distributor.inbound.sources import convert

    data = convert(format_name, read_input(source, obj.settings.max_body_bytes))
    result = publish_article(obj.db, obj.settings, obj.dispatcher, data, source="cli")
    if not result.created:
        click.echo(result.guid)
        click.echo(f"already published: {result.guid} (nothing sent)", err=True)
        return
    if not result.enqueued:
        click.echo("warning: broker unreachable; the article is stored and goes out when "
                   "the sweeper next runs", err=True)
    if result.scheduled_for:
        click.echo(f"{result.status}: nothing goes before then", err=True)
    click.echo(result.guid)


@click.group()
def articles() -> None:
    """Published articles."""


@articles.command("unpublish")
@click.argument("guid")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@pass_ctx
def articles_unpublish(obj: Context, guid: str, as_json: bool) -> None:
    """Cancel what of the article GUID has not gone yet: all of it while it is
    embargoed, the queued part otherwise. What went stays sent."""
    from distributor.inbound.publish import unpublish

    result = unpublish(obj.db, guid)
    emit(result, as_json, lambda r: click.echo(
        f"{r['guid']}: {r['posts_cancelled']} channel posts and {r['sends_cancelled']} "
        "email sends cancelled"))
