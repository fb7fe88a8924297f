"""Where email goes. A transport hands out connections; a batch keeps one open
for all its recipients and reconnects after a failure. smtplib opens the session and
smtp_client.py sends each message (pipelined); their errors are translated here, at
the edge:

    421, 4xx with 4.7.x, or a 4xx saying "throttl…"/"too many"   -> Throttled
    other 4xx anywhere (connect, MAIL, RCPT, DATA), a dropped link -> TransientError
    5xx on RCPT                                                    -> RecipientRefused
    other 5xx, an address SMTP cannot carry                        -> PermanentError

Addresses: the domain goes out in its ASCII (IDNA) form; a non-ASCII local part
only with SMTPUTF8 (RFC 6531), and only when the server offers it.
"""

from __future__ import annotations

import mailbox
import os
import re
import smtplib
import ssl
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlsplit

import idna

from distributor.email import smtp_client
from distributor.errors import (
    ConfigError,
    PermanentError,
    RecipientRefused,
    Throttled,
    TransientError,
    Unreachable,
)


class Connection(Protocol):
    def send(self, sender: str, recipient: str, message: bytes) -> None: ...

    def close(self) -> None: ...


class Transport(Protocol):
    description: str

    def connect(self) -> Connection: ...


def _reply(code: int, text: bytes | str) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return f"{code} {text}".strip()


# RFC 3463: 4.7.x is a security or policy status (rate limits use it); the words are
# what providers say (SES "Throttling failure", Postfix "too many connections").
_THROTTLING = re.compile(r"^4\.7\.\d{1,3}\b|throttl|too many|rate limit", re.IGNORECASE)


def transient(code: int, text: bytes | str, where: str = "") -> TransientError:
    """A 4xx reply (or 421 anywhere) as the error it means."""
    reply = _reply(code, text)
    message = f"{where}: {reply}" if where else reply
    if code == 421 or _THROTTLING.search(reply[4:]):
        return Throttled(message)
    return TransientError(message)


# What would end or break an SMTP command line if written into MAIL FROM:<…> or RCPT TO:<…>.
_UNSAFE_ADDRESS = re.compile(r"[\r\n\x00<>]")


def envelope_address(address: str) -> str:
    """The address as SMTP carries it: the domain in its IDNA form (RFC 5890)."""
    local, at, domain = address.rpartition("@")
    if not at or domain.isascii():
        return address
    try:
        return f"{local}@{idna.encode(domain, uts46=True).decode('ascii')}"
    except idna.IDNAError as exc:
        raise PermanentError(f"the domain of {address!r} has no IDNA form: {exc}") from None


class SMTPConnection:
    def __init__(self, transport: SMTPTransport):
        self.transport = transport
        self.smtp: smtplib.SMTP | None = None

    def _open(self) -> smtplib.SMTP:
        t = self.transport
        try:
            if t.tls == "smtps":
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(t.host, t.port, timeout=t.timeout,
                                                      context=ssl.create_default_context())
            else:
                smtp = smtplib.SMTP(t.host, t.port, timeout=t.timeout)
            smtp.ehlo()
            if t.tls == "starttls":
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if t.username:
                smtp.login(t.username, t.password or "")
        except smtplib.SMTPAuthenticationError as exc:
            raise PermanentError(f"SMTP login refused: {_reply(exc.smtp_code, exc.smtp_error)}")\
                from None
        except smtplib.SMTPResponseException as exc:
            if 500 <= exc.smtp_code < 600:
                raise TransientError(f"SMTP connect: {_reply(exc.smtp_code, exc.smtp_error)}")\
                    from None
            raise transient(exc.smtp_code, exc.smtp_error, "SMTP connect") from None
        except (OSError, smtplib.SMTPException) as exc:
            raise Unreachable(f"SMTP connect to {t.host}:{t.port} failed: "
                              f"{type(exc).__name__}: {exc}") from None
        return smtp

    def send(self, sender: str, recipient: str, message: bytes) -> None:
        rcpt = envelope_address(recipient)
        if self.smtp is None:
            self.smtp = self._open()
        utf8 = not (rcpt.isascii() and sender.isascii())
        if utf8 and not self.smtp.has_extn("smtputf8"):
            raise PermanentError("the address has a non-ASCII local part and the server "
                                 "does not offer SMTPUTF8 (RFC 6531)")
        if _UNSAFE_ADDRESS.search(sender) or _UNSAFE_ADDRESS.search(rcpt):
            raise PermanentError("the address cannot be written in SMTP: it holds a line "
                                 "break, NUL or angle bracket")
        try:
            smtp_client.send(self.smtp, sender, rcpt, message, utf8)
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = exc.recipients[rcpt]
            if code == 421:  # the server has closed: the next reader reconnects
                self._drop()
            if 500 <= code < 600:
                raise RecipientRefused(f"RCPT: {_reply(code, text)}") from None
            raise transient(code, text, "RCPT") from None
        except smtplib.SMTPServerDisconnected:
            self.smtp = None
            raise TransientError("SMTP server closed the connection") from None
        except smtplib.SMTPResponseException as exc:
            if exc.smtp_code == 421:
                self._drop()
            if 400 <= exc.smtp_code < 500 or exc.smtp_code < 400:
                raise transient(exc.smtp_code, exc.smtp_error) from None
            raise PermanentError(_reply(exc.smtp_code, exc.smtp_error)) from None
        except UnicodeError as exc:  # half a command may have gone: start afresh
            self._drop()
            raise PermanentError(f"the address cannot be written in SMTP: {exc.reason}") from None
        except (OSError, smtplib.SMTPException) as exc:
            self._drop()
            raise TransientError(f"SMTP: {type(exc).__name__}: {exc}") from None

    def _drop(self) -> None:
        if self.smtp is not None:
            try:
                self.smtp.close()
            except OSError:
                pass
        self.smtp = None

    def close(self) -> None:
        if self.smtp is not None:
            try:
                self.smtp.quit()
            except (OSError, smtplib.SMTPException):
                pass
        self._drop()


