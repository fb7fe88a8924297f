"""Small local stand-ins for the services, stricter than the real ones where the
documentation draws a line: each checks its auth, body shape and length limit,
refuses what the service refuses in the service's own words, and answers a
rate limit with its own retry-after form. Loopback only."""

from __future__ import annotations

import itertools
import json
import math
import re
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, unquote, urlsplit

from distributor.channels.adapters.formats import ZWSP, is_boundary
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
                if fake.delay:
                    time.sleep(fake.delay)
                status, headers, payload = forced or fake.handle(request)
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


# --- WhatsApp (WAHA, Whapi) -------------------------------------------------------------

def whatsapp_spans(text: str, markers: str = "*_~") -> list[tuple[str, str]]:
    """The formatted spans WhatsApp (and Slack) would draw: a marker opens after a
    boundary (edge, space, punctuation) before a non-space, and closes after a
    non-space before a boundary, on the same line."""
    spans = []
    for line in text.split("\n"):
        i = 0
        while i < len(line):
            ch = line[i]
            before = line[i - 1] if i else None
            after = line[i + 1] if i + 1 < len(line) else None
            if ch in markers and is_boundary(before) and after and not after.isspace():
                for j in range(i + 2, len(line)):
                    nxt = line[j + 1] if j + 1 < len(line) else None
                    if line[j] == ch and not line[j - 1].isspace() and is_boundary(nxt):
                        spans.append((ch, line[i + 1:j]))
                        i = j
                        break
            i += 1
    return spans


class FakeWaha(FakeService):
    """WAHA: POST /api/sendText with X-Api-Key; GET /api/{session}/chats/{chat}/messages."""

    def __init__(self, api_key: str, session: str = "default"):
        super().__init__()
        self.api_key, self.session = api_key, session
        self.drop = False  # take messages but never deliver them (what gateways may do)
        self.messages: list[dict] = []

    def too_many(self, seconds: float) -> Answer:
        return as_json(429, {"statusCode": 429, "message": "Too Many Requests"},
                       {"Retry-After": str(math.ceil(seconds))})

    def handle(self, request: Request) -> Answer:
        if request.headers.get("X-Api-Key") != self.api_key:
            return as_json(401, {"statusCode": 401, "message": "Unauthorized"})
        path = urlsplit(request.path).path
        if request.method == "GET":
            match = re.fullmatch(r"/api/([^/]+)/chats/([^/]+)/messages", path)
            if not match:
                return as_json(404, {"statusCode": 404, "message": "Cannot GET " + path})
            chat = unquote(match.group(2))
            limit = int(parse_qs(urlsplit(request.path).query).get("limit", ["100"])[0])
            return as_json(200, [m for m in self.messages if m["chatId"] == chat][::-1][:limit])
        if path != "/api/sendText":
            return as_json(404, {"statusCode": 404, "message": "Cannot POST " + path})
        body = body_json(request)
        if not isinstance(body, dict) or not isinstance(body.get("text"), str) or not body["text"]:
            return as_json(400, {"statusCode": 400, "message": "text should not be empty"})
        if body.get("session") != self.session:
            return as_json(422, {"statusCode": 422, "message": "Session does not exist"})
        if not str(body.get("chatId", "")).endswith("@newsletter"):
            return as_json(400, {"statusCode": 400, "message": "chatId must be a channel"})
        if utf16(body["text"]) > 4096:
            return as_json(400, {"statusCode": 400, "message": "text is too long"})
        ident = f"true_{body['chatId']}_{next(self.ids):X}ABC"
        message = {"id": ident, "chatId": body["chatId"], "body": body["text"], "fromMe": True}
        self.accept(body)
        if not self.drop:
            self.messages.append(message)
        return as_json(201, {"id": ident, "timestamp": int(time.time()), "body": body["text"]})


