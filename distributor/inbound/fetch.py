"""Fetching a feed document safely: a conditional GET with a time and size cap,
read as it arrives, and parsing that accepts RSS and Atom and refuses anything
else with a reason an operator can act on. The edge where requests and
feedparser are called; their exceptions become FeedError here."""

from __future__ import annotations

import io
import time
import xml.sax
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import feedparser
import requests

from distributor.errors import FeedError

TIMEOUT = 20.0  # seconds for the whole download
MAX_BYTES = 5_000_000  # a feed larger than this is refused, read no further
ACCEPT = ("application/rss+xml, application/atom+xml, application/xml;q=0.9, "
          "text/xml;q=0.9, */*;q=0.1")




@dataclass
class Fetched:
    status: int  # 200 or 304
    body: bytes = b""
    content_type: str = ""
    etag: str | None = None
    last_modified: str | None = None


def http_session() -> requests.Session:
    session = requests.Session()
    session.headers["User-Agent"] = "distributor/0.1 (feed poller)"
    return session


def display_url(url: str) -> str:
    """The URL without credentials or query (private feeds carry tokens there)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "…" if parts.query else "", ""))


def fetch(http: requests.Session, url: str, etag: str | None, last_modified: str | None,
          timeout: float = TIMEOUT, max_bytes: int = MAX_BYTES) -> Fetched:
    """A conditional GET, streamed: refused past `max_bytes` or `timeout` seconds."""
    headers = {"Accept": ACCEPT}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    deadline = time.monotonic() + timeout
    try:
        wait = min(timeout, 10.0)  # per connect and per read
        with http.get(url, headers=headers, timeout=(wait, wait), stream=True) as response:
            if response.status_code == 304:
                return Fetched(304, etag=etag, last_modified=last_modified)
            if response.status_code != 200:
                raise FeedError(f"HTTP {response.status_code} {response.reason or ''}".strip())
            declared = response.headers.get("Content-Length", "")
            if declared.isascii() and declared.isdigit() and int(declared) > max_bytes:
                raise FeedError(f"feed too large: Content-Length {declared} bytes is over the "
                                f"{max_bytes} byte cap")
            body = bytearray()
            for chunk in _chunks(response):
                body += chunk
                if len(body) > max_bytes:
                    raise FeedError(f"feed too large: stopped reading past {max_bytes} bytes")
                if time.monotonic() > deadline:
                    raise FeedError(f"feed too slow: not downloaded within {timeout:g}s")
            return Fetched(200, bytes(body), response.headers.get("Content-Type", ""),
                           response.headers.get("ETag"), response.headers.get("Last-Modified"))
    except requests.Timeout:
        raise FeedError(f"unreachable: no answer within {timeout:g}s") from None
    except requests.ConnectionError as exc:
        raise FeedError(f"unreachable: connection failed ({_cause(exc)})") from None
    except requests.RequestException as exc:
        raise FeedError(f"request failed: {type(exc).__name__}") from None


def _chunks(response: requests.Response):
    """The body as it arrives: each piece returns after one read from the socket, so a
    server dripping bytes cannot hold the poll past its deadline."""
    read1 = getattr(response.raw, "read1", None)
    if read1 is None:  # urllib3 1.x
        yield from response.iter_content(16 * 1024)
        return
    while chunk := read1(64 * 1024, decode_content=True):
        yield chunk


def _cause(exc: BaseException) -> str:
    """The innermost exception's reason: says 'refused' or 'DNS' without the URL."""
    for _ in range(10):
        inner = exc.__cause__ or exc.__context__
        if inner is None:
            break
        exc = inner
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return type(exc).__name__


def parse(fetched: Fetched) -> list[Any]:
    """The entries of an RSS 2.0 or Atom document; FeedError when it is neither."""
    # A file object: feedparser opens a *string* that looks like a path or URL itself.
    parsed = feedparser.parse(io.BytesIO(fetched.body),
                              response_headers={"content-type": fetched.content_type})
    problem = parsed.get("bozo_exception")
    if isinstance(problem, xml.sax.SAXParseException):
        raise FeedError(f"not well-formed XML: {problem.getMessage()}")
    if not parsed.get("version"):
        raise FeedError("not an RSS or Atom feed")
    return list(parsed.entries)
