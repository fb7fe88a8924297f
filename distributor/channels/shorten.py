"""Shorten formatted channel text to a service's limit.

The cut falls at a word boundary (a character boundary only for a single word
longer than the room left), never inside a tag, an entity, an escape or a
grapheme (combining marks, virama conjuncts, emoji sequences). Spans opened
before the cut are closed again, an ellipsis marks the cut, and the line that
holds the article link and everything after it are kept whole.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from distributor.channels.adapters.formats import ZWSP, is_boundary, measure
from distributor.errors import TooLong

ELLIPSIS = "\u2026"
_ATOMS = {
    "telegram-html": re.compile(
        r"<[^<>]*>|&(?:#\d{1,7}|#x[0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});"),
    "slack-mrkdwn": re.compile(r"<[^<>]*>|&(?:amp|lt|gt);"),
    "discord-markdown": re.compile(r"\\.", re.S),
    "whatsapp": re.compile(ZWSP + r"?[*_~`]" + ZWSP + "?"),
}
_TAG = re.compile(r"<(/?)([A-Za-z][\w-]*)[^<>]*>")
_JOINERS = {"\u200d", "\u034f"}




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
    if best is None or not head[:best].strip():
        chars = [i for i in range(max(1, first_cut), len(head))
                 if not blocked[i] and _may_cut(head, i)]
        best = _largest_fitting(chars, fits)
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


def _may_cut(text: str, i: int) -> bool:
    """Between text[i-1] and text[i] without splitting a grapheme."""
    before, after = text[i - 1], text[i]
    if unicodedata.category(after).startswith("M") or after in _JOINERS or before in _JOINERS:
        return False
    if unicodedata.combining(before) == 9:  # virama: the next consonant joins the conjunct
        return False
    if "\ufe00" <= after <= "\ufe0f" or "\U0001f3fb" <= after <= "\U0001f3ff":
        return False
    if "\U000e0020" <= after <= "\U000e007f":  # emoji tag sequences
        return False
    if "\U0001f1e6" <= before <= "\U0001f1ff" and "\U0001f1e6" <= after <= "\U0001f1ff":
        return text[:i].count(before) % 2 == 0  # regional indicator pairs (rough)
    return not (before == ZWSP or after == ZWSP)


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
