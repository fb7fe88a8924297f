"""Local stand-ins for the services, written from each service's own documentation
(cited beside each rule), never from our code: nothing here imports distributor.
Where a document leaves room, a fake takes the side less favourable to us
(UTF-16 lengths, the stricter reading). Each refuses in the service's own words
where those are documented, and answers a rate limit with its own retry-after form.
Loopback only."""

from __future__ import annotations

import itertools
import json
import math
import re
import threading
import time
import unicodedata
from collections import deque
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, unquote, urlsplit

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


# --- WhatsApp (WAHA, Whapi) -------------------------------------------------------------
# WhatsApp publishes no grammar of its formatting. What it draws, from its help text and
# the 2024 additions reported by the press: *bold* _italic_ ~strike~ `code`, and at a line
# start "> " a quote, "- "/"* " a bulleted and "1. " a numbered list. A marker opens
# after an edge, a space or punctuation and before a non-space; it closes after a
# non-space and before an edge, a space or punctuation. URLs are auto-linked first, so
# markers inside one belong to the link (clients link before they format).
# ZERO WIDTH SPACE is neither a space nor punctuation (Unicode category Cf): unverified
# for WhatsApp; this is the one assumption our fencing stands on.

ZWSP = "\u200b"
INVISIBLE = {ZWSP, "\u2060"}  # zero width space, word joiner: a reader sees nothing
_URL = re.compile(r"https?://[^\s<>\"]*[^\s<>\".,;:!?'*_~`)\]]")
_BLOCK_START = re.compile(r"^[ \t]*(?:>|[-*•]|\d{1,3}\.)[ \t]")


def _edge(ch: str | None) -> bool:
    """Where a WhatsApp marker may open or close (the rule above)."""
    if ch is None or ch.isspace():
        return True
    return unicodedata.category(ch)[0] in "PS" and ch not in "*_~`"


def whatsapp_spans(text: str, markers: str = "*_~`") -> list[tuple[str, str]]:
    """The formatted spans WhatsApp (and Slack) would draw, by the rule above, on one
    line; text inside a URL is part of the link."""
    spans = []
    for line in text.split("\n"):
        in_url = [False] * len(line)
        for match in _URL.finditer(line):
            for k in range(match.start(), match.end()):
                in_url[k] = True
        i = 0
        while i < len(line):
            ch = line[i]
            before = line[i - 1] if i else None
            after = line[i + 1] if i + 1 < len(line) else None
            if ch in markers and not in_url[i] and _edge(before) and after \
                    and not after.isspace():
                for j in range(i + 2, len(line)):
                    nxt = line[j + 1] if j + 1 < len(line) else None
                    if line[j] == ch and not in_url[j] and not line[j - 1].isspace() \
                            and _edge(nxt):
                        spans.append((ch, line[i + 1:j]))
                        i = j
                        break
            i += 1
    return spans


def whatsapp_blocks(text: str) -> list[str]:
    """Lines WhatsApp draws as a quote or a list item."""
    return [line for line in text.split("\n") if _BLOCK_START.match(line)]


def slack_blocks(text: str) -> list[str]:
    """Slack stores a quote as "&gt;" at a line start (jsx-slack lists "Leading >
    (&gt;)" as impossible to escape); lists are taken as WhatsApp's (the stricter side)."""
    return whatsapp_blocks(text.replace("&gt;", ">"))


def whatsapp_links(text: str) -> list[str]:
    """What WhatsApp auto-links: the URL up to a space, without trailing punctuation."""
    return [m.group(0) for m in _URL.finditer(text)]


