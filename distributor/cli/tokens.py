"""`distributor tokens create|list|revoke` (named API tokens with a role) and `distributor audit`."""

from __future__ import annotations

import click

from distributor.cli.base import Context, emit, pass_ctx
from distributor.states import Role


@click.group()
def tokens() -> None:
    """Named API tokens: publish (a CMS), viewer (read), admin (everything).

    DISTRIBUTOR_API_TOKEN keeps working as an admin token."""


@tokens.command("create")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice([r.value for r in Role]),
              help="publish: POST /v1/articles only; viewer: read; admin: everything.")
@pass_ctx
def tokens_create(obj: Context, name: str, role: str) -> None:
    """Make a token; it is printed once (only its hash is stored)."""
    from distributor.api.audit import record_cli
    from distributor.api.tokens import create_token

    token = create_token(obj.db, name, role)
    record_cli(obj.db, f"tokens create {name} --role {role}")
    click.echo(token)
    click.echo(f"token {name!r} ({role}) created; it is shown only now", err=True)


@tokens.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@pass_ctx
def tokens_list(obj: Context, as_json: bool) -> None:
    """Every named token: role, created, last used (never the token)."""
    from distributor.api.tokens import list_tokens

    def table(rows) -> None:
        if not rows:
            click.echo("no named tokens: `distributor tokens create NAME --role ROLE`")
            return
        for r in rows:
            click.echo(f"{r['name']}\t{r['role']}\tcreated {r['created_at'][:19]}\t"
                       f"last used {(r['last_used_at'] or 'never')[:19]}")

    emit(list_tokens(obj.db), as_json, table)


@tokens.command("revoke")
@click.argument("name")
@pass_ctx
def tokens_revoke(obj: Context, name: str) -> None:
    """Delete a token at once; its dashboard sessions end with it."""
    from distributor.api.audit import record_cli
    from distributor.api.tokens import revoke_token

    revoke_token(obj.db, name)
    record_cli(obj.db, f"tokens revoke {name}")
    click.echo(f"token {name!r} revoked")


@click.command()
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10_000),
              help="How many of the latest entries.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@pass_ctx
def audit(obj: Context, limit: int, as_json: bool) -> None:
    """The audit log: admin actions and sign-ins (who, what, when, from where), newest first."""
    from distributor.api.audit import recent

    def table(rows) -> None:
        if not rows:
            click.echo("no audit entries yet")
            return
        for r in rows:
            who = r["who"] + (f" ({r['role']})" if r["role"] else "")
            click.echo(f"{r['at'][:19]}\t{who}\t{r['action']}\t{r['status'] or '-'}\t{r['source']}")

    emit(recent(obj.db, limit), as_json, table)
