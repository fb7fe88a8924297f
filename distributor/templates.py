"""The Jinja2 environments. Operators may put overrides in DISTRIBUTOR_TEMPLATES_DIR;
the built-in ones are searched after it: the top-level templates/ folder in a checkout,
shipped as distributor/_templates in an installed wheel."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined, select_autoescape

_PACKAGE = Path(__file__).resolve().parent
BUILTIN = next((d for d in (_PACKAGE / "_templates", _PACKAGE.parent / "templates")
                if d.is_dir()), _PACKAGE.parent / "templates")


@lru_cache(maxsize=8)
def environment(override: Path | None = None, autoescape: bool = True) -> Environment:
    loaders = [FileSystemLoader(str(override))] if override else []
    loaders.append(FileSystemLoader(str(BUILTIN)))
    env = Environment(
        loader=ChoiceLoader(loaders),
        autoescape=select_autoescape(["html", "html.j2"], default=False) if autoescape else False,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["date"] = lambda value, fmt="%d %B %Y": value.strftime(fmt) if value else ""
    return env
