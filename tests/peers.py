"""Real peers for tests: an SMTP server (aiosmtpd) and an HTTP receiver, both on
loopback, both recording what they get, both told how to answer."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller


class QuietHTTPServer(ThreadingHTTPServer):
    """A client that hangs up mid-answer is normal here (timeouts are tested); the
    standard server would print a traceback into whatever captures stderr then."""

    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Received:
    mail_from: str
    rcpt_to: str
    data: bytes
    at: float = 0.0  # monotonic time the server took it

    @property
    def message(self):
        return message_from_bytes(self.data, policy=policy.default)


class SMTPHandler:
    """Records each message per recipient. `rcpt_replies` maps an address to a reply
    (e.g. '550 no such user'); `data_replies` is a queue of replies for DATA.

    DROP: the connection goes before the server took the message (nothing stored).
    ACCEPT_THEN_DROP: the server took the message, and the connection goes before the
    250 reaches the client. RFC 5321 section 6.1 makes the server responsible for a
    message once it has sent 250; a server that has queued the message and then loses
    the connection delivers it anyway (section 4.1.1.4 leaves the duplicate to the
    client, which cannot know): the unfavourable case, so the one this peer plays."""

    DROP = "drop the connection"
    ACCEPT_THEN_DROP = "accept, then drop the connection before the 250"

    def __init__(self):
        self.messages: list[Received] = []
        self.rcpt_replies: dict[str, str] = {}
        self.data_replies: deque[str] = deque()
        self.busy_rcpts = 0  # answer this many RCPTs (of any address) with 451
        # Above this many accepted messages in the last second, RCPT gets THROTTLING
        # (Amazon SES's reply at its maximum send rate); None: no limit.
        self.max_per_second: float | None = None
        self.throttled = 0
        self.accepted_at: list[float] = []  # monotonic time of each accepted message
        self.data_delay = 0.0  # seconds the server takes over each DATA (a slow provider)
        self.lock = threading.Lock()

    THROTTLING = "454 4.7.0 Throttling failure: Maximum sending rate exceeded."
    pipelining = True  # offered in EHLO, as Postfix, Exim and the big providers do

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        if not self.pipelining:
            return responses
        return [*responses[:-1], "250-PIPELINING", responses[-1]]  # aiosmtpd reads in order

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        reply = self.rcpt_replies.get(address.lower())
        if reply:
            return reply
        with self.lock:
            if self.busy_rcpts > 0:
                self.busy_rcpts -= 1
                return "451 4.3.2 try again later"
            if self.max_per_second is not None:
                now = time.monotonic()
                recent = sum(1 for at in self.accepted_at[-1000:] if at > now - 1.0)
                if recent >= self.max_per_second:
                    self.throttled += 1
                    return self.THROTTLING
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.data_delay:
            await asyncio.sleep(self.data_delay)
        reply = None
        with self.lock:
            if self.data_replies:
                reply = self.data_replies.popleft()
        if reply == self.DROP:  # the client has sent its message but never hears back
            server.transport.close()
            return "421 closing"
        if reply is not None and reply != self.ACCEPT_THEN_DROP:
            return reply
        self.accept(envelope)
        if reply == self.ACCEPT_THEN_DROP:
            server.transport.abort()  # the message is ours; the client never hears so
            return "421 closing"
        return "250 Message accepted"

    def accept(self, envelope) -> None:
        with self.lock:
            now = time.monotonic()
            for rcpt in envelope.rcpt_tos:
                self.messages.append(Received(envelope.mail_from, rcpt, envelope.content, now))
                self.accepted_at.append(now)

    def to(self, address: str) -> list[Received]:
        with self.lock:
            return [m for m in self.messages if m.rcpt_to.lower() == address.lower()]

    def most_in_any_window(self, seconds: float) -> int:
        """The most messages accepted within any `seconds` (a sliding window)."""
        with self.lock:
            times = sorted(self.accepted_at)
        most, start = 0, 0
        for end, at in enumerate(times):
            while at - times[start] >= seconds:
                start += 1
            most = max(most, end - start + 1)
        return most

    def counts(self, addresses) -> dict[str, int]:
        wanted = {a.lower(): 0 for a in addresses}
        with self.lock:
            for message in self.messages:
                if message.rcpt_to.lower() in wanted:
                    wanted[message.rcpt_to.lower()] += 1
        return wanted


class SMTPServer:
    """`options` go to aiosmtpd's SMTP. Its Controller offers SMTPUTF8 (RFC 6531) unless
    told enable_SMTPUTF8=False: then the server speaks strict ASCII (RFC 5321)."""

    def __init__(self, handler: SMTPHandler | None = None, **options):
        self.handler = handler or SMTPHandler()
        self.port = free_port()
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port, **options)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def __enter__(self) -> SMTPServer:
        self.controller.start()
        self.running = True
        return self

    def stop(self) -> None:
        """The server goes away (its open connections with it); safe to repeat."""
        if getattr(self, "running", False):
            self.running = False
            self.controller.stop()

    def __exit__(self, *exc) -> None:
        self.stop()


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float
    answered: int | None = None  # the status the receiver sent (None: not yet, or never)

    def json(self):
        return json.loads(self.body)


@dataclass
class Reply:
    status: int = 200
    body: bytes | dict | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


class HTTPReceiver:
    """A local HTTP server. Replies queued for a path with `reply_on` come first, then
    the shared `replies` queue; when both are empty it answers 200 {}."""

    def __init__(self):
        self.requests: list[Request] = []
        self.replies: deque[Reply] = deque()
        self.path_replies: dict[str, deque[Reply]] = {}
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                request = Request(self.command, self.path, dict(self.headers.items()), body,
                                  time.monotonic())
                with receiver.lock:
                    receiver.requests.append(request)
                    own = receiver.path_replies.get(self.path.split("?")[0])
                    if own:
                        reply = own.popleft()
                    else:
                        reply = receiver.replies.popleft() if receiver.replies else Reply()
                    # Taken when it arrives: a service that accepts and then answers late
                    # (a delay past the client's timeout) has still got the post.
                    request.answered = reply.status
                if reply.delay:
                    time.sleep(reply.delay)
                payload = reply.body if reply.body is not None else {}
                if isinstance(payload, dict):
                    payload = json.dumps(payload).encode()
                try:
                    self.send_response(reply.status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting: that was the point of the delay

            do_POST = do_GET = do_PUT = _handle

        self.server = QuietHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def reply_on(self, path: str, *replies: Reply) -> None:
        with self.lock:
            self.path_replies.setdefault(path, deque()).extend(replies)

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def to(self, path: str) -> list[Request]:
        with self.lock:
            return [r for r in self.requests if r.path.split("?")[0] == path]

    def accepted(self, path: str) -> list[Request]:
        """The requests to `path` the service took (answered 2xx, whether or not the
        client stayed to read the answer)."""
        return [r for r in self.to(path) if r.answered is not None and 200 <= r.answered < 300]

    def __enter__(self) -> HTTPReceiver:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


def wait_for(predicate, timeout: float = 20.0, interval: float = 0.05, what: str = "condition"):
    """Poll until predicate() is truthy; bounded in time."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


