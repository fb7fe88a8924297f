"""A news site's feed endpoints on loopback, behaving like WordPress behind a
normal web server: the document with an ETag and Last-Modified, 304 Not Modified
to a matching If-None-Match (or If-Modified-Since when there is no ETag), and
whatever failure a test asks for."""

from __future__ import annotations

import gzip
import hashlib
import re
import threading
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from tests.peers import QuietHTTPServer

FIXTURES = Path(__file__).parent / "fixtures"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def wordpress_feed(skip_newest: int = 0) -> bytes:
    """The 52-post WordPress feed, without its `skip_newest` newest posts."""
    text = (FIXTURES / "wordpress-feed.xml").read_text()
    items = re.findall(r"\n\t<item>.*?</item>", text, re.S)
    head = text[:text.index(items[0])]
    tail = text[text.index(items[-1]) + len(items[-1]):]
    return (head + "".join(items[skip_newest:]) + tail).encode()


@dataclass
class Page:
    document: bytes = b""
    status: int = 200
    content_type: str = "application/rss+xml; charset=UTF-8"
    etag: bool = True  # send an ETag (else only Last-Modified)
    stream_bytes: int = 0  # > 0: stream that many bytes without Content-Length
    delay: float = 0.0  # before answering
    gzip: bool = False  # Content-Encoding: gzip, as most web servers send feeds
    drip: float = 0.0  # > 0: send the document 100 bytes at a time, this many seconds apart
    last_modified: str = field(default_factory=lambda: formatdate(usegmt=True))

    def set(self, document: bytes, last_modified: str | None = None) -> None:
        self.document = document
        self.last_modified = last_modified or formatdate(usegmt=True)

    @property
    def tag(self) -> str:
        return '"' + hashlib.sha1(self.document).hexdigest()[:16] + '"'


@dataclass
class Hit:
    path: str
    headers: dict[str, str]
    status: int


class FeedSite:
    def __init__(self):
        self.pages: dict[str, Page] = {}
        self.hits: list[Hit] = []
        self.lock = threading.Lock()
        site = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                site._answer(self, site.pages.get(self.path))

            def send_response(self, code, message=None) -> None:
                # Recorded before the client can read the answer: a test that asserts on
                # the last hit right after its poll returns must find it there.
                with site.lock:
                    site.hits.append(Hit(self.path, dict(self.headers.items()), code))
                super().send_response(code, message)

        self.server = QuietHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def _answer(self, handler: BaseHTTPRequestHandler, page: Page | None) -> int:
        if page is None:
            return self._send(handler, 404, b"<html><body>Not Found</body></html>", "text/html")
        if page.delay:
            threading.Event().wait(page.delay)
        if page.status != 200:
            return self._send(handler, page.status, b"<html><body>Error</body></html>",
                              "text/html")
        if page.stream_bytes:
            handler.send_response(200)
            handler.send_header("Content-Type", page.content_type)
            handler.end_headers()
            chunk = b"<item><title>padding</title><link>https://x.example/</link></item>" * 1000
            sent = 0
            try:
                handler.wfile.write(b'<?xml version="1.0"?><rss version="2.0"><channel>')
                while sent < page.stream_bytes:
                    handler.wfile.write(chunk)
                    sent += len(chunk)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the poller stopped reading: what we want
            return 200
        match = handler.headers.get("If-None-Match")
        since = handler.headers.get("If-Modified-Since")
        if (page.etag and match == page.tag) or (
                not (page.etag and match) and since == page.last_modified):
            handler.send_response(304)
            if page.etag:
                handler.send_header("ETag", page.tag)
            handler.end_headers()
            return 304
        if page.drip:
            return self._drip(handler, page)
        headers = {"Last-Modified": page.last_modified}
        if page.etag:
            headers["ETag"] = page.tag
        body = page.document
        if page.gzip:
            body = gzip.compress(body)
            headers["Content-Encoding"] = "gzip"
        return self._send(handler, 200, body, page.content_type, headers)

    @staticmethod
    def _drip(handler, page: Page) -> int:
        handler.send_response(200)
        handler.send_header("Content-Type", page.content_type)
        handler.send_header("Content-Length", str(len(page.document)))
        handler.end_headers()
        try:
            for start in range(0, min(len(page.document), 20_000), 100):
                handler.wfile.write(page.document[start:start + 100])
                handler.wfile.flush()
                threading.Event().wait(page.drip)
        except (BrokenPipeError, ConnectionResetError):
            pass
        return 200

    @staticmethod
    def _send(handler, status: int, body: bytes, content_type: str,
              headers: dict[str, str] | None = None) -> int:
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(body)
        return status

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def page(self, path: str, document: bytes = b"", **options) -> Page:
        self.pages[path] = Page(document=document, **options)
        return self.pages[path]

    def to(self, path: str) -> list[Hit]:
        with self.lock:
            return [h for h in self.hits if h.path == path]

    def __enter__(self) -> FeedSite:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
