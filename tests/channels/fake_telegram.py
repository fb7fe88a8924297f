"""A stand-in for the Telegram Bot API that parses HTML as Telegram does.

The rules follow the Bot API's "Formatting options: HTML style" and tdlib's
parse_html (td/telegram/MessageEntity.cpp), which the Bot API server runs:
    * "All <, > and & symbols that are not a part of a tag or an HTML entity must be
      replaced": tdlib keeps a bare & and a bare > as text, and refuses a < that
      starts no tag it knows;
    * "All numerical HTML entities are supported. The API currently supports only the
      following named HTML entities: &lt;, &gt;, &amp; and &quot;": any other named
      entity stays as typed;
    * tag names are case-insensitive; attribute values are "double", 'single' quoted or
      bare; <span> needs class="tg-spoiler"; <tg-emoji> needs emoji-id; an <a> without
      href links its own text.
sendMessage text: "1-4096 characters after entities parsing" (tdlib counts code points;
the fake counts UTF-16 units, the larger count).
"""

from __future__ import annotations

import math
import re
import time
from urllib.parse import urlsplit

from tests.channels.fakes import Answer, FakeService, as_json, body_json, utf16
from tests.peers import Request

TELEGRAM_TAGS = {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "a", "code", "pre",
                 "blockquote", "tg-spoiler", "span", "tg-emoji"}
_START = re.compile(r"<([A-Za-z][A-Za-z0-9-]*)((?:\s+[A-Za-z-]+(?:\s*=\s*(?:\"[^\"]*\"|'[^']*'"
                    r"|[^\s\"'<>=]+))?)*)\s*>")
_END = re.compile(r"</([A-Za-z][A-Za-z0-9-]*)\s*>")
_ATTR = re.compile(r"([A-Za-z-]+)(?:\s*=\s*(\"[^\"]*\"|'[^']*'|[^\s\"'<>=]+))?")
_ENTITY = re.compile(r"&(?:#(\d{1,7})|#[xX]([0-9a-fA-F]{1,6})|(lt|gt|amp|quot));")
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}


def decode(text: str) -> str:
    def one(match: re.Match[str]) -> str:
        if match.group(3):
            return _NAMED[match.group(3)]
        code = int(match.group(1)) if match.group(1) else int(match.group(2), 16)
        return chr(code) if 0 < code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF else \
            match.group(0)
    return _ENTITY.sub(one, text)


