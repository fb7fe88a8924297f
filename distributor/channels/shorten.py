"""Shorten formatted channel text to a service's limit.

The cut falls at a word boundary (a space); when no space is near the room's end
(Chinese, Japanese, Thai, one long word) it falls between two graphemes
(`regex`'s \\X: combining marks, conjuncts, emoji sequences stay whole). It is
never inside a tag, an entity, an escape or a URL. Spans opened before the cut are
closed again, an ellipsis marks the cut, and the line that holds the article link
and everything after it are kept whole.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import regex

from distributor.channels.adapters.formats import ZWSP, is_boundary, measure
from distributor.errors import TooLong

ELLIPSIS = "\u2026"
_URL = r"|https?://[^\s<>]+"
_ATOMS = {
    "telegram-html": re.compile(
        r"<[^<>]*>|&(?:#\d{1,7}|#x[0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});" + _URL),
    "slack-mrkdwn": re.compile(r"<[^<>]*>|&(?:amp|lt|gt);" + _URL),
    "discord-markdown": re.compile(r"\\." + _URL, re.S),
    "whatsapp": re.compile(ZWSP + r"?[*_~`]" + ZWSP + "?" + _URL),
}
_TAG = re.compile(r"<(/?)([A-Za-z][\w-]*)[^<>]*>")
_GRAPHEME = regex.compile(r"\X")
# A word cut may give up this many characters of room before a grapheme cut is taken.
NEAR = 30

def shorten(text: str, limit: int, fmt: str, keep: Iterable[str] = ()) -> str:
    """`text` unchanged when it fits; otherwise cut as described above. `keep` are the
    forms the article link may take in `text` (raw, escaped)."""
    if measure(text, fmt) <= limit:
        return text
    head, sep, tail = _split_tail(text, [k for k in keep if k])
    first_cut = 0
    if tail and measure(tail, fmt) > limit:
        # The link sits early (a headline link): keep everything up to the end of its
        # line whole and shorten what follows it instead.
        link_line_end = len(head) + len(sep) + (tail + "\n").index("\n")
        if measure(text[:link_line_end], fmt) > limit:
            raise TooLong(f"the link line alone is over {limit}")
        head, sep, tail, first_cut = text, "", "", link_line_end

    def build(cut: int) -> str:
        part = head[:cut].rstrip()
        if not part:
            return tail
        return part + ELLIPSIS + closers(part, fmt) + sep + tail

    def fits(cut: int) -> bool:
        return measure(build(cut), fmt) <= limit

    blocked = _blocked(head, fmt)
    words = [i for i, ch in enumerate(head)
             if i >= first_cut and ch.isspace() and not blocked[i]]
    best = _largest_fitting(words, fits)
    graphemes = [i for i in _grapheme_starts(head) if i > first_cut and not blocked[i]]
    by_grapheme = _largest_fitting(graphemes, fits)
    if by_grapheme is not None and (best is None or not head[:best].strip()
                                    or by_grapheme - best > NEAR):
        best = by_grapheme
    result = build(best if best is not None else first_cut)
    if measure(result, fmt) > limit:
        raise TooLong(f"cannot shorten to {limit}")
    return result


def _split_tail(text: str, keep: list[str]) -> tuple[str, str, str]:
    found = [text.rfind(k) for k in keep]
    at = max(found, default=-1)
    if at < 0:
        return text, "", ""
    line_start = text.rfind("\n", 0, at) + 1
    head = text[:line_start].rstrip()
    return head, text[len(head):line_start], text[line_start:]


def _blocked(head: str, fmt: str) -> list[bool]:
    """blocked[i]: a cut just before head[i] would split an atom."""
    blocked = [False] * (len(head) + 1)
    pattern = _ATOMS.get(fmt)
    if pattern:
        for match in pattern.finditer(head):
            for i in range(match.start() + 1, match.end()):
                blocked[i] = True
    return blocked


def _grapheme_starts(text: str) -> list[int]:
    """Where a grapheme begins (a cut there splits none); a zero width space fences a
    marker and stays with it."""
    return [m.start() for m in _GRAPHEME.finditer(text)
            if m.start() and text[m.start() - 1] != ZWSP and text[m.start()] != ZWSP]


def _largest_fitting(cuts: list[int], fits) -> int | None:
    """The largest cut that fits; the length grows with the cut, so bisect, then step
    back a few in case spans closed differently."""
    low, high, found = 0, len(cuts) - 1, None
    while low <= high:
        middle = (low + high) // 2
        if fits(cuts[middle]):
            found, low = middle, middle + 1
        else:
            high = middle - 1
    if found is None:
        return None
    for index in range(found, max(-1, found - 50), -1):
        if fits(cuts[index]):
            return cuts[index]
    return None


def closers(part: str, fmt: str) -> str:
    """What closes the spans still open at the end of `part`."""
    if fmt == "telegram-html":
        stack: list[str] = []
        for match in _TAG.finditer(part):
            name = match.group(2).lower()
            if not match.group(1):
                stack.append(name)
            elif name in stack:
                del stack[len(stack) - 1 - stack[::-1].index(name):]
        return "".join(f"</{name}>" for name in reversed(stack))
    line = part.rsplit("\n", 1)[-1]
    if fmt == "discord-markdown":
        line = re.sub(r"\\.", "", line, flags=re.S)
        return "".join(m for m in ("~~", "__", "**") if line.count(m) % 2)
    if fmt in ("whatsapp", "slack-mrkdwn"):
        return "".join(reversed(_open_spans(line)))
    return ""


def _open_spans(line: str) -> list[str]:
    """Markers that opened a span on this line and were not closed (WhatsApp/Slack rule:
    open after a boundary before a non-space, close after a non-space before a boundary)."""
    stack: list[str] = []
    for i, ch in enumerate(line):
        if ch not in "*_~":
            continue
        before = line[i - 1] if i else None
        after = line[i + 1] if i + 1 < len(line) else None
        can_close = before is not None and not before.isspace() and is_boundary(after)
        can_open = is_boundary(before) and after is not None and not after.isspace()
        if can_close and ch in stack:
            del stack[len(stack) - 1 - stack[::-1].index(ch):]
        elif can_open:
            stack.append(ch)
    return stack
