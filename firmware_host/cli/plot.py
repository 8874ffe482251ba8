"""Pictures of a timeline: a terminal plot, and a PNG through matplotlib (optional extra)."""

from __future__ import annotations

from firmware_host.durations import format_duration
from firmware_host.errors import PC6Error
from firmware_host.plan.timeline import Timeline

_BLOCKS = " ▁▂▃▄▅▆▇█"


def terminal_plot(timeline: Timeline, width: int = 72, height: int = 8) -> str:
    """The highest level in each column, drawn with block characters, with a time axis."""
    duration = timeline.duration_ms
    columns = []
    pts = list(timeline.points())
    for c in range(width):
        a, b = duration * c / width, duration * (c + 1) / width
        inside = [v for t, v in pts if a <= t <= b]
        columns.append(max([timeline.level_at(a), timeline.level_at(b), *inside]))
    rows = []
    for r in range(height, 0, -1):
        line = ""
        for level in columns:
            fill = level * height - (r - 1)
            line += _BLOCKS[max(0, min(8, round(fill * 8)))] if fill < 1 else _BLOCKS[8]
        label = f"{r / height:4.2f} │" if r in (height, (height + 1) // 2) else "     │"
        rows.append(label + line)
    rows.append("     └" + "─" * width)
    end = format_duration(duration)
    rows.append("      0" + end.rjust(width - 1))
    return "\n".join(rows)


def png_plot(timeline: Timeline, path: str, *, title: str = "") -> None:
    """Draw the timeline to a PNG file.

    Raises:
        PC6Error: matplotlib is not installed (``pip install 'pc6band[plot]'``).
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as err:
        raise PC6Error("plotting needs matplotlib: pip install 'pc6band[plot]'") from err
    seconds = [t / 1000 for t in timeline.times_ms]
    scale, unit = (60.0, "min") if seconds[-1] > 300 else (1.0, "s")
    fig, ax = plt.subplots(figsize=(10, 3.2), dpi=110)
    ax.plot([s / scale for s in seconds], timeline.levels, lw=1.2, color="#3465a4")
    ax.fill_between([s / scale for s in seconds], timeline.levels, alpha=0.25, color="#3465a4")
    ax.set_ylim(0, 1.05)
    ax.set_xlim(0, seconds[-1] / scale)
    ax.set_xlabel(f"time ({unit})")
    ax.set_ylabel("level (of comfortable max)")
    ax.set_title(title or timeline.name)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
