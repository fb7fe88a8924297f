from __future__ import annotations

import click

from distributor.cli.base import Context, pass_ctx, read_input


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
    click.echo(result.guid)
