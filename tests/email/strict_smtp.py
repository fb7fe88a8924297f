"""A strict SMTP server on loopback: it holds the client to RFC 5321 and RFC 2920 and
notes every breach in `violations`, takes the unfavourable side where the RFCs allow
one, and can be told to refuse or to drop. It imports nothing from distributor.

Rules, each where it is enforced:
- commands may arrive before the previous reply only when PIPELINING was offered
  (RFC 2920 2, 3.1); `overtaken` names each command whose next one came before its reply;
- DATA is the last command of a group: the message waits for 354 (RFC 2920 3.1,
  RFC 5321 3.3);
- DATA with no accepted recipient gets 554 (RFC 5321 3.3), or with
  `accept_data_without_rcpt` a 354 all the same, as RFC 2920 2 (3) says some servers do:
  the client must then end it with a lone dot;
- message lines end in CRLF, no bare CR or LF (RFC 5321 2.3.8), at most 1000 octets
  with it (4.5.3.1.6); a leading dot is removed, "." alone ends the message (4.5.2);
- MAIL FROM:<…> and RCPT TO:<…> exactly (4.1.1.2, 4.1.1.3; no space after the colon,
  4.1.2); SIZE only when offered (RFC 1870 6), SMTPUTF8 only when offered and needed for
  a non-ASCII address (RFC 6531 3.4, 3.5); unknown parameters 555 (RFC 5321 4.1.1.11);
- MAIL inside a transaction and RCPT or DATA outside one: 503 (RFC 5321 4.1.4);
- each reply is written in two pieces: TCP keeps no boundaries, the client must buffer.
"""

from __future__ import annotations

import re
import select
import socket
import threading
from collections import deque
from dataclasses import dataclass

GRACE = 0.05  # how long a message sent too early is given to arrive before 354

_MAIL = re.compile(rb"MAIL FROM:<([^<>]*)>((?: [A-Za-z0-9]+(?:=[!-~]+)?)*)\Z", re.I)
_RCPT = re.compile(rb"RCPT TO:<([^<>]+)>\Z", re.I)


@dataclass
class Message:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes


class StrictSMTP:
    def __init__(self, pipelining: bool = True, size: int | None = 10_000_000,
                 smtputf8: bool = False):
        self.pipelining, self.size, self.smtputf8 = pipelining, size, smtputf8
        self.replies: dict[str, deque[str]] = {v: deque() for v in ("MAIL", "RCPT", "DATA",
                                                                      "DOT")}
        self.accept_data_without_rcpt = False
        self.drop_after_dot = 0  # transactions whose final dot gets no reply: the link drops
        self.messages: list[Message] = []
        self.violations: list[str] = []
        self.overtaken: list[str] = []
        self.commands: list[str] = []
        self.connections = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def __enter__(self) -> StrictSMTP:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.listener.close()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=Session(self, conn).run, daemon=True).start()


