"""Text formats of the messaging channels: one escaping filter each, and how each
service counts a message's length.

    whatsapp          *bold* _italic_ ~strike~; no escape character exists, so a
                      literal marker that could open or close a span is fenced
                      with ZERO WIDTH SPACE, which the parser does not take as a
                      word boundary. Nothing visible changes. A quote or list
                      marker at a line start gets a ZERO WIDTH SPACE before it.
    slack-mrkdwn      & < > become &amp; &lt; &gt;; markers and line starts as for
                      WhatsApp; @channel/@here/@everyone get a WORD JOINER after
                      the @; bare URLs become explicit <url> links.
    telegram-html     & < > escaped; only the tags Telegram accepts, written by
                      the template; the length is counted after entity parsing.
    discord-markdown  markdown characters escaped with a backslash.
    plain / json      as is.

URLs in the text (http:// or https:// up to a space) are never escaped or fenced:
a zero width space or a backslash inside one breaks the link.

Lengths are counted in UTF-16 code units (an emoji counts 2): never less than what
the services count (Telegram counts code points; JavaScript servers UTF-16 units).
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
# A URL as auto-linkers see it; trailing punctuation (and markers) stay outside it.
URL = re.compile(r"https?://[^\s<>\"|]*[^\s<>\"|.,;:!?'*_~`)\]]")
# Line-start markup WhatsApp draws as a quote or a list: "> ", "- ", "* ", "• ", "1. ".
_LINE_START = re.compile(r"(?m)^([ \t]*)(?=(?:>|&gt;|[-*•+]|\d{1,3}[.)])[ \t])")
_MENTION = re.compile(r"@(?=(?:channel|here|everyone)\b)", re.I)
WORD_JOINER = "\u2060"


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


def _outside_urls(text: str, escape, url=lambda u: u) -> str:
    """`escape` applied to the text between URLs; each URL through `url`."""
    out, at = [], 0
    for match in URL.finditer(text):
        out.append(escape(text[at:match.start()]))
        out.append(url(match.group(0)))
        at = match.end()
    out.append(escape(text[at:]))
    return "".join(out)


def neutral_line_starts(text: str) -> str:
    return _LINE_START.sub(lambda m: m.group(1) + ZWSP, text)


def whatsapp(value: object) -> str:
    return neutral_line_starts(_outside_urls(_text(value), fence_markers))


def _slack_escape(text: str) -> str:
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MENTION.sub("@" + WORD_JOINER, fence_markers(text))


def slack_mrkdwn(value: object) -> str:
    return neutral_line_starts(_outside_urls(_text(value), _slack_escape,
                                             lambda u: f"<{slack_url(u)}>"))


def slack_plain(value: object) -> str:
    """Slack's top-level `text` (notifications): escaped, mentions defused."""
    text = _text(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MENTION.sub("@" + WORD_JOINER, text)


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
    text = _outside_urls(_text(value), lambda part: "".join(
        "\\" + ch if ch in DISCORD_SPECIAL else ch for ch in part))
    return _DISCORD_LINE_START.sub(_escape_line_start, text)


def _escape_line_start(match: re.Match[str]) -> str:
    mark = match.group(2)
    return match.group(1) + (mark[:-1] + "\\." if mark.endswith(".") else "\\" + mark)


def _text(value: object) -> str:
    return "" if value is None else str(value)


# The entities Telegram decodes: numeric ones and four named; any other stays as typed.
_TG_ENTITY = re.compile(r"&(?:#(\d{1,7})|#[xX]([0-9a-fA-F]{1,6})|(lt|gt|amp|quot));")
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_LINK = re.compile(r"""<a\s[^<>]*?href\s*=\s*("[^"]*"|'[^']*'|[^\s>]+)[^<>]*>(.*?)</a\s*>""",
                   re.S | re.I)


def _tg_entity(match: re.Match[str]) -> str:
    if match.group(3):
        return _NAMED[match.group(3)]
    code = int(match.group(1)) if match.group(1) else int(match.group(2), 16)
    return chr(code) if 0 < code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF else match.group(0)


def html_to_plain(text: str) -> str:
    """Telegram HTML as the reader sees it: tags gone, entities decoded as Telegram does."""
    return _TG_ENTITY.sub(_tg_entity, _TAG.sub("", text))


def html_to_plain_with_links(text: str) -> str:
    """The plain-text form of Telegram HTML for a second try: a link keeps its URL
    ("label: url"), since plain text has nowhere else to put it."""
    def link(match: re.Match[str]) -> str:
        url = html_to_plain(match.group(1).strip("\"'"))
        label = html_to_plain(match.group(2)).strip()
        return url if not label or label == url else f"{label}: {url}"

    return html_to_plain(_LINK.sub(link, text))


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
    "slack_plain": slack_plain,
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
