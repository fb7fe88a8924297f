"""Small SVG charts drawn on the server: no script, no CDN, readable by a screen reader
(role="img" with a title; the dashboard prints the same figures in a table beside)."""

from __future__ import annotations

from html import escape

WIDTH, HEIGHT, GAP = 640, 160, 2
COLOURS = ("#1f7a4d", "#b42318", "#1d4ed8", "#9a6200")


def _scale(peak: float) -> float:
    return peak if peak > 0 else 1.0


def columns(title: str, labels: list[str], series: dict[str, list[float]]) -> str:
    """Grouped columns, one group per label (a day), one colour per series, with a legend."""
    names = list(series)
    peak = _scale(max((v for values in series.values() for v in values), default=0))
    slot = WIDTH / max(len(labels), 1)
    bar = max((slot - 4) / max(len(names), 1) - GAP, 1)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 {WIDTH} '
             f'{HEIGHT + 34}" width="100%" aria-label="{escape(title)}">'
             f"<title>{escape(title)}</title>",
             f'<line x1="0" y1="{HEIGHT}" x2="{WIDTH}" y2="{HEIGHT}" stroke="#c9ccd3"/>']
    for i, label in enumerate(labels):
        for j, name in enumerate(names):
            value = series[name][i]
            height = (HEIGHT - 16) * value / peak  # the top 16 px hold the "max" label
            x = i * slot + 2 + j * (bar + GAP)
            parts.append(f'<rect x="{x:.1f}" y="{HEIGHT - height:.1f}" width="{bar:.1f}" '
                         f'height="{height:.1f}" fill="{COLOURS[j % len(COLOURS)]}">'
                         f"<title>{escape(label)} {escape(name)}: {value:g}</title></rect>")
    if labels:
        for i in sorted({0, len(labels) - 1}):
            anchor = "start" if i == 0 else "end"
            x = 0 if i == 0 else WIDTH
            parts.append(f'<text x="{x}" y="{HEIGHT + 14}" font-size="11" fill="#6b6f7a" '
                         f'text-anchor="{anchor}">{escape(labels[i])}</text>')
    for j, name in enumerate(names):
        x = j * 120
        parts.append(f'<rect x="{x}" y="{HEIGHT + 22}" width="10" height="10" '
                     f'fill="{COLOURS[j % len(COLOURS)]}"/><text x="{x + 14}" '
                     f'y="{HEIGHT + 31}" font-size="11" fill="#1c1d21">{escape(name)}</text>')
    parts.append(f'<text x="{WIDTH}" y="10" font-size="11" fill="#6b6f7a" '
                 f'text-anchor="end">max {peak:g}</text></svg>')
    return "".join(parts)


def bars(title: str, rows: list[tuple[str, float]], unit: str = "") -> str:
    """Horizontal bars, one per row (a label and its value), longest first as given."""
    row_height = 24
    height = row_height * max(len(rows), 1)
    peak = _scale(max((v for _, v in rows), default=0))
    label_width = 260
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 {WIDTH} '
             f'{height}" width="100%" aria-label="{escape(title)}">'
             f"<title>{escape(title)}</title>"]
    for i, (label, value) in enumerate(rows):
        y = i * row_height
        width = (WIDTH - label_width - 60) * value / peak
        short = label if len(label) <= 40 else label[:39] + "…"
        parts.append(f'<text x="0" y="{y + 16}" font-size="12" fill="#1c1d21">'
                     f"{escape(short)}</text>"
                     f'<rect x="{label_width}" y="{y + 5}" width="{width:.1f}" height="14" '
                     f'fill="{COLOURS[2]}"/><text x="{label_width + width + 6:.1f}" '
                     f'y="{y + 16}" font-size="12" fill="#1c1d21">{value:g}{escape(unit)}</text>')
    parts.append("</svg>")
    return "".join(parts)