class OwnRedis:
    """A redis-server of the test's own, on a free loopback port. By default with the
    append-only file on (appendfsync always: every write is on disk before Redis answers
    it), so a restart brings back what it held: for faults that restart the broker.
    `durable=False` keeps nothing on disk; `extra` adds arguments (e.g. --replicaof)."""

    def __init__(self, directory, durable: bool = True, extra: tuple[str, ...] = (),
                 name: str = "redis"):
        self.directory = directory
        self.durable, self.extra, self.name = durable, extra, name
        self.port = free_port()
        self.process = None
        self.restarts = 0

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> OwnRedis:
        self.directory.mkdir(parents=True, exist_ok=True)
        keep = (["--appendonly", "yes", "--appendfsync", "always"] if self.durable
                else ["--appendonly", "no"])
        with (self.directory / f"{self.name}.log").open("ab") as log:
            self.process = subprocess.Popen(
                ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                 "--dir", str(self.directory), "--dbfilename", f"{self.name}.rdb",
                 "--appendfilename", f"{self.name}.aof", *keep, "--save", "",
                 "--protected-mode", "no", *self.extra],
                stdout=log, stderr=subprocess.STDOUT)
        wait_for(self._answers, timeout=10, what=f"the test's own redis-server ({self.name})")
        return self

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()  # SIGTERM: Redis flushes the AOF and exits
            self.process.wait(10)

    def kill(self) -> None:
        """SIGKILL: what a crashed host looks like (nothing flushed, nothing said)."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def restart(self) -> None:
        self.stop()
        self.start()
        self.restarts += 1

    def __enter__(self) -> OwnRedis:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