class FakeWaha(FakeService):
    """WAHA (OpenAPI 2026.7.1): POST /api/sendText {session, chatId, text} with
    X-Api-Key, answers 201 WAMessage; GET /api/{session}/chats/{chatId}/messages."""

    def __init__(self, api_key: str, session: str = "default"):
        super().__init__()
        self.api_key, self.session = api_key, session
        # WORKING, or STARTING / SCAN_QR_CODE / FAILED / STOPPED; None: not started.
        self.status: str | None = "WORKING"
        self.drop = False  # take messages but never deliver them (what gateways may do)
        self.messages: list[dict] = []
        self.images: set[str] = set()  # image URLs the gateway can download

    def too_many(self, seconds: float) -> Answer:
        # WAHA itself has no rate limiter (no throttler in its src/); a proxy in front
        # answers 429 with Retry-After (RFC 9110 10.2.3).
        return as_text(429, "Too Many Requests", {"Retry-After": str(math.ceil(seconds))})

    def session_answer(self, name: str) -> Answer | None:
        if name != self.session or self.status is None:
            # src/core/manager.core.ts getSession: NotFoundException.
            return as_json(404, {"statusCode": 404, "error": "Not Found", "message": (
                f"We didn't find a session with name '{name}'.\nPlease start it first by "
                f"using POST /api/sessions/{name}/start request")})
        if self.status != "WORKING":
            # src/core/abc/manager.abc.ts waitUntilStatus: UnprocessableEntityException.
            return as_json(422, {"error": "Session status is not as expected. Try again later "
                                          "or restart the session", "session": name,
                                 "status": self.status, "expected": ["WORKING"]})
        return None

    def handle(self, request: Request) -> Answer:
        # OpenAPI securitySchemes api_key: {"type": "apiKey", "in": "header", "name": "X-Api-Key"}
        if request.headers.get("X-Api-Key") != self.api_key:
            return as_json(401, {"statusCode": 401, "message": "Unauthorized"})
        path = urlsplit(request.path).path
        if request.method == "GET":
            match = re.fullmatch(r"/api/([^/]+)/chats/([^/]+)/messages", path)
            if not match:
                return as_json(404, {"statusCode": 404, "message": "Cannot GET " + path})
            refused = self.session_answer(unquote(match.group(1)))
            if refused:
                return refused
            chat = unquote(match.group(2))
            limit = int(parse_qs(urlsplit(request.path).query).get("limit", ["100"])[0])
            return as_json(200, [m for m in self.messages if m["chatId"] == chat][::-1][:limit])
        if request.method != "POST" or path not in ("/api/sendText", "/api/sendImage"):
            return as_json(404, {"statusCode": 404, "error": "Not Found",
                                 "message": f"Cannot {request.method} {path}"})
        body = body_json(request)
        if path == "/api/sendImage":
            return self.image(body)
        # MessageTextRequest: required chatId, text, session (NestJS ValidationPipe words).
        missing = [k for k in ("chatId", "text", "session")
                   if not isinstance(body, dict) or not isinstance(body.get(k), str)]
        if missing:
            return as_json(400, {"statusCode": 400, "error": "Bad Request",
                                 "message": [f"{k} must be a string" for k in missing]})
        refused = self.session_answer(body["session"])
        if refused:
            return refused
        # WAHA's OpenAPI sets no maxLength on text; Meta's Cloud API: "Maximum 4096
        # characters". The fake keeps 4096, counted in UTF-16 units (the larger count).
        if not body["text"] or utf16(body["text"]) > 4096:
            return as_json(400, {"statusCode": 400, "error": "Bad Request",
                                 "message": ["text must be 1 to 4096 characters"]})
        return self.taken(body, body["text"])

    def image(self, body) -> Answer:
        """MessageImageRequest: chatId, session, file (RemoteFile: mimetype, filename, url),
        caption. How WAHA answers an image it cannot download is not documented: a 500
        here (the failure is the gateway's own)."""
        missing = [k for k in ("chatId", "session")
                   if not isinstance(body, dict) or not isinstance(body.get(k), str)]
        file = body.get("file") if isinstance(body, dict) else None
        if not isinstance(file, dict) or not file.get("url") or not file.get("mimetype"):
            missing.append("file")
        if missing:
            return as_json(400, {"statusCode": 400, "error": "Bad Request",
                                 "message": [f"{k} must be given" for k in missing]})
        refused = self.session_answer(body["session"])
        if refused:
            return refused
        if file["url"] not in self.images:
            return as_json(500, {"statusCode": 500, "message": "Failed to download the file"})
        caption = body.get("caption") or ""
        if utf16(caption) > 1024:  # Meta: a caption is at most 1024 characters
            return as_json(400, {"statusCode": 400, "error": "Bad Request",
                                 "message": ["caption is too long"]})
        return self.taken(body, caption)

    def taken(self, body: dict, text: str) -> Answer:
        # Channels doc: message ids look like {fromMe}_{id}@newsletter_{serverID}_{clientID}.
        ident = f"true_{body['chatId']}_{next(self.ids):X}ABC"
        message = {"id": ident, "chatId": body["chatId"], "body": text, "fromMe": True,
                   "timestamp": int(time.time())}
        self.accept(body)
        if not self.drop:
            self.messages.append(message)
        return as_json(201, {"id": ident, "timestamp": message["timestamp"], "body": text,
                             "fromMe": True})