class Session:
    def __init__(self, server: StrictSMTP, conn: socket.socket):
        self.server, self.conn, self.buffer = server, conn, bytearray()
        self.mail_from: str | None = None
        self.rcpts: list[str] = []
        self.greeted = False

    def run(self) -> None:
        try:
            self.reply("220 strict.example ESMTP")
            while True:
                line = self.line()
                if line is None:
                    return
                verb = line[:4].upper().decode("ascii", "replace")
                self.server.commands.append(verb)
                if verb != "DATA" and self.waiting(0):  # DATA's own rule is below
                    self.server.overtaken.append(verb)
                    if not self.server.pipelining:
                        self.server.violations.append(f"a command sent before the reply to "
                                                      f"{verb}, PIPELINING not offered")
                if not self.command(verb, line):
                    return
        except OSError:
            return
        finally:
            self.conn.close()

    def waiting(self, timeout: float) -> bool:
        return bool(self.buffer) or bool(select.select([self.conn], [], [], timeout)[0])

    def line(self, limit: int = 512) -> bytes | None:
        while b"\n" not in self.buffer:
            chunk = self.conn.recv(65536)
            if not chunk:
                return None
            self.buffer += chunk
        end = self.buffer.index(b"\n")
        line, self.buffer[:end + 1] = bytes(self.buffer[:end + 1]), b""
        if not line.endswith(b"\r\n") or b"\r" in line[:-2]:
            self.server.violations.append(f"bare CR or LF in {line[:40]!r}")
        if len(line) > limit:
            self.server.violations.append(f"line of {len(line)} octets (limit {limit})")
        return line.rstrip(b"\r\n")

    def reply(self, text: str) -> None:
        data = text.encode() + b"\r\n"
        self.conn.sendall(data[:2])
        self.conn.sendall(data[2:])

    def forced(self, verb: str) -> str | None:
        queue = self.server.replies[verb]
        return queue.popleft() if queue else None

    def command(self, verb: str, line: bytes) -> bool:
        if verb in ("EHLO", "HELO"):
            self.greeted, self.mail_from, self.rcpts = True, None, []
            offers = (["PIPELINING"] * self.server.pipelining
                      + [f"SIZE {self.server.size}"] * bool(self.server.size)
                      + ["SMTPUTF8"] * self.server.smtputf8)
            lines = ["strict.example", *offers]
            for n, text in enumerate(lines):
                self.reply(f"250{'-' if n < len(lines) - 1 else ' '}{text}")
        elif verb == "MAIL":
            return self.mail(line)
        elif verb == "RCPT":
            return self.rcpt(line)
        elif verb == "DATA":
            return self.data()
        elif verb == "RSET":
            self.mail_from, self.rcpts = None, []
            self.reply("250 reset")
        elif verb == "NOOP":
            self.reply("250 OK")
        elif verb == "QUIT":
            self.reply("221 bye")
            return False
        else:
            self.reply("500 5.5.1 unknown command")
        return True

    def answer(self, text: str) -> bool:
        self.reply(text)
        return not text.startswith("421")  # 421: the server closes (RFC 5321 3.8)

    def mail(self, line: bytes) -> bool:
        found = _MAIL.match(line)
        if not self.greeted or self.mail_from is not None:
            return self.answer("503 5.5.1 bad sequence of commands")
        if not found:
            return self.answer("501 5.5.4 syntax: MAIL FROM:<address>")
        address, params = found.group(1), found.group(2).split()
        for param in params:
            name = param.split(b"=")[0].upper()
            if not ((name == b"SIZE" and self.server.size)
                    or (name == b"SMTPUTF8" and self.server.smtputf8)):
                return self.answer(f"555 5.5.4 {name.decode()} not offered")
        if not address.isascii() and not any(p.upper() == b"SMTPUTF8" for p in params):
            return self.answer("553 5.6.7 non-ASCII address without SMTPUTF8")
        forced = self.forced("MAIL")
        if forced:
            return self.answer(forced)
        self.mail_from = address.decode()
        return self.answer("250 2.1.0 OK")

    def rcpt(self, line: bytes) -> bool:
        found = _RCPT.match(line)
        if self.mail_from is None:
            return self.answer("503 5.5.1 need MAIL first")
        if not found:
            return self.answer("501 5.5.4 syntax: RCPT TO:<address>")
        forced = self.forced("RCPT")
        if forced:
            return self.answer(forced)
        self.rcpts.append(found.group(1).decode())
        return self.answer("250 2.1.5 OK")

    def data(self) -> bool:
        if self.mail_from is None:
            return self.answer("503 5.5.1 need MAIL first")
        forced = self.forced("DATA")
        if forced:
            return self.answer(forced)
        if not self.rcpts and not self.server.accept_data_without_rcpt:
            return self.answer("554 5.5.1 no valid recipients")
        if self.waiting(GRACE):
            self.server.violations.append("message sent before the 354 reply")
        self.reply("354 end with <CRLF>.<CRLF>")
        lines = []
        while True:
            line = self.line(limit=1000)
            if line is None:
                return False
            if line == b".":
                break
            lines.append(line[1:] if line.startswith(b".") else line)
        rcpts, self.mail_from, mail_from, self.rcpts = self.rcpts, None, self.mail_from, []
        if self.server.drop_after_dot:
            self.server.drop_after_dot -= 1
            return False
        if not rcpts:
            return self.answer("554 5.5.1 no valid recipients")
        forced = self.forced("DOT")
        if forced:
            return self.answer(forced)
        self.server.messages.append(Message(mail_from, rcpts, b"\r\n".join(lines) + b"\r\n"))
        return self.answer("250 2.0.0 queued")
