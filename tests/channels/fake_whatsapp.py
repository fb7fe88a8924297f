"""WhatsApp gateways: WAHA (its OpenAPI and source) and Whapi.Cloud (its OpenAPI
manifest), as local fakes."""

from __future__ import annotations

import math
import re
import time
from urllib.parse import parse_qs, unquote, urlsplit

from tests.channels.fakes import Answer, FakeService, as_json, as_text, body_json, utf16
from tests.peers import Request


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
        self.core = False  # WAHA Core: sendImage is a Plus feature

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
        if self.core:
            # src/core/exceptions.ts: AvailableInPlusVersion extends UnprocessableEntityException.
            return as_json(422, {"statusCode": 422, "error": "Unprocessable Entity", "message": (
                "The feature is available only in Plus version. Check this out: "
                "https://waha.devlike.pro/")})
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