class FakeWhapi(FakeService):
    """Whapi.Cloud sendMessageText: POST /messages/text, Authorization: Bearer, {to, body}
    required; answers SentMessage {sent: bool, message?}; errors Error {code, message,
    details?}."""

    def __init__(self, token: str):
        super().__init__()
        self.token = token
        self.not_sent = False  # SentMessage.sent is a boolean: the schema allows false
        self.messages: list[dict] = []
        self.images: set[str] = set()  # media URLs Whapi can download

    def too_many(self, seconds: float) -> Answer:
        # Whapi documents no 429 form; the generic one: Retry-After (RFC 9110 10.2.3).
        return as_json(429, {"error": {"code": 429, "message": "Too many requests"}},
                       {"Retry-After": str(math.ceil(seconds))})

    def handle(self, request: Request) -> Answer:
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return as_json(401, {"error": {"code": 401, "message": "Unauthorized"}})
        path = urlsplit(request.path).path
        if request.method == "GET" and re.fullmatch(r"/messages/list/[^/]+", path):
            chat = unquote(path.rsplit("/", 1)[1])
            mine = [m for m in self.messages if m["chat_id"] == chat][::-1]
            return as_json(200, {"messages": mine, "count": len(mine), "total": len(mine)})
        if request.method == "POST" and path == "/messages/image":
            return self.image(body_json(request))
        if request.method != "POST" or path != "/messages/text":
            return as_json(404, {"error": {"code": 404, "message": "Not found"}})
        body = body_json(request)
        if not isinstance(body, dict) or not body.get("to"):
            return as_json(400, {"error": {"code": 400, "message": "Parameter 'to' is required"}})
        # No documented limit; Meta's 4096, counted in UTF-16 units (the larger count).
        if not isinstance(body.get("body"), str) or not 1 <= utf16(body["body"]) <= 4096:
            return as_json(400, {"error": {"code": 400, "message": "Parameter 'body' is invalid",
                                           "details": "must be 1 to 4096 characters"}})
        return self.taken(body, "text", {"body": body["body"]})

    def image(self, body) -> Answer:
        """sendMessageImage: to, media (URL, base64 or media id) required; caption. How an
        unreachable URL is answered is not documented: a 400 Error here."""
        if not isinstance(body, dict) or not body.get("to") or not body.get("media"):
            return as_json(400, {"error": {"code": 400, "message": "Parameter 'media' is required"}})
        if body["media"] not in self.images:
            return as_json(400, {"error": {"code": 400, "message": "Failed to load media"}})
        if utf16(body.get("caption") or "") > 1024:
            return as_json(400, {"error": {"code": 400, "message": "Parameter 'caption' is invalid"}})
        return self.taken(body, "image", {"caption": body.get("caption"), "link": body["media"]})

    def taken(self, body: dict, kind: str, content: dict) -> Answer:
        if self.not_sent:
            return as_json(200, {"sent": False})
        message = {"id": f"Wh{next(self.ids)}xyz", "chat_id": body["to"], "from_me": True,
                   "type": kind, kind: content}
        self.accept(body)
        self.messages.append(message)
        return as_json(200, {"sent": True, "message": message})


# --- Slack ------------------------------------------------------------------------------