def telegram_parse(text: str, links: list[str] | None = None) -> str:
    """Telegram's HTML parse mode: the visible text (link URLs appended to `links`), or
    ValueError in its words."""
    out, stack, i = [], [], 0
    while i < len(text):
        ch = text[i]
        if ch != "<":
            j = text.find("<", i)
            j = len(text) if j < 0 else j
            out.append(decode(text[i:j]))
            i = j
            continue
        offset = len(text[:i].encode())
        end = _END.match(text, i)
        if end:
            name = end.group(1).lower()
            if not stack:
                raise ValueError(f'Unexpected end tag at byte offset {offset}')
            if stack[-1][0] != name:
                raise ValueError(f'Unmatched end tag at byte offset {offset}, expected '
                                 f'"</{stack[-1][0]}>", found "</{name}>"')
            opened, at, href = stack.pop()
            if opened == "a" and links is not None:
                links.append(href if href is not None else "".join(out)[at:])
            i = end.end()
            continue
        start = _START.match(text, i)
        if not start:
            raise ValueError(f"Unsupported start tag \"{text[i + 1:i + 8]}\" at byte offset "
                             f"{offset}")
        name = start.group(1).lower()
        if name not in TELEGRAM_TAGS:
            raise ValueError(f'Unsupported start tag "{name}" at byte offset {offset}')
        attrs = {m.group(1).lower(): decode((m.group(2) or "").strip("\"'"))
                 for m in _ATTR.finditer(start.group(2))}
        if name == "span" and attrs.get("class") != "tg-spoiler":
            raise ValueError('Tag "span" must have class "tg-spoiler" at byte offset '
                             f"{offset}")
        if name == "tg-emoji" and not attrs.get("emoji-id", "").isdigit():
            raise ValueError("Invalid custom emoji identifier specified")
        stack.append((name, len("".join(out)), attrs.get("href")))
        i = start.end()
    if stack:
        raise ValueError(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    return "".join(out)


# LinkPreviewOptions (api.json): is_disabled, url, prefer_small_media, prefer_large_media,
# show_above_text; all optional; url a String, the rest Boolean. disable_notification:
# Boolean.
_PREVIEW_FIELDS = {"is_disabled": bool, "url": str, "prefer_small_media": bool,
                   "prefer_large_media": bool, "show_above_text": bool}


def wrong_types(body: dict) -> str | None:
    """What the Bot API would call a bad parameter type, or None."""
    if "disable_notification" in body and not isinstance(body["disable_notification"], bool):
        return "field \"disable_notification\" must be of type Boolean"
    options = body.get("link_preview_options")
    if options is None:
        return None
    if not isinstance(options, dict):
        return "can't parse link preview options JSON object"
    for key, value in options.items():
        if key in _PREVIEW_FIELDS and not isinstance(value, _PREVIEW_FIELDS[key]):
            return f"field \"{key}\" must be of type {_PREVIEW_FIELDS[key].__name__}"
    return None


class FakeTelegram(FakeService):
    """Bot API: POST /bot<token>/sendMessage; errors {"ok": false, "error_code",
    "description", "parameters": {"retry_after"}} (ResponseParameters)."""

    def __init__(self, token: str, chat_id: str):
        super().__init__()
        self.token, self.chat_id = token, chat_id
        self.kicked = False  # the bot was removed from the channel
        self.images: set[str] = set()  # photo URLs Telegram's servers can fetch

    @staticmethod
    def error(code: int, description: str, **parameters) -> Answer:
        body = {"ok": False, "error_code": code, "description": description}
        if parameters:
            body["parameters"] = parameters
        return as_json(code, body)

    def too_many(self, seconds: float) -> Answer:
        # ResponseParameters.retry_after: "the number of seconds left to wait before the
        # request can be repeated" (an integer).
        wait = math.ceil(seconds)
        return self.error(429, f"Too Many Requests: retry after {wait}", retry_after=wait)

    def handle(self, request: Request) -> Answer:
        match = re.fullmatch(r"/bot([^/]+)/(sendMessage|sendPhoto)", urlsplit(request.path).path)
        if not match:
            return self.error(404, "Not Found")
        if match.group(1) != self.token:
            return self.error(401, "Unauthorized")
        if self.kicked:
            return self.error(403, "Forbidden: bot was kicked from the channel chat")
        body = body_json(request)
        if isinstance(body, dict) and str(body.get("chat_id")) != self.chat_id:
            return self.error(400, "Bad Request: chat not found")
        wrong = wrong_types(body) if isinstance(body, dict) else None
        if wrong:
            return self.error(400, f"Bad Request: {wrong}")
        if match.group(2) == "sendPhoto":
            return self.photo(body)
        if not isinstance(body, dict) or not isinstance(body.get("text"), str):
            return self.error(400, "Bad Request: message text is empty")
        text, links = body["text"], []
        if body.get("parse_mode") == "HTML":
            try:
                text = telegram_parse(text, links)
            except ValueError as exc:
                return self.error(400, f"Bad Request: can't parse entities: {exc}")
        elif body.get("parse_mode") is not None:
            return self.error(400, "Bad Request: unsupported parse_mode")
        if not text.strip():
            return self.error(400, "Bad Request: message text is empty")
        if utf16(text) > 4096:
            return self.error(400, "Bad Request: message is too long")
        return self.sent({**body, "visible": text, "links": links})

    def photo(self, body) -> Answer:
        """sendPhoto: photo "Pass an HTTP URL as a String for Telegram to get a photo from
        the Internet"; caption "0-1024 characters after entities parsing"."""
        if not isinstance(body, dict) or not isinstance(body.get("photo"), str):
            return self.error(400, "Bad Request: there is no photo in the request")
        if body["photo"] not in self.images:
            return self.error(400, "Bad Request: wrong file identifier/HTTP URL specified")
        caption, links = body.get("caption") or "", []
        if body.get("parse_mode") == "HTML":
            try:
                caption = telegram_parse(caption, links)
            except ValueError as exc:
                return self.error(400, f"Bad Request: can't parse entities: {exc}")
        if utf16(caption) > 1024:
            return self.error(400, "Bad Request: message caption is too long")
        return self.sent({**body, "visible": caption, "links": links})

    def sent(self, record: dict) -> Answer:
        message_id = next(self.ids)
        text = record["visible"]
        self.accept({**record, "message_id": message_id})
        return as_json(200, {"ok": True, "result": {
            "message_id": message_id, "date": int(time.time()), "text": text,
            "chat": {"id": -1001234567890, "type": "channel"}}})
