"""The `distributor` command. Exit status: 0 success, 2 invalid input, usage or
configuration, 1 a runtime failure (database or broker unreachable)."""

from __future__ import annotations

import click

from distributor.cli.audience import lists, subscribers
from distributor.cli.base import Context, Group
from distributor.cli.channels import channels
from distributor.cli.email import digest, preview
from distributor.cli.feeds import feeds
from distributor.cli.monitor import failures, status
from distributor.cli.ops import api, beat, check, db, deliveries
from distributor.cli.publish import articles, publish
from distributor.cli.report import report
from distributor.cli.tokens import audit, tokens
from distributor.cli.workers import worker


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="distributor")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Send a newsroom's articles to email lists and messaging channels.

    Configuration comes from DISTRIBUTOR_* environment variables and the TOML
    file named by DISTRIBUTOR_CONFIG (default ./distributor.toml); see
    docs/configuration.md.
    """
    ctx.obj = Context()


for command in (db, publish, articles, lists, subscribers, digest, preview, channels, feeds,
                deliveries, status, failures, report, check, tokens, audit, worker, beat,
                api):
    cli.add_command(command)


def main() -> None:
    cli(prog_name="distributor")
