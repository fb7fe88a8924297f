"""The syntaxes settings are written in: durations, rates, addresses, mail and broker
URLs, UTM queries, secrets. Each is parsed or checked here, once; the errors never
repeat a value that may hold a password. The CLI and the list options use the same
parsers, so a value means the same wherever it is written.
"""

from __future__ import annotations

import base64
import re
from email.utils import parseaddr
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from pydantic import AfterValidator, BeforeValidator, SecretStr

MIN_SECRET_BYTES = 16
_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*/\s*(s|m|h)\s*$")


def parse_duration(text: str) -> float:
    """'90s', '5m', '2h', '1d' -> seconds."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)?\s*", str(text))
    if not match:
        raise ValueError(f"{text!r} is not a duration like 30s, 5m, 2h or 1d")
    number, unit = float(match.group(1)), match.group(2) or "s"
    return number * {"s": 1, "m": 60, "h": 3600, "d": 86400}[unit]


def parse_rate(text: str) -> tuple[float, float]:
    """'20/m' -> (20, 60): so many events per so many seconds."""
    match = _RATE.match(text)
    if not match or float(match.group(1)) <= 0:
        raise ValueError(f"{text!r} is not a rate like 20/m, 1/s or 100/h")
    return float(match.group(1)), {"s": 1.0, "m": 60.0, "h": 3600.0}[match.group(2)]


SMTP_SCHEMES = ("smtp", "smtp+starttls", "smtps")
REDIS_SCHEMES = ("redis://", "rediss://", "unix://", "sentinel://")
AMQP_SCHEMES = ("amqp://", "amqps://")
ADDRESS = re.compile(r"^[^@\s]+@[^@\s.]+(\.[^@\s.]+)*$")


def check_broker_url(url: str, schemes: tuple[str, ...]) -> None:
    """A URL of one of `schemes`; several sentinels are listed separated by ';'
    (sentinel://h1:26379;sentinel://h2:26379/0). Never repeats the URL: it may hold a
    password."""
    if not url.startswith(schemes):
        raise ValueError(f"must start with one of {', '.join(schemes)}")
    hosts = url.split(";")
    if len(hosts) > 1 and not all(h.startswith("sentinel://") for h in hosts):
        raise ValueError("only sentinel:// URLs list several hosts (separated by ';')")
    for host in hosts:
        try:
            parts = urlsplit(host)
            parts.port  # noqa: B018  (raises on a port that is not a number)
        except ValueError:
            raise ValueError("a port is not a number from 1 to 65535") from None
        if parts.scheme == "sentinel" and not parts.hostname:
            raise ValueError("each sentinel needs a host: sentinel://h1:26379;sentinel://h2:26379/0")


def check_smtp_url(url: str) -> None:
    """Refuse a mail URL the transport could not use. The message never repeats the URL:
    it may hold a password."""
    scheme, colon, rest = url.partition(":")
    if scheme == "maildir" and colon:
        if not rest:
            raise ValueError("maildir: needs a path, e.g. maildir:./var/outbox")
        return
    if scheme not in SMTP_SCHEMES or not rest.startswith("//"):
        shown = scheme if colon and re.fullmatch(r"[A-Za-z0-9+.-]{1,30}", scheme) else "?"
        raise ValueError(f"unknown scheme {shown!r}: use smtp://, smtp+starttls://, smtps:// "
                         "or maildir:PATH")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises on a port that is not a number)
    except ValueError:
        raise ValueError("the port is not a number from 1 to 65535") from None
    if not parts.hostname:
        raise ValueError(f"{scheme}:// needs a host, e.g. {scheme}://mail.example.org")


def check_from_address(value: str) -> None:
    """'Name <local@domain>' or 'local@domain', one address, no line breaks."""
    if re.search(r"[\r\n\x00]", value):
        raise ValueError("must be one line")
    address = parseaddr(value)[1]
    if not address or not ADDRESS.match(address) or value.count("@") != 1:
        raise ValueError(f"{value!r} is not an address like 'News <news@example.org>'")
    if not address.isascii():  # it is the envelope sender too (RFC 5321 4.1.2: ASCII)
        raise ValueError(f"{address!r}: write the address in ASCII (a domain in its IDNA "
                         "form, e.g. news@xn--bcher-kva.de)")


def format_duration(seconds: float) -> str:
    """86400 -> '1d', 300 -> '5m', 90 -> '90s': the shortest exact form."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def utm_query(value: str) -> str:
    """'utm_source=newsletter&utm_medium=email' -> the same, normalised; ValueError
    unless it is utm_ names only, each with a value."""
    try:
        pairs = parse_qsl(value.strip().lstrip("?"), strict_parsing=True)
    except ValueError:
        pairs = []
    if not pairs or len(value) > 500 or any(not k.startswith("utm_") or not v for k, v in pairs):
        raise ValueError("a query like utm_source=newsletter&utm_medium=email "
                         "(utm_ names only, each with a value)")
    return urlencode(pairs)


def _duration(value: Any) -> float:
    return float(value) if isinstance(value, int | float) else parse_duration(value)


def _rate(value: str) -> str:
    parse_rate(value)
    return value


def _smtp_url(value: SecretStr) -> SecretStr:
    check_smtp_url(value.get_secret_value())
    return value


# '30s', '5m', '2h', '1d' in the file; seconds (a float) in the program.
Duration = Annotated[float, BeforeValidator(_duration)]
# '20/m', '14/s': checked when read, kept as written (the limiters parse it).
Rate = Annotated[str, AfterValidator(_rate)]
# UTM parameters for article links, normalised.
Utm = Annotated[str, AfterValidator(utm_query)]
# smtp://, smtp+starttls://, smtps:// or maildir:PATH, checked without echoing it.
SmtpUrl = Annotated[SecretStr, AfterValidator(_smtp_url)]


def check_secret(value: str, webhook: bool = False) -> None:
    """Raise ValueError unless the secret holds at least MIN_SECRET_BYTES bytes of key.
    A webhook secret is 'whsec_' + base64: its decoded bytes count."""
    key = value.strip().encode()
    if webhook:
        try:
            key = base64.b64decode(value.strip().removeprefix("whsec_"), validate=True)
        except ValueError:
            raise ValueError("must be whsec_ followed by base64") from None
    if not key:
        raise ValueError("is empty; set a random value of at least "
                         f"{MIN_SECRET_BYTES} bytes, or leave it unset")
    if len(key) < MIN_SECRET_BYTES:
        raise ValueError(f"is too short ({len(key)} bytes); use at least {MIN_SECRET_BYTES} "
                         "random bytes")


def url_password(url: str) -> str | None:
    try:
        return urlsplit(url).password
    except ValueError:
        return None