class SMTPTransport:
    def __init__(self, url: str, timeout: float = 30.0):
        parts = urlsplit(url)
        self.tls = {"smtp": None, "smtp+starttls": "starttls", "smtps": "smtps"}[parts.scheme]
        self.host = parts.hostname or "localhost"
        try:
            self.port = parts.port or {None: 25, "starttls": 587, "smtps": 465}[self.tls]
        except ValueError:
            raise ConfigError("DISTRIBUTOR_SMTP_URL: the port is not a number") from None
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.timeout = timeout
        self.description = f"{parts.scheme}://{self.host}:{self.port}"

    def connect(self) -> SMTPConnection:
        return SMTPConnection(self)

    def check(self) -> str:
        """Connect, EHLO, STARTTLS and AUTH as a batch would, then QUIT; say what was done.
        Raises the DeliveryError a batch would meet, naming the step."""
        connection = SMTPConnection(self)
        connection.smtp = connection._open()
        connection.close()
        steps = ["TLS", "EHLO"] if self.tls == "smtps" else ["EHLO"]
        if self.tls == "starttls":
            steps.append("STARTTLS")
        if self.username:
            steps.append(f"AUTH as {self.username}")
        return ", ".join(steps)


class MaildirConnection:
    def __init__(self, path: Path):
        self.box = mailbox.Maildir(path, create=True)

    def send(self, sender: str, recipient: str, message: bytes) -> None:
        try:
            self.box.add(b"Return-Path: <" + sender.encode() + b">\r\nDelivered-To: "
                         + recipient.encode() + b"\r\n" + message)
        except OSError as exc:
            raise TransientError(f"maildir: {exc.strerror}") from None

    def close(self) -> None:
        pass


class MaildirTransport:
    def __init__(self, path: str):
        self.path = Path(path)
        self.description = f"maildir:{self.path}"

    def connect(self) -> MaildirConnection:
        return MaildirConnection(self.path)

    def check(self) -> str:
        try:
            mailbox.Maildir(self.path, create=True)
        except OSError as exc:
            raise PermanentError(f"maildir {self.path}: {exc.strerror}") from None
        if not os.access(self.path / "tmp", os.W_OK):
            raise PermanentError(f"maildir {self.path}: not writable")
        return "writable"


def open_transport(url: str, timeout: float = 30.0) -> SMTPTransport | MaildirTransport:
    scheme = url.split(":", 1)[0]
    if scheme == "maildir":
        path = url.split(":", 1)[1]
        if not path:
            raise ConfigError("DISTRIBUTOR_SMTP_URL: maildir: needs a path, e.g. maildir:./var/outbox")
        return MaildirTransport(path)
    if scheme in ("smtp", "smtp+starttls", "smtps"):
        return SMTPTransport(url, timeout)
    raise ConfigError("DISTRIBUTOR_SMTP_URL: use smtp://, smtp+starttls://, smtps:// or maildir:")


__all__ = ["Connection", "MaildirTransport", "SMTPTransport", "Transport", "open_transport"]