_SLACK_ANGLE = re.compile(r"<(?:https?://[^<>|\s]+(?:\|[^<>]*)?|[@#!][^<>]*)>")
_SLACK_ENTITY = re.compile(r"&(amp|lt|gt);")
# Text object reference, `verbatim`: "When set to false (as is default) URLs will be
# auto-converted into links, conversation names will be link-ified, and certain mentions
# will be automatically parsed." The fake takes the plain words as those mentions.
_SLACK_PLAIN_MENTION = re.compile(r"(?<![\w\u2060])@(channel|here|everyone)\b", re.I)
_SLACK_SPECIAL = re.compile(r"<!(channel|here|everyone)(?:\|[^<>]*)?>")


def slack_check_mrkdwn(text: str) -> None:
    """Formatting reference: "Slack uses &, <, and > as control characters ... you
    should replace the character with its corresponding HTML entity". A raw < or &
    must start a link, a mention or one of those three entities. Slack would render
    a stray one rather than refuse it: this check is stricter than the service."""
    rest = _SLACK_ANGLE.sub("", text)
    if "<" in rest or ">" in rest:
        raise ValueError("unescaped < or > in mrkdwn")
    if "&" in _SLACK_ENTITY.sub("", rest):
        raise ValueError("unescaped & in mrkdwn")


def slack_pings(text: str, verbatim: bool) -> list[str]:
    """Who a text would notify: <!channel>-style always; plain @channel unless verbatim."""
    pings = [m.group(1).lower() for m in _SLACK_SPECIAL.finditer(text)]
    if not verbatim:
        pings += [m.group(1).lower() for m in _SLACK_PLAIN_MENTION.finditer(text)]
    return pings


class FakeSlack(FakeService):
    """Incoming webhook: 200 "ok"; errors as plain text (changelog 2016-05-17: 400
    invalid_payload, 403 action_prohibited, 404 channel_not_found, 410
    channel_is_archived, 500 rollup_error); 429 with Retry-After (rate-limits page)."""

    PATH = "/services/T000/B000/XXXXXXXXXXXXXXXX"

    def __init__(self):
        super().__init__()
        self.images: set[str] = set()  # image URLs Slack can download

    def image_refusal(self, block: dict) -> Answer | None:
        """Image block reference: image_url (at most 3000 characters) and alt_text (at most
        2000) are required; an image Slack cannot download fails the message."""
        url, alt = block.get("image_url"), block.get("alt_text")
        if not url or not alt or len(url) > 3000 or len(alt) > 2000 or url not in self.images:
            return as_text(400, "invalid_blocks")
        return None

    def handle(self, request: Request) -> Answer:
        if urlsplit(request.path).path != self.PATH:
            return as_text(404, "no_service")
        if request.headers.get("Content-Type", "").split(";")[0] != "application/json":
            return as_text(400, "invalid_payload")
        body = body_json(request)
        if not isinstance(body, dict) or not (body.get("text") or body.get("blocks")):
            return as_text(400, "no_text")
        pings = slack_pings(str(body.get("text") or ""), verbatim=False)
        for block in body.get("blocks") or []:
            if block.get("type") == "image":
                refused = self.image_refusal(block)
                if refused:
                    return refused
                continue
            text = (block.get("text") or {}) if block.get("type") == "section" else None
            if text is None or text.get("type") not in ("mrkdwn", "plain_text"):
                return as_text(400, "invalid_blocks")
            # Text object: "The minimum length is 1 and maximum length is 3000 characters"
            # (counted here in UTF-16 units, the larger count).
            if not 1 <= utf16(text.get("text", "")) <= 3000:
                return as_text(400, "invalid_blocks")
            if text["type"] == "mrkdwn":
                try:
                    slack_check_mrkdwn(text["text"])
                except ValueError:
                    return as_text(400, "invalid_blocks")
                pings += slack_pings(text["text"], verbatim=text.get("verbatim") is True)
        self.accept({**body, "pings": pings})
        return as_text(200, "ok")


# --- Discord ----------------------------------------------------------------------------

