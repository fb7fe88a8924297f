"""The Jinja2 environments. Operators may put overrides in DISTRIBUTOR_TEMPLATES_DIR;
the built-in ones are searched after it: the top-level templates/ folder in a checkout,
shipped as distributor/_templates in an installed wheel.

Each environment speaks one language: `_("…")` in a template looks the text up in
templates/locale/<language>/LC_MESSAGES/messages.po (English and Hindi are shipped);
a text a catalog lacks stays English."""

from __future__ import annotations

import gettext
from datetime import UTC
from functools import lru_cache
from io import BytesIO
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.dates import format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined, select_autoescape

from distributor.errors import InvalidInput

_PACKAGE = Path(__file__).resolve().parent
BUILTIN = next((d for d in (_PACKAGE / "_templates", _PACKAGE.parent / "templates")
                if d.is_dir()), _PACKAGE.parent / "templates")


CATALOGS = BUILTIN / "locale"
LOCALES = ("en", "hi_IN")  # what `lists create --locale` offers


def check_locale(value: str) -> str:
    """'hi_IN', 'hi-IN' or 'en' -> the canonical name, when a catalog speaks its language."""
    try:
        locale = str(Locale.parse(value.strip().replace("-", "_")))
    except (UnknownLocaleError, ValueError, TypeError):
        locale = ""
    if not locale or not (CATALOGS / language(locale)).is_dir():
        raise InvalidInput(f"locale: {value!r} is not one of {', '.join(LOCALES)}",
                           {"locale": f"one of {', '.join(LOCALES)}"})
    return locale


def language(locale: str) -> str:
    return locale.split("_")[0]


@lru_cache(maxsize=8)
def translations(locale: str) -> gettext.NullTranslations:
    po = CATALOGS / language(locale) / "LC_MESSAGES" / "messages.po"
    if not po.is_file():
        return gettext.NullTranslations()
    with po.open("rb") as handle:
        catalog = read_po(handle, locale=language(locale))
    compiled = BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


@lru_cache(maxsize=16)
def environment(override: Path | None = None, autoescape: bool = True,
                locale: str = "en") -> Environment:
    loaders = [FileSystemLoader(str(override))] if override else []
    loaders.append(FileSystemLoader(str(BUILTIN)))
    env = Environment(
        extensions=["jinja2.ext.i18n"],
        loader=ChoiceLoader(loaders),
        autoescape=select_autoescape(["html", "html.j2"], default=False) if autoescape else False,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["date"] = lambda value, fmt="%d %B %Y": value.strftime(fmt) if value else ""
    env.install_gettext_translations(translations(locale), newstyle=True)  # type: ignore[attr-defined]
    env.globals["locale"] = locale
    env.filters["translate"] = translations(locale).gettext  # a text made in Python
    env.filters["when"] = lambda value, where="en": format_datetime(
        value, "dd MMMM y, HH:mm", tzinfo=UTC, locale=where) + " UTC"
    return env
