"""A picture of one night from the journal: what the wrist got, when, and what cut in.

The time axis is real elapsed time, labelled in local time with its zone, ticks on round
local hours; a daylight-saving change is drawn and named (00:00 → 02:12 must not look like
132 minutes); a simulated night says SIMULATED across the picture; each session is named
where it starts, and cuts, trips, faults and link drops are marked where they happened.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from firmware_host.errors import InvalidInput
from firmware_host.pictures import check_output_path, import_pyplot
from firmware_host.plan.schedule import night_bounds
from firmware_host.record.journal import Journal, SessionRow

MARKED = {
    "limit": ("cut by a limit", "#a40000"),
    "trip": ("safety trip", "#cc0000"),
    "fault": ("fault", "#cc0000"),
    "link": ("link", "#75507b"),
    "button": ("button", "#204a87"),
    "paused": ("paused", "#555753"),
}
STEP_S = 900  # zone offsets change on quarter hours at the finest


@dataclass(frozen=True)
class ClockChange:
    """A daylight-saving (or other offset) change inside the plotted span."""

    at: float  # epoch seconds
    before: str  # local wall time just before, e.g. "01:00 GMT"
    after: str  # local wall time at the change, e.g. "02:00 BST"

    @property
    def label(self) -> str:
        """``clocks 01:00 GMT → 02:00 BST``."""
        return f"clocks {self.before} → {self.after}"


def clock_changes(start: float, end: float, tz: dt.tzinfo) -> list[ClockChange]:
    """Every change of the zone's UTC offset between ``start`` and ``end``."""
    out: list[ClockChange] = []
    t = start - start % STEP_S
    previous = dt.datetime.fromtimestamp(t, tz).utcoffset()
    while t < end:
        t += STEP_S
        offset = dt.datetime.fromtimestamp(t, tz).utcoffset()
        if offset != previous:
            before = dt.datetime.fromtimestamp(t, dt.UTC) + (previous or dt.timedelta())
            after = dt.datetime.fromtimestamp(t, tz)
            zone_before = dt.datetime.fromtimestamp(t - 1, tz).strftime("%Z")
            out.append(
                ClockChange(
                    t, f"{before:%H:%M} {zone_before}", f"{after:%H:%M} {after.strftime('%Z')}"
                )
            )
            previous = offset
    return out


def round_ticks(start: float, end: float, tz: dt.tzinfo) -> list[float]:
    """Epoch seconds of round local hours in the span, every 1, 2 or 3 hours."""
    span_h = (end - start) / 3600
    every = 1 if span_h <= 10 else 2 if span_h <= 20 else 3
    ticks: list[float] = []
    t = start - start % STEP_S
    while t <= end:
        local = dt.datetime.fromtimestamp(t, tz)
        if local.minute == 0 and local.hour % every == 0 and t >= start:
            ticks.append(t)
        t += STEP_S
    return ticks


def zone_name(tz: dt.tzinfo, start: float, end: float) -> str:
    """``Europe/London, GMT → BST`` — the zone and its abbreviations over the span."""
    key = getattr(tz, "key", None) or str(tz)
    first = dt.datetime.fromtimestamp(start, tz).strftime("%Z")
    last = dt.datetime.fromtimestamp(end, tz).strftime("%Z")
    return f"{key}, {first}" + (f" → {last}" if last != first else "")


def write_night_plot(
    journal: Journal, night: dt.date, tz: dt.tzinfo, path: str, *, simulated: bool = False
) -> str:
    """Check ``--plot PATH``, draw the night there, and say exactly what was written.

    Raises:
        InvalidInput: a missing folder, an unknown extension, or a file that cannot be written.
    """
    out = check_output_path(path, "--plot")
    try:
        plot_night(journal, night, tz, out, simulated=simulated)
    except OSError as err:
        raise InvalidInput(f"--plot {path}: cannot write {out}: {err.strerror}") from err
    added = "" if str(out) == path else " (a name without an extension gets .png)"
    return f"wrote {out}{added}"


def plot_night(
    journal: Journal, night: dt.date, tz: dt.tzinfo, out: str | Path, *, simulated: bool = False
) -> None:
    """Draw the night of ``night`` to a picture file (PNG unless its extension says else).

    ``simulated`` marks it SIMULATED even if the journal's sessions do not say so.
    """
    plt = import_pyplot()
    fig = draw_night(journal, night, tz, simulated=simulated)
    fig.savefig(out)
    plt.close(fig)


