"""How a reader sees WhatsApp and Slack text, written from what those services
document (and, where they document nothing, from what their apps are seen to do):
the oracle the adapter tests read posts with. Imports nothing of distributor."""

from __future__ import annotations

import re
import unicodedata

# --- WhatsApp ---------------------------------------------------------------------------
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


def slack_pings(text: str, verbatim: bool, joiner_defuses: bool = False) -> list[str]:
    """Who a text would notify: <!channel>-style always; plain @channel unless verbatim.
    Whether an invisible WORD JOINER after the @ stops Slack's parser is not documented:
    unless told (`joiner_defuses`), the reading takes the side that it does not."""
    pings = [m.group(1).lower() for m in _SLACK_SPECIAL.finditer(text)]
    if not joiner_defuses:
        text = text.replace("\u2060", "")
    if not verbatim:
        pings += [m.group(1).lower() for m in _SLACK_PLAIN_MENTION.finditer(text)]
    return pings


def strip_zwsp(text: str) -> str:
    """What a reader sees: the invisible characters gone."""
    return "".join(ch for ch in text if ch not in INVISIBLE)