# Webhook messages may set only these flags (webhook.mdx, Execute Webhook "flags"):
# SUPPRESS_EMBEDS 1<<2, SUPPRESS_NOTIFICATIONS 1<<12, IS_COMPONENTS_V2 1<<15.
DISCORD_WEBHOOK_FLAGS = (1 << 2) | (1 << 12) | (1 << 15)
# Embed limits (message.mdx "Embed Limits"): title 256, description 4096, author name 256,
# all text together 6000, at most 10 embeds.
_EMBED_LIMITS = {"title": 256, "description": 4096}


def discord_form_errors(body: dict) -> str | None:
    """The first field Discord would refuse, or None."""
    if int(body.get("flags") or 0) & ~DISCORD_WEBHOOK_FLAGS:
        return "flags"
    embeds = body.get("embeds") or []
    if not isinstance(embeds, list) or len(embeds) > 10:
        return "embeds"
    total = 0
    for i, item in enumerate(embeds):
        for key, most in _EMBED_LIMITS.items():
            total += len(item.get(key) or "")
            if len(item.get(key) or "") > most:
                return f"embeds.{i}.{key}"
        author = (item.get("author") or {}).get("name") or ""
        total += len(author)
        if len(author) > 256:
            return f"embeds.{i}.author.name"
        for key in ("url",):
            if key in item and not str(item[key]).startswith(("http://", "https://")):
                return f"embeds.{i}.{key}"
        image = (item.get("image") or {}).get("url")
        if image is not None and not str(image).startswith(("http://", "https://",
                                                             "attachment://")):
            return f"embeds.{i}.image.url"
    return "embeds" if total > 6000 else None


class FakeDiscord(FakeService):
    """Execute Webhook (webhook.mdx): POST /api/webhooks/{id}/{token}?wait=true -> the
    message; 204 without wait. Error codes from opcodes-and-status-codes.mdx."""

    PATH = "/api/webhooks/123456789012345678/tok-en_XYZ"

    def too_many(self, seconds: float) -> Answer:
        # rate-limits.mdx: "a HTTP 429 response code with a JSON body" {message,
        # retry_after (float seconds), global}, and a Retry-After header.
        return as_json(429, {"message": "You are being rate limited.", "retry_after": seconds,
                             "global": False}, {"Retry-After": str(math.ceil(seconds))})

    def handle(self, request: Request) -> Answer:
        parts = urlsplit(request.path)
        webhook = re.fullmatch(r"/api/webhooks/(\d+)/([^/]+)", parts.path)
        if not webhook or webhook.group(1) != self.PATH.split("/")[3]:
            # 10015 Unknown Webhook: "you should not attempt to use it again".
            return as_json(404, {"message": "Unknown Webhook", "code": 10015})
        if parts.path != self.PATH:
            return as_json(401, {"message": "Invalid Webhook Token", "code": 50027})
        body = body_json(request)
        if not isinstance(body, dict) or not (body.get("content") or body.get("embeds")):
            return as_json(400, {"message": "Cannot send an empty message", "code": 50006})
        # content "up to 2000 characters" (the unit is not documented: UTF-16 here).
        if utf16(body.get("content") or "") > 2000:
            return as_json(400, {"message": "Invalid Form Body", "code": 50035, "errors": {
                "content": {"_errors": [{"code": "BASE_TYPE_MAX_LENGTH",
                                         "message": "Must be 2000 or fewer in length."}]}}})
        wrong = discord_form_errors(body)
        if wrong:
            return as_json(400, {"message": "Invalid Form Body", "code": 50035,
                                 "errors": {wrong: {"_errors": [{"code": "INVALID"}]}}})
        self.accept(body)
        if parse_qs(parts.query).get("wait") != ["true"]:
            return 204, {}, b""
        return as_json(200, {"id": str(1100000000000000000 + next(self.ids)),
                             "content": body.get("content"), "channel_id": "99"})


def strip_zwsp(text: str) -> str:
    """What a reader sees: the invisible characters gone."""
    return "".join(ch for ch in text if ch not in INVISIBLE)
