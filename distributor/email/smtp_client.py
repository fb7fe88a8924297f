"""One SMTP mail transaction, faster than smtplib's sendmail and failing the same way.

smtplib still opens the session (connect, TLS, EHLO, STARTTLS, AUTH: once per
connection). Each message then goes out here:

- MAIL, RCPT and DATA in one write when the server offers PIPELINING (RFC 2920),
  their replies read strictly in order, every one of them (RFC 2920 3.1); one command
  at a time otherwise;
- the message as it is when message.py prepared it (`WireBytes`: CRLF line ends, no
  line starting with a dot), else with its line ends made CRLF and its leading dots
  doubled (RFC 5321 4.5.2); smtplib scans every message for dots with a regex;
- the addresses as given (transport.py checked them), where smtplib parses both
  with email.utils on every send.

Failures raise the exceptions smtplib's sendmail raises in the same case, after the
same clean-up (421 closes the connection, any other refusal resets the transaction),
so transport.py maps them to our errors in one place.
"""

from __future__ import annotations

import re
import smtplib

from distributor.email.message import WireBytes

_LINE_END = re.compile(rb"\r\n|\r|\n")


def for_data(message: bytes) -> bytes:
    """The message as DATA carries it, ended by the CRLF.CRLF that closes DATA."""
    if type(message) is not WireBytes:
        message = _LINE_END.sub(b"\r\n", message).replace(b"\r\n.", b"\r\n..")
        if message.startswith(b"."):
            message = b"." + message
    if not message.endswith(b"\r\n"):
        message += b"\r\n"
    return message + b".\r\n"


def send(smtp: smtplib.SMTP, sender: str, recipient: str, message: bytes,
         utf8: bool = False) -> None:
    """Send one message to one recipient on an open session, or raise as sendmail would.
    `utf8`: the addresses need SMTPUTF8 (the caller has checked the server offers it)."""
    options = b""
    if smtp.does_esmtp and smtp.has_extn("size"):  # RFC 1870: refused up front if too big
        options += b" SIZE=%d" % len(message)
    if utf8:
        options += b" SMTPUTF8"
    encoding = "utf-8" if utf8 else "ascii"
    commands = (b"MAIL FROM:<" + sender.encode(encoding) + b">" + options + b"\r\n",
                b"RCPT TO:<" + recipient.encode(encoding) + b">\r\n",
                b"DATA\r\n")
    data = for_data(message)
    if smtp.does_esmtp and smtp.has_extn("pipelining"):
        smtp.send(b"".join(commands))
        replies = _replies(smtp, 3)
    else:
        replies = []
        for command, wanted in zip(commands, (250, 250, 354), strict=True):
            smtp.send(command)
            replies.append(smtp.getreply())
            if replies[-1][0] not in (wanted, 251):
                break
    _check(smtp, sender, recipient, replies)
    smtp.send(data)
    code, text = smtp.getreply()
    if code != 250:
        _end(smtp, code)
        raise smtplib.SMTPDataError(code, text)


def _replies(smtp: smtplib.SMTP, count: int) -> list[tuple[int, bytes]]:
    """Up to `count` replies in order; after a 421 the server closes, so stop there."""
    replies: list[tuple[int, bytes]] = []
    try:
        while len(replies) < count and (not replies or replies[-1][0] != 421):
            replies.append(smtp.getreply())
    except smtplib.SMTPServerDisconnected:
        if not replies or all(code in (250, 251) for code, _ in replies):
            raise
        replies.append((421, b"closed the connection"))  # the refusal before it says why
    return replies


def _check(smtp: smtplib.SMTP, sender: str, recipient: str,
           replies: list[tuple[int, bytes]]) -> None:
    """Raise for the first refusal, as sendmail would for its command."""
    mail, rcpt, data = (replies + [(0, b"")] * 3)[:3]
    if mail[0] == 250 and rcpt[0] in (250, 251) and data[0] == 354:
        return
    if data[0] == 354:  # accepted after a refusal: an empty message ends it (RFC 2920 3.1)
        smtp.send(b".\r\n")
        data = smtp.getreply()
    if mail[0] != 250:
        _end(smtp, mail[0])
        raise smtplib.SMTPSenderRefused(mail[0], mail[1], sender)
    if rcpt[0] not in (250, 251):
        _end(smtp, rcpt[0])
        raise smtplib.SMTPRecipientsRefused({recipient: rcpt})
    _end(smtp, data[0])
    raise smtplib.SMTPDataError(*data)


def _end(smtp: smtplib.SMTP, code: int) -> None:
    """After a refusal: a 421 means the server is closing, anything else leaves a
    transaction to reset, as sendmail does."""
    if code == 421 or smtp.sock is None:
        smtp.close()
        return
    try:
        smtp.rset()
    except smtplib.SMTPServerDisconnected:
        pass
