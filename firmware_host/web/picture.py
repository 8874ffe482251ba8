"""Last night's delivered level as a small SVG, drawn here (no plotting library on the Pi).

Presentation attributes only (no ``style``), so the page's CSP needs no inline styles.
"""

from __future__ import annotations

import datetime as dt
from html import escape
from typing import Any

WIDTH, HEIGHT = 360, 150
LEFT, RIGHT, TOP, BOTTOM = 28, 8, 10, 22
COLOURS = ("#7fb8ff", "#ffc86b", "#9be39b", "#e59be3")


def night_svg(report: dict[str, Any]) -> str:
    """The traces of ``report`` (the daemon's ``report`` reply) as an SVG document."""
    traces = report.get("traces") or []
    points = [p for tr in traces for p in tr.get("points", [])]
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" role="img" font-family="sans-serif" font-size="10">',
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="#111"/>',
    ]
    if not points:
        parts.append(
            f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" fill="#999" '
            'text-anchor="middle">no trace recorded</text></svg>'
        )
        return "".join(parts)
    t0 = min(p[0] for p in points)
    t1 = max(p[0] for p in points)
    span = max(t1 - t0, 60.0)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(t: float) -> float:
        return round(LEFT + (t - t0) / span * plot_w, 1)

    def y(v: float) -> float:
        return round(TOP + (1 - min(max(v, 0.0), 1.1) / 1.1) * plot_h, 1)

    parts += _axes(t0, span, int(report.get("tz_offset_s") or 0), x, y)
    for at in (m["at"] for m in report.get("marks") or [] if t0 <= m["at"] <= t0 + span):
        parts.append(
            f'<line x1="{x(at)}" x2="{x(at)}" y1="{TOP}" y2="{TOP + plot_h}" '
            'stroke="#ff5c5c" stroke-width="1"/>'
        )
    for i, trace in enumerate(traces):
        steps = []
        last_v = 0.0
        for t, v in trace.get("points", []):
            steps.append(f"{x(t)},{y(last_v)} {x(t)},{y(v)}")
            last_v = v
        colour = COLOURS[i % len(COLOURS)]
        parts.append(
            f'<polyline fill="none" stroke="{colour}" stroke-width="1.5" '
            f'points="{" ".join(steps)}"><title>{escape(str(trace.get("profile")))}'
            "</title></polyline>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _axes(t0: float, span: float, offset_s: int, x: Any, y: Any) -> list[str]:
    tz = dt.timezone(dt.timedelta(seconds=offset_s))
    out = [
        f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(0)}" y2="{y(0)}" stroke="#555"/>',
        f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(1)}" y2="{y(1)}" stroke="#333" '
        'stroke-dasharray="3 3"/>',
        f'<text x="2" y="{y(1) + 3}" fill="#999">1.0</text>',
        f'<text x="2" y="{y(0) + 3}" fill="#999">0</text>',
    ]
    step = next((s for s in (60, 300, 900, 1800, 3600, 7200, 10800) if span / s <= 6), 21600)
    first = (int(t0 + offset_s) // step + 1) * step - offset_s
    tick = first
    while tick <= t0 + span:
        label = dt.datetime.fromtimestamp(tick, tz).strftime("%H:%M")
        out.append(
            f'<text x="{x(tick)}" y="{HEIGHT - 6}" fill="#999" text-anchor="middle">{label}</text>'
        )
        tick += step
    return out
