"""A stand-in for the Telegram Bot API that parses HTML as Telegram does."""

from __future__ import annotations

import html
import math
import re
import time
from urllib.parse import urlsplit

from tests.channels.fakes import Answer, FakeService, as_json, body_json, utf16
from tests.peers import Request

TELEGRAM_TAGS = {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "a", "code", "pre",
                 "blockquote", "tg-spoiler", "span", "tg-emoji"}
_TG_TAG = re.compile(r'<(/?)([a-z-]+)((?:\s+[a-z-]+(?:="[^"<>]*")?)*)\s*>')
_TG_ENTITY = re.compile(r"&(lt|gt|amp|quot|#\d+|#x[0-9a-fA-F]+);")


def telegram_parse(text: str) -> str:
    """Telegram's HTML parse mode: the visible text, or ValueError in its words."""
    out, stack, i = [], [], 0
    while i < len(text):
        ch = text[i]
        if ch == "<":
            match = _TG_TAG.match(text, i)
            offset = len(text[:i].encode())
            if not match:
                raise ValueError(f"Unexpected end tag at byte offset {offset}"
                                 if text.startswith("</", i) else
                                 f"Unsupported start tag \"{text[i + 1:i + 8]}\" at byte offset "
                                 f"{offset}")
            closing, name = match.group(1), match.group(2)
            if name not in TELEGRAM_TAGS:
                raise ValueError(f'Unsupported start tag "{name}" at byte offset {offset}')
            if closing:
                if not stack or stack[-1] != name:
                    raise ValueError(f'Can\'t find end tag corresponding to start tag "{name}"')
                stack.pop()
            else:
                if name == "a" and 'href="' not in match.group(3):
                    raise ValueError("Can't find href attribute of a tag")
                stack.append(name)
            i = match.end()
        elif ch == "&":
            match = _TG_ENTITY.match(text, i)
            if not match:
                offset = len(text[:i].encode())
                raise ValueError(f"Character '&' is reserved at byte offset {offset}")
            out.append(html.unescape(match.group(0)))
            i = match.end()
        elif ch == ">":
            raise ValueError(f"Character '>' is reserved at byte offset {len(text[:i].encode())}")
        else:
            out.append(ch)
            i += 1
    if stack:
        raise ValueError(f'Can\'t find end tag corresponding to start tag "{stack[-1]}"')
    return "".join(out)


class FakeTelegram(FakeService):
    """Bot API: POST /bot<token>/sendMessage; errors {"ok": false, "error_code",
    "description", "parameters": {"retry_after"}}."""

    def __init__(self, token: str, chat_id: str):
        super().__init__()
        self.token, self.chat_id = token, chat_id

    @staticmethod
    def error(code: int, description: str, **parameters) -> Answer:
        body = {"ok": False, "error_code": code, "description": description}
        if parameters:
            body["parameters"] = parameters
        return as_json(code, body)

    def too_many(self, seconds: float) -> Answer:
        wait = math.ceil(seconds)
        return self.error(429, f"Too Many Requests: retry after {wait}", retry_after=wait)

    def handle(self, request: Request) -> Answer:
        if urlsplit(request.path).path != f"/bot{self.token}/sendMessage":
            return self.error(404, "Not Found")
        body = body_json(request)
        if not isinstance(body, dict) or not isinstance(body.get("text"), str):
            return self.error(400, "Bad Request: message text is empty")
        if str(body.get("chat_id")) != self.chat_id:
            return self.error(400, "Bad Request: chat not found")
        text = body["text"]
        if body.get("parse_mode") == "HTML":
            try:
                text = telegram_parse(text)
            except ValueError as exc:
                return self.error(400, f"Bad Request: can't parse entities: {exc}")
        elif body.get("parse_mode") is not None:
            return self.error(400, "Bad Request: unsupported parse_mode")
        if not text.strip():
            return self.error(400, "Bad Request: message text is empty")
        if utf16(text) > 4096:
            return self.error(400, "Bad Request: message is too long")
        message_id = next(self.ids)
        self.accept({**body, "visible": text, "message_id": message_id})
        return as_json(200, {"ok": True, "result": {
            "message_id": message_id, "date": int(time.time()), "text": text,
            "chat": {"id": -1001234567890, "type": "channel"}}})


