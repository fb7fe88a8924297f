"""Email: render once per send, fill per recipient.

`compile_email` runs Jinja2 and premailer once, with placeholders where the
recipient's details go, and prepares the MIME skeleton. `CompiledEmail.fill`
then costs a few string replacements and one quoted-printable encoding.
"""

from __future__ import annotations

import binascii
import html
import re
import secrets
import time
from dataclasses import dataclass
from email.header import Header
from email.utils import formataddr, formatdate, parseaddr
from typing import Any

from premailer import Premailer

from distributor.config import Settings
from distributor.templates import environment

NAME, EMAIL, UNSUBSCRIBE, MANAGE = "name", "email", "unsubscribe_url", "manage_url"
READER = "reader_path"  # "/<signed reader tag>" after tracked links, per-subscriber lists
_UNSAFE_HEADER = re.compile(r"[\r\n\x00]")


@dataclass(frozen=True)
class Recipient:
    subscriber_id: int
    email: str
    name: str
    unsubscribe_url: str
    manage_url: str = ""  # the reader's preference centre
    reader_tag: str = ""  # who clicked, on lists that track per subscriber


def _encode_header(value: str) -> str:
    value = _UNSAFE_HEADER.sub(" ", value)
    if value.isascii() and len(value) < 900:
        return value
    return Header(value, "utf-8", maxlinelen=76).encode(linesep="\r\n")


class WireBytes(bytes):
    """A message SMTP DATA can carry as it is: CRLF line ends only (RFC 5321 2.3.8) and
    no line that starts with a dot (so nothing to stuff, RFC 5321 4.5.2). `fill` makes
    these by construction; smtp_client.py sends them without scanning them again."""

    __slots__ = ()


_QP_LINE = 76  # RFC 2045 6.7 (5): encoded lines are at most 76 characters


def _escape_leading_dot(line: bytes) -> bytes:
    """A quoted-printable line that starts with "." with that dot written =2E, broken
    softly again if it grew past 76 characters, never inside an =XX escape."""
    line = b"=2E" + line[1:]
    if len(line) <= _QP_LINE:
        return line
    cut = _QP_LINE - 1  # room for the soft break's "="
    equals = line.rfind(b"=", cut - 2, cut)
    if equals != -1:
        cut = equals
    rest = line[cut:]
    return line[:cut] + b"=\r\n" + (_escape_leading_dot(rest) if rest.startswith(b".")
                                      else rest)


