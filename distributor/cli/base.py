"""What every command shares: the lazily built context, error mapping, input and output.

Commands import what they need when they run, and this module imports nothing heavy,
so `distributor --help` and `--version` answer at once."""

from __future__ import annotations

import json
import sys
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import click

from distributor.errors import ConfigError, DistributorError, InvalidInput, Unavailable

if TYPE_CHECKING:
    from distributor.config import Settings


class Context:
    """What commands share, built on first use so that --help needs no config."""

    @cached_property
    def settings(self) -> Settings:
        from distributor.bootstrap import load_settings
        from distributor.logs import setup_logging

        settings = load_settings()
        setup_logging(settings)
        return settings

    @cached_property
    def db(self):
        from distributor.store import Database

        db = Database(self.settings.database_url.get_secret_value())
        if db.is_sqlite:
            db.ensure_schema()  # a local SQLite file is made ready on first use
        return db

    @cached_property
    def celery(self):
        from tasks.app import make_app

        return make_app(self.settings)

    @cached_property
    def dispatcher(self):
        from tasks.dispatch import CeleryDispatcher

        return CeleryDispatcher(self.celery)


class Group(click.Group):
    """Turns our errors into one line on stderr and the documented exit status."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (ConfigError, InvalidInput) as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)
        except Unavailable as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)
        except DistributorError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)
        except Exception as exc:
            if not database_error(exc):
                raise
            click.echo(f"error: database: {db_hint(exc)}", err=True)
            sys.exit(1)


def database_error(exc: Exception) -> bool:
    """The database could not be reached or lacks its tables. Asked without importing
    SQLAlchemy: a command that never loaded it cannot have raised its errors."""
    errors = sys.modules.get("sqlalchemy.exc")
    return errors is not None and isinstance(exc, errors.OperationalError | errors.ProgrammingError)


def db_hint(exc: Exception) -> str:
    text = str(getattr(exc, "orig", exc)).splitlines()[0]
    if "no such table" in text or "does not exist" in text:
        return f"{text} (run `distributor db upgrade` first)"
    return text


pass_ctx = click.make_pass_decorator(Context)


def emit(data, as_json: bool, human) -> None:
    if as_json:
        click.echo(json.dumps(data, indent=2, default=str))
    else:
        human(data)


def read_input(source: str, limit: int) -> bytes:
    """A file or stdin, refused past `limit` bytes without reading it all."""
    if source == "-":
        data = sys.stdin.buffer.read(limit + 1)
    else:
        path = Path(source)
        if not path.is_file():
            raise InvalidInput(f"{source}: no such file", {"file": "no such file"})
        with path.open("rb") as handle:
            data = handle.read(limit + 1)
    if len(data) > limit:
        raise InvalidInput(f"input is larger than {limit} bytes", {"body": "too large"})
    return data
