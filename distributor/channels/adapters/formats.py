"""Text formats of the messaging channels: one escaping filter each, and how each
service counts a message's length.

    whatsapp          *bold* _italic_ ~strike~; no escape character exists, so a
                      literal marker that could open or close a span is fenced
                      with ZERO WIDTH SPACE, which the parser does not take as a
                      word boundary. Nothing visible changes.
    slack-mrkdwn      & < > become &amp; &lt; &gt;; markers fenced as for WhatsApp.
    telegram-html     & < > escaped; only the tags Telegram accepts, written by
                      the template; the length is counted after entity parsing.
    discord-markdown  markdown characters escaped with a backslash.
    plain / json      as is.

Lengths are counted in UTF-16 code units (an emoji counts 2), which is how the
JavaScript and Telegram servers count and never less than the code points.
"""

from __future__ import annotations

import html
import re
import unicodedata
from urllib.parse import quote

ZWSP = "\u200b"
MARKERS = "*_~`"
DISCORD_SPECIAL = set("\\*_~`|[]<")
_DISCORD_LINE_START = re.compile(r"(?m)^(\s*)([#>-]|\d+\.)")
TELEGRAM_TAGS = {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "a", "code",
                 "pre", "blockquote", "tg-spoiler", "span", "tg-emoji"}
_TAG = re.compile(r"<[^<>]*>")
_ENTITY = re.compile(r"&(?:#\d{1,7}|#x[0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")


def utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def is_boundary(ch: str | None) -> bool:
    """Where a WhatsApp/Slack marker may open or close: an edge, space or punctuation."""
    if ch is None or ch.isspace():
        return True
    return unicodedata.category(ch)[0] in "PS" and ch not in MARKERS


def fence_markers(text: str) -> str:
    """Keep literal *, _, ~ and ` from opening or closing a span, leaving them visible.

    A marker opens when it follows a boundary and precedes a non-space; it closes
    when it follows a non-space and precedes a boundary. A zero width space on both
    sides (neither a space nor a boundary) takes both powers away. Markers
    inside a word (snake_case, 5*3) can do neither and are left alone, so URLs in
    the text keep working."""
    out: list[str] = []
    for index, ch in enumerate(text):
        if ch not in MARKERS:
            out.append(ch)
            continue
        before = text[index - 1] if index else None
        after = text[index + 1] if index + 1 < len(text) else None
        opens = is_boundary(before) and not (after is None or after.isspace())
        closes = not (before is None or before.isspace()) and is_boundary(after)
        runs = any(c is not None and c in MARKERS for c in (before, after))  # ** or __
        # Fence both sides: a space added on one side alone could give the other its power.
        out.append(ZWSP + ch + ZWSP if opens or closes or runs else ch)
    return "".join(out)


def whatsapp(value: object) -> str:
    return fence_markers(_text(value))


def slack_mrkdwn(value: object) -> str:
    text = _text(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return fence_markers(text)


def slack_url(value: object) -> str:
    """A URL inside <url|label>: the characters that would end it are percent-encoded."""
    return quote(_text(value), safe="/:?#@!$&'()*+,;=%~-._[]")


def telegram_html(value: object) -> str:
    return html.escape(_text(value), quote=False)


def telegram_attr(value: object) -> str:
    return html.escape(_text(value), quote=True)


def discord_markdown(value: object) -> str:
    """Backslash before what Discord reads as markdown: everywhere for spans, links and
    mentions; at a line start for headings, lists and quotes."""
    text = "".join("\\" + ch if ch in DISCORD_SPECIAL else ch for ch in _text(value))
    return _DISCORD_LINE_START.sub(_escape_line_start, text)


def _escape_line_start(match: re.Match[str]) -> str:
    mark = match.group(2)
    return match.group(1) + (mark[:-1] + "\\." if mark.endswith(".") else "\\" + mark)


def _text(value: object) -> str:
    return "" if value is None else str(value)


def html_to_plain(text: str) -> str:
    """Telegram HTML as the reader sees it: tags gone, entities decoded."""
    return html.unescape(_TAG.sub("", text))


def visible(text: str, fmt: str) -> str:
    if fmt == "telegram-html":
        return html_to_plain(text)
    return text


def measure(text: str, fmt: str) -> int:
    """The length the service compares against its limit."""
    if fmt == "json":
        return len(text.encode())
    return utf16_length(visible(text, fmt))


FILTERS = {
    "whatsapp": whatsapp,
    "slack": slack_mrkdwn,
    "slack_url": slack_url,
    "telegram": telegram_html,
    "telegram_attr": telegram_attr,
    "discord": discord_markdown,
}

# Characters of markup that balance: markers per format, and whether tags are used.
SPAN_MARKERS = {
    "whatsapp": ("*", "_", "~"),
    "slack-mrkdwn": ("*", "_", "~"),
    "discord-markdown": ("**", "__", "~~"),
}