def _qp(text: str) -> bytes:
    """Quoted-printable with CRLF line ends and no line starting with a dot."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    body = binascii.b2a_qp(text.encode("utf-8"), istext=True, header=False)
    body = body.replace(b"\n", b"\r\n")
    if body.startswith(b".") or b"\n." in body:  # rare: only then line by line
        body = b"\r\n".join(_escape_leading_dot(line) if line.startswith(b".") else line
                             for line in body.split(b"\r\n"))
    return body


_SOFT_BREAK = b"=\r\n"


def new_slots() -> dict[str, str]:
    """Placeholders for the recipient's details, with a random part drawn per compile:
    article text (feeds, CMS posts) cannot contain them, so it cannot be filled per reader."""
    nonce = secrets.token_hex(16)
    return {key: f"%%{nonce}:{key}%%" for key in (NAME, EMAIL, UNSUBSCRIBE, MANAGE, READER)}


class _QPTemplate:
    """A body in quoted-printable, encoded once: literal runs as bytes, with the slots'
    positions noted. A soft line break on each side of a slot keeps every line short
    whatever fills it."""

    def __init__(self, text: str, slots: dict[str, str]):
        by_placeholder = {placeholder: key for key, placeholder in slots.items()}
        pattern = re.compile("(" + "|".join(re.escape(p) for p in by_placeholder) + ")")
        self.parts: list[bytes] = []
        self.slots: list[tuple[int, str]] = []  # (index in parts, slot name)
        for index, piece in enumerate(pattern.split(text)):
            if index % 2:
                self.slots.append((len(self.parts), by_placeholder[piece]))
                self.parts.append(b"")
            elif piece:
                self.parts.append(_qp(piece))
        self.used = {key for _, key in self.slots}

    def fill(self, values: dict[str, str]) -> bytes:
        # Each value encoded once: a tracked digest repeats the reader's tag in every link.
        encoded = {key: _SOFT_BREAK + _qp(value) + _SOFT_BREAK
                   for key, value in values.items() if key in self.used}
        parts = self.parts.copy()
        for index, key in self.slots:
            parts[index] = encoded[key]
        return b"".join(parts)


_date: tuple[int, str] = (0, "")


def _date_now() -> str:
    """The Date header of this second (RFC 5322 3.3), made once a second, not per reader."""
    global _date
    second = int(time.time())
    if _date[0] != second:
        _date = (second, formatdate(second, usegmt=True))
    return _date[1]


def from_domain(from_address: str) -> str:
    address = parseaddr(from_address)[1]
    return address.rpartition("@")[2] or "localhost"


class CompiledEmail:
    """One message, rendered once; `fill` gives each recipient's bytes."""

    def __init__(self, *, subject: str, html_body: str, text_body: str, from_address: str,
                 list_name: str, list_id: str, message_key: str,
                 unsubscribe_mailto: str | None, slots: dict[str, str],
                 reply_to: str | None = None, per_reader: bool = False):
        self.from_address = parseaddr(from_address)[1]
        self.domain = from_domain(from_address)
        self.message_key = message_key
        self.text = _QPTemplate(text_body, slots)
        self.html = _QPTemplate(html_body, slots)
        self.unsubscribe_mailto = unsubscribe_mailto
        self.per_reader = per_reader
        self.boundary = "=_" + secrets.token_hex(12)
        self.subject = subject
        self.head = (
            f"From: {_encode_header(from_address)}\r\n"
            + (f"Reply-To: {_encode_header(reply_to)}\r\n" if reply_to else "")
            + f"Subject: {_encode_header(subject)}\r\n"
            f"List-Id: {_encode_header(list_name)} <{list_id}>\r\n"
            "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
            "MIME-Version: 1.0\r\n"
            f'Content-Type: multipart/alternative; boundary="{self.boundary}"\r\n'
        ).encode()
        self.part_head = (
            f"--{self.boundary}\r\n"
            'Content-Type: text/plain; charset="utf-8"\r\n'
            "Content-Transfer-Encoding: quoted-printable\r\n\r\n").encode()
        self.html_head = (
            f"\r\n--{self.boundary}\r\n"
            'Content-Type: text/html; charset="utf-8"\r\n'
            "Content-Transfer-Encoding: quoted-printable\r\n\r\n").encode()
        self.tail = f"\r\n--{self.boundary}--\r\n".encode()

    def fill(self, recipient: Recipient) -> WireBytes:
        name = _UNSAFE_HEADER.sub(" ", recipient.name)
        unsubscribe = f"<{_UNSAFE_HEADER.sub(' ', recipient.unsubscribe_url)}>"
        if self.unsubscribe_mailto:
            unsubscribe += f",\r\n <mailto:{self.unsubscribe_mailto}?subject=unsubscribe>"
        email = _UNSAFE_HEADER.sub(" ", recipient.email)
        to = formataddr((name, email), charset="utf-8") if name else email
        headers = (
            f"To: {to}\r\n"
            f"Date: {_date_now()}\r\n"
            f"Message-ID: <{self.message_key}.{recipient.subscriber_id}@{self.domain}>\r\n"
            f"List-Unsubscribe: {unsubscribe}\r\n"
        ).encode()
        reader = f"/{recipient.reader_tag}" if self.per_reader and recipient.reader_tag else ""
        text = self.text.fill({UNSUBSCRIBE: recipient.unsubscribe_url, READER: reader,
                               MANAGE: recipient.manage_url, EMAIL: recipient.email,
                               NAME: name})
        body = self.html.fill({UNSUBSCRIBE: html.escape(recipient.unsubscribe_url),
                               READER: html.escape(reader),
                               MANAGE: html.escape(recipient.manage_url),
                               EMAIL: html.escape(recipient.email), NAME: html.escape(name)})
        return WireBytes(b"".join((self.head, headers, b"\r\n", self.part_head, text,
                                   self.html_head, body, self.tail)))


def inline_css(html_text: str) -> str:
    return Premailer(html_text, remove_classes=False, keep_style_tags=True,
                     strip_important=False, cssutils_logging_level="CRITICAL",
                     disable_validation=True, allow_network=False).transform()


def compile_email(settings: Settings, template: str, context: dict[str, Any], *,
                  subject: str, list_name: str, message_key: str,
                  from_address: str | None = None, reply_to: str | None = None,
                  per_reader: bool = False, locale: str = "en") -> CompiledEmail:
    """Render `email/<template>.html.j2` and `.txt.j2` once, with placeholders for the
    recipient, inline the CSS once, and build the MIME skeleton once."""
    env = environment(settings.templates_dir, locale=locale)
    slots = new_slots()
    context = {"web": False, "view_online_url": None, "transactional": False,
               "open_pixel": None,
               **context, "recipient": slots, "publisher": settings.publisher,
               "list_name": list_name, "public_url": settings.public_url}
    html_body = inline_css(env.get_template(f"email/{template}.html.j2").render(context))
    text_body = env.get_template(f"email/{template}.txt.j2").render(context)
    from_address = from_address or settings.from_address
    domain = from_domain(from_address)
    return CompiledEmail(
        subject=subject, html_body=html_body, text_body=text_body,
        from_address=from_address, list_name=list_name,
        list_id=f"{list_name.lower()}.{domain}", message_key=message_key,
        unsubscribe_mailto=settings.publisher.unsubscribe_mailto, slots=slots,
        reply_to=reply_to, per_reader=per_reader)
