"""Pictures of a timeline: a terminal plot, and a PNG through matplotlib (optional extra).

Both have to show duty cycling honestly — the safety of pressure rests on it — so a column
that holds several separate presses is drawn as a range (from its lowest to its highest
level) with a duty strip under it, never as one solid block at its peak.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from firmware_host.durations import format_duration
from firmware_host.pictures import import_pyplot
from firmware_host.plan.timeline import Timeline

_BLOCKS = " ▁▂▃▄▅▆▇█"
DETAIL_ABOVE_MS = 30 * 60 * 1000  # longer than this: an overview and a detail panel


def column_figures(timeline: Timeline, width: int) -> list[tuple[float, float, float]]:
    """(lowest level, highest level, fraction of time on) of each of ``width`` columns."""
    duration = timeline.duration_ms
    pts = list(timeline.points())
    out: list[tuple[float, float, float]] = []
    k = 0
    for c in range(width):
        a, b = duration * c / width, duration * (c + 1) / width
        while k < len(pts) - 1 and pts[k + 1][0] < a:
            k += 1
        values = [timeline.level_at(a), timeline.level_at(b)]
        on = 0.0
        j = k
        while j < len(pts) - 1 and pts[j][0] <= b:
            (t0, v0), (t1, v1) = pts[j], pts[j + 1]
            lo, hi = max(a, t0), min(b, t1)
            if a <= t0 <= b:
                values.append(v0)
            if a <= t1 <= b:
                values.append(v1)
            if hi > lo and (v0 > 0 or v1 > 0):
                on += hi - lo  # a linear piece that is above 0 at one end is on throughout
            j += 1
        out.append((min(values), max(values), on / (b - a) if b > a else 0.0))
    return out


def terminal_plot(
    timeline: Timeline,
    width: int = 72,
    height: int = 8,
    *,
    marks: Sequence[tuple[int, int]] = (),
) -> str:
    """Each column's range of levels (█ where it is always at least this, ░ up to its
    highest), a duty strip (tenths of the column that are on), and ``marks`` — spans in ms
    where the gate changes the requested level — as ▲ under the columns they touch.
    """
    duration = timeline.duration_ms
    columns = column_figures(timeline, width)
    rows = []
    for r in range(height, 0, -1):
        line = ""
        for low, high, _ in columns:
            line += _cell(low, high, r, height)
        label = f"{r / height:4.2f} │" if r in (height, (height + 1) // 2) else "     │"
        rows.append(label + line)
    rows.append("     └" + "─" * width)
    duty = "".join(_duty_char(d) for *_, d in columns)
    rows.append("duty  " + duty)
    if marks:
        marked = [" "] * width
        for start, end in marks:
            first = min(width - 1, int(start * width / duration))
            last = min(width - 1, int(max(start, end - 1) * width / duration))
            for c in range(first, last + 1):
                marked[c] = "▲"
        rows.append("gate  " + "".join(marked))
    rows.append("      0" + format_duration(duration).rjust(width - 1))
    legend = "      █ on throughout  ░ range within a column  duty: tenths on"
    rows.append(legend + ("  ▲ gate changes it" if marks else ""))
    return "\n".join(rows)


def _duty_char(duty: float) -> str:
    """How much of a column is on: blank none, · under a tenth, 1–9 tenths, █ all."""
    if duty <= 0:
        return " "
    if duty >= 0.995:
        return "█"
    return "·" if duty < 0.1 else str(int(duty * 10))


def _cell(low: float, high: float, r: int, height: int) -> str:
    """Row ``r`` of a column: solid where it is always at least this, ░ up to its highest."""
    floor, top = low * height - (r - 1), high * height - (r - 1)
    if floor >= 1:
        return _BLOCKS[8]
    if top <= 1 / 16:
        return " "
    if low == high:
        return _BLOCKS[max(1, min(8, round(top * 8)))]
    return "░"


def png_plot(
    timeline: Timeline,
    path: str | Path,
    *,
    title: str = "",
    delivered: Timeline | None = None,
    marks: Sequence[tuple[int, int]] = (),
    kind: str = "",
) -> None:
    """Draw the timeline to a picture file (its extension picks the format).

    With ``delivered``, the picture shows what the wrist gets on ``kind`` filled, what the
    profile asks for as a dashed line, and ``marks`` (ms spans the gate changes) shaded.
    A profile longer than half an hour gets an overview and a detail panel of its first
    on-stretches, so a night's short bursts are not hair-thin spikes.

    Raises:
        PC6Error: matplotlib is not installed.
    """
    plt = import_pyplot()
    long = timeline.duration_ms > DETAIL_ABOVE_MS
    fig, axes = plt.subplots(
        2 if long else 1, 1, figsize=(11, 6.4 if long else 3.4), dpi=120, squeeze=False
    )
    shown = delivered or timeline
    scale, unit = _time_unit(timeline.duration_ms)
    _panel(axes[0][0], timeline, delivered, marks, 0, timeline.duration_ms, scale, unit, kind)
    heading = title or timeline.name
    if kind:
        heading += f" — as delivered on {kind}"
    axes[0][0].set_title(heading)
    if long:
        start, end = _detail_window(shown)
        d_scale, d_unit = _time_unit(end - start)
        ax = axes[1][0]
        _panel(ax, timeline, delivered, marks, start, end, d_scale, d_unit, kind)
        ax.set_title(
            f"detail: {format_duration(start)} to {format_duration(end)}", fontsize="medium"
        )
        axes[0][0].axvspan(start / scale, end / scale, color="#f5c211", alpha=0.25, lw=0)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _time_unit(span_ms: int) -> tuple[float, str]:
    if span_ms > 3 * 3600 * 1000:
        return 3600 * 1000.0, "h"
    if span_ms > 5 * 60 * 1000:
        return 60 * 1000.0, "min"
    return 1000.0, "s"


def _detail_window(timeline: Timeline) -> tuple[int, int]:
    """The first burst — from its first rise to the first rest of half a minute or more —
    with a little margin, so single pulses are visible."""
    pts = list(timeline.points())
    first_on = next((t for t, v in pts if v > 0), 0)
    end = timeline.duration_ms
    for (t0, v0), (t1, v1) in zip(pts, pts[1:], strict=False):
        if t0 >= first_on and v0 == 0 and v1 == 0 and t1 - t0 >= 30_000:
            end = t0
            break
    start = max(0, first_on - 5_000)
    return start, min(timeline.duration_ms, max(start + 30_000, end + 5_000))


def _panel(
    ax: Any,
    requested: Timeline,
    delivered: Timeline | None,
    marks: Sequence[tuple[int, int]],
    start: int,
    end: int,
    scale: float,
    unit: str,
    kind: str,
) -> None:
    shown = delivered or requested
    if delivered is not None:
        ax.plot(
            [t / scale for t in requested.times_ms],
            requested.levels,
            lw=0.8,
            ls="--",
            color="#888a85",
            label="requested by the profile",
        )
        for i, (a, b) in enumerate(marks):
            ax.axvspan(
                a / scale,
                max(b, a + 1) / scale,
                color="#cc0000",
                alpha=0.18,
                lw=0,
                label="changed by the safety gate" if i == 0 else None,
            )
    xs = [t / scale for t in shown.times_ms]
    label = f"delivered on {kind}" if delivered is not None else "level"
    ax.fill_between(xs, shown.levels, color="#3465a4", alpha=0.45, lw=0, label=label)
    ax.plot(xs, shown.levels, lw=0.9, color="#204a87")
    if delivered is not None:
        ax.legend(loc="upper right", fontsize="small", framealpha=0.9)
    ax.set_ylim(0, 1.05)
    ax.set_xlim(start / scale, end / scale)
    ax.set_xlabel(f"time from start ({unit})")
    ax.set_ylabel("level (0–1 of comfortable max)")
    ax.grid(alpha=0.3)