def draw_night(journal: Journal, night: dt.date, tz: dt.tzinfo, *, simulated: bool = False) -> Any:
    """The night's matplotlib figure (see :func:`plot_night`)."""
    plt = import_pyplot()
    start, end = night_bounds(night, tz)
    sessions = journal.sessions_between(start, end)
    events = journal.events_between(start, end + 86_400)
    lo, hi = _span(sessions, start, end)
    fig, ax = plt.subplots(figsize=(12, 4.2), dpi=120)
    ax.set_ylim(0, 1.22)
    ax.set_xlim(0, (hi - lo) / 3600)
    _draw_sessions(ax, journal, sessions, lo, tz)
    _draw_events(ax, events, lo, hi)
    changes = clock_changes(lo, hi, tz)
    for change in changes:
        x = (change.at - lo) / 3600
        ax.axvline(x, color="#4e9a06", ls="--", lw=1.2, label="clock change")
        ax.text(
            x, 0.62, f" {change.label} ", color="#4e9a06", fontsize=8, va="center",
            ha="left", bbox={"fc": "white", "ec": "#4e9a06", "alpha": 0.9, "pad": 2},
        )  # fmt: skip
    ticks = round_ticks(lo, hi, tz)
    ax.set_xticks([(t - lo) / 3600 for t in ticks])
    ax.set_xticklabels([dt.datetime.fromtimestamp(t, tz).strftime("%H:%M") for t in ticks])
    ax.set_xlabel(f"local time ({zone_name(tz, lo, hi)}); spacing is real elapsed time")
    ax.set_ylabel("delivered level (0–1 of comfortable max)")
    ax.grid(alpha=0.25)
    is_sim = simulated or any(s.simulated for s in sessions)
    title = f"pc6band — night of {night}"
    if not sessions:
        title += " (no sessions)"
    ax.set_title(title + (" — SIMULATED" if is_sim else ""))
    if is_sim:
        ax.text(
            0.5, 0.5, "SIMULATED", transform=ax.transAxes, fontsize=46, color="#888a85",
            alpha=0.18, ha="center", va="center", rotation=12, weight="bold",
        )  # fmt: skip
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        unique = dict(zip(labels, handles, strict=True))
        ax.legend(
            unique.values(), unique.keys(), fontsize=7, loc="upper left",
            bbox_to_anchor=(1.005, 1.0), borderaxespad=0,
        )  # fmt: skip
    fig.tight_layout()
    return fig


def _span(sessions: list[SessionRow], start: float, end: float) -> tuple[float, float]:
    """From half an hour before the first session to half an hour after the last, on hours."""
    if not sessions:
        return start, end
    first = min(s.started_at for s in sessions) - 1800
    last = max((s.ended_at or s.started_at + (s.duration_s or 0)) for s in sessions) + 1800
    return first - first % 3600, min(end, last - last % 3600 + 3600)


def _draw_sessions(
    ax: Any, journal: Journal, sessions: list[SessionRow], lo: float, tz: dt.tzinfo
) -> None:
    palette = ["#3465a4", "#f57900", "#73d216", "#75507b", "#c17d11"]
    colours: dict[str, str] = {}
    for s in sessions:
        colour = colours.setdefault(s.profile, palette[len(colours) % len(palette)])
        saved = journal.trace(s.id)
        if saved is not None:
            t0, rows = saved
            xs = [(t0 + t - lo) / 3600 for t, _ in rows]
            ax.fill_between(xs, [v for _, v in rows], color=colour, alpha=0.35, lw=0)
            ax.plot(xs, [v for _, v in rows], color=colour, lw=0.8, label=f"{s.profile} ({s.kind})")
        x = (s.started_at - lo) / 3600
        when = dt.datetime.fromtimestamp(s.started_at, tz).strftime("%H:%M")
        ended = f", {s.reason}" if s.reason and s.reason != "completed" else ""
        ax.annotate(
            f"{when} {s.profile}{ended}", (x, 1.03), fontsize=7, rotation=35, color=colour,
            va="bottom", ha="left",
        )  # fmt: skip


def _draw_events(
    ax: Any, events: list[tuple[float, int | None, str, str]], lo: float, hi: float
) -> None:
    for at, _, kind, detail in events:
        if kind not in MARKED or not lo <= at <= hi:
            continue
        label, colour = MARKED[kind]
        x = (at - lo) / 3600
        ax.axvline(x, color=colour, alpha=0.7, lw=0.9, label=label)
        ax.text(x, 0.9, f" {kind}: {detail[:40]}", fontsize=6, color=colour, rotation=90, va="top")
