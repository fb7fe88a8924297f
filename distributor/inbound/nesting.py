"""A cheap look at body HTML before nh3 sees it: nh3 (html5ever) takes superlinear time
on deeply nested markup (990 KB of nested divs took minutes), so such a body is refused
here, in one linear pass, before it costs a worker its CPU."""

from __future__ import annotations

import re

MAX_DEPTH = 200
MAX_ELEMENTS = 50_000
_TAG = re.compile(r"<(/?)([A-Za-z][^\s/>]*)[^>]*?(/?)>")
_COMMENT = re.compile(r"<!--.*?-->", re.S)
# Never nest (void) or close themselves when the next one opens: they add no depth.
_FLAT = frozenset({
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
    "track", "wbr", "p", "li", "dt", "dd", "tr", "td", "th", "thead", "tbody", "tfoot",
    "option", "optgroup", "rt", "rp", "colgroup", "caption",
})


def nesting_problem(html: str) -> str | None:
    """Why this HTML is too deep or too big to sanitise, or None when it is fine."""
    depth = elements = 0
    for closing, name, self_closing in _TAG.findall(_COMMENT.sub("", html)):
        name = name.lower()
        if closing:
            if name not in _FLAT:
                depth = max(0, depth - 1)
            continue
        elements += 1
        if elements > MAX_ELEMENTS:
            return f"has more than {MAX_ELEMENTS} elements"
        if name not in _FLAT and not self_closing:
            depth += 1
            if depth > MAX_DEPTH:
                return f"nests elements more than {MAX_DEPTH} deep"
    return None
