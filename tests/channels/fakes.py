"""Local stand-ins for the services, written from each service's own documentation
(cited beside each rule), never from our code: nothing here imports distributor.
Where a document leaves room, a fake takes the side less favourable to us
(UTF-16 lengths, the stricter reading). Each refuses in the service's own words
where those are documented, and answers a rate limit with its own retry-after form.
Loopback only. The services: fake_whatsapp (WAHA, Whapi), fake_telegram,
fake_webhooks (Slack, Discord); how a reader sees formatted text: reading."""

from __future__ import annotations

import itertools
import json
import math
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler

from tests.peers import QuietHTTPServer, Request

Answer = tuple[int, dict, bytes]


def as_json(status: int, body, headers: dict | None = None) -> Answer:
    headers = {"Content-Type": "application/json", **(headers or {})}
    return status, headers, json.dumps(body).encode()


def as_text(status: int, body: str, headers: dict | None = None) -> Answer:
    return status, {"Content-Type": "text/plain", **(headers or {})}, body.encode()


class FakeService:
    """A threaded HTTP server; subclasses implement `handle(request) -> Answer`."""

    def __init__(self):
        self.requests: list[Request] = []
        self.posts: list[dict] = []  # what the service accepted
        self.forced: deque[Answer] = deque()
        self.delay = 0.0
        self.lock = threading.Lock()
        self.ids = itertools.count(1001)
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                request = Request(self.command, self.path, dict(self.headers.items()), body,
                                  time.monotonic())
                with fake.lock:
                    fake.requests.append(request)
                    forced = fake.forced.popleft() if fake.forced else None
                # The service acts on the request first and is slow to answer after:
                # with `delay` past the client's timeout, the post went out although the
                # client never hears so (the unfavourable side of a read timeout).
                status, headers, payload = forced or fake.handle(request)
                if fake.delay:
                    time.sleep(fake.delay)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_POST = do_GET = _handle

        self.server = QuietHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True,
                                       kwargs={"poll_interval": 0.05})

    def url(self, path: str = "") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def accept(self, record: dict) -> None:
        with self.lock:
            self.posts.append(record)

    def rate_limit(self, seconds: float) -> None:
        """The next request gets this service's 429."""
        self.forced.append(self.too_many(seconds))

    def answer_next(self, answer: Answer) -> None:
        self.forced.append(answer)

    def too_many(self, seconds: float) -> Answer:
        # Slack (rate-limits page): "HTTP 429 Too Many Requests ... a Retry-After HTTP
        # header containing the number of seconds until you can retry" (whole seconds).
        return as_text(429, "Too Many Requests", {"Retry-After": str(math.ceil(seconds))})

    def handle(self, request: Request) -> Answer:
        raise NotImplementedError

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


def body_json(request: Request):
    try:
        return json.loads(request.body)
    except ValueError:
        return None


def utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2