class FakeWhapi(FakeService):
    """Whapi.Cloud: POST /messages/text with a Bearer token, {to, body}."""

    def __init__(self, token: str):
        super().__init__()
        self.token = token

    def too_many(self, seconds: float) -> Answer:
        return as_json(429, {"error": {"code": 429, "message": "Too many requests"}},
                       {"Retry-After": str(math.ceil(seconds))})

    def handle(self, request: Request) -> Answer:
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return as_json(401, {"error": {"code": 401, "message": "Unauthorized"}})
        if urlsplit(request.path).path != "/messages/text":
            return as_json(404, {"error": {"code": 404, "message": "Not found"}})
        body = body_json(request)
        if not isinstance(body, dict) or not str(body.get("to", "")).endswith("@newsletter"):
            return as_json(400, {"error": {"code": 400, "message": "Parameter 'to' is invalid"}})
        if not isinstance(body.get("body"), str) or utf16(body["body"]) > 4096:
            return as_json(400, {"error": {"code": 400, "message": "Parameter 'body' is invalid",
                                           "details": "must be 1 to 4096 characters"}})
        self.accept(body)
        return as_json(200, {"sent": True, "message": {"id": f"Wh{next(self.ids)}xyz",
                                                      "chat_id": body["to"], "from_me": True,
                                                      "text": {"body": body["body"]}}})


# --- Slack ------------------------------------------------------------------------------

_SLACK_ANGLE = re.compile(r"<(?:https?://[^<>|\s]+(?:\|[^<>]*)?|[@#!][^<>]*)>")
_SLACK_ENTITY = re.compile(r"&(amp|lt|gt);")


def slack_check_mrkdwn(text: str) -> None:
    """A raw < or & in mrkdwn must start a link/mention or an entity."""
    rest = _SLACK_ANGLE.sub("", text)
    if "<" in rest or ">" in rest:
        raise ValueError("unescaped < or > in mrkdwn")
    if "&" in _SLACK_ENTITY.sub("", rest):
        raise ValueError("unescaped & in mrkdwn")


class FakeSlack(FakeService):
    """Incoming webhook: 200 "ok"; plain-text errors; 429 with Retry-After."""

    PATH = "/services/T000/B000/XXXXXXXXXXXXXXXX"

    def handle(self, request: Request) -> Answer:
        if urlsplit(request.path).path != self.PATH:
            return as_text(404, "no_service")
        if request.headers.get("Content-Type", "").split(";")[0] != "application/json":
            return as_text(400, "invalid_payload")
        body = body_json(request)
        if not isinstance(body, dict) or not (body.get("text") or body.get("blocks")):
            return as_text(400, "no_text")
        for block in body.get("blocks") or []:
            text = (block.get("text") or {}) if block.get("type") == "section" else None
            if text is None or text.get("type") not in ("mrkdwn", "plain_text"):
                return as_text(400, "invalid_blocks")
            if not 1 <= len(text.get("text", "")) <= 3000:
                return as_text(400, "invalid_blocks")
            if text["type"] == "mrkdwn":
                try:
                    slack_check_mrkdwn(text["text"])
                except ValueError:
                    return as_text(400, "invalid_blocks")
        self.accept(body)
        return as_text(200, "ok")


# --- Discord ----------------------------------------------------------------------------

class FakeDiscord(FakeService):
    """Execute Webhook: POST /api/webhooks/{id}/{token}?wait=true -> the message."""

    PATH = "/api/webhooks/123456789012345678/tok-en_XYZ"

    def too_many(self, seconds: float) -> Answer:
        return as_json(429, {"message": "You are being rate limited.", "retry_after": seconds,
                             "global": False}, {"Retry-After": str(math.ceil(seconds))})

    def handle(self, request: Request) -> Answer:
        parts = urlsplit(request.path)
        if parts.path != self.PATH:
            return as_json(404, {"message": "Unknown Webhook", "code": 10015})
        body = body_json(request)
        if not isinstance(body, dict) or not (body.get("content") or body.get("embeds")):
            return as_json(400, {"message": "Cannot send an empty message", "code": 50006})
        if len(body.get("content") or "") > 2000:
            return as_json(400, {"message": "Invalid Form Body", "code": 50035, "errors": {
                "content": {"_errors": [{"code": "BASE_TYPE_MAX_LENGTH",
                                         "message": "Must be 2000 or fewer in length."}]}}})
        self.accept(body)
        if parse_qs(parts.query).get("wait") != ["true"]:
            return 204, {}, b""
        return as_json(200, {"id": str(1100000000000000000 + next(self.ids)),
                             "content": body.get("content"), "channel_id": "99"})


def strip_zwsp(text: str) -> str:
    return text.replace(ZWSP, "")
