"""The ``report`` control command: last night's morning report and its picture's data.

For clients that cannot read the journal themselves (``pc6 web`` runs as its own user): the
report text exactly as ``pc6 log --night last`` prints it, and each session's delivered level,
thinned to at most ``POINTS`` points per session so a reply stays small. While an experiment
is blind, its nights come as ``pc6 log`` shows them: "experiment night", no dose, no trace,
no interruption marks (each would hint at the arm).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from firmware_host.experiment.blind import open_for_display
from firmware_host.plan.schedule import night_bounds
from firmware_host.record.report import INTERRUPTIONS, morning_report, pick_night

if TYPE_CHECKING:
    from firmware_host.service.daemon import Daemon

POINTS = 240


def last_night(d: Daemon) -> dict[str, Any]:
    """The latest night with a session: its report text, traces and interruptions."""
    tz = d.config.tz if d.config else dt.UTC
    from firmware_host.service.morning_diary import diary_state

    with open_for_display(d.journal.path, read_only=True) as journal:
        report = _report(journal, tz)
    return {**report, "diary": diary_state(d)}


def _report(journal: Any, tz: dt.tzinfo) -> dict[str, Any]:
    hidden: set[int] = getattr(journal, "blinded", set())
    night = pick_night(journal, "last", tz)
    if night is None:
        return {"night": None, "text": "no sessions yet", "traces": [], "marks": []}
    start, end = night_bounds(night, tz)
    traces = []
    for s in journal.sessions_between(start, end):
        saved = journal.trace(s.id)
        if saved is None:
            continue
        t0, rows = saved
        traces.append(
            {
                "profile": s.profile,
                "kind": s.kind,
                "points": thin([(t0 + t, v) for t, v in rows], POINTS),
            }
        )
    marks = [
        {"at": round(at, 1), "kind": kind}
        for at, sid, kind, _ in journal.events_between(start, end)
        if kind in INTERRUPTIONS and sid not in hidden
    ]
    return {
        "night": night.isoformat(),
        "text": morning_report(journal, night, tz),
        "tz_offset_s": _offset(tz, start),
        "traces": traces,
        "marks": marks,
    }


def thin(points: list[tuple[float, float]], most: int) -> list[list[float]]:
    """At most ``most`` points of a stepped trace, keeping each bucket's highest level.

    A plain stride would drop short pulses; the peak of each bucket keeps them visible.
    """
    if len(points) <= most:
        return [[round(t, 1), round(v, 3)] for t, v in points]
    first, last = points[0][0], points[-1][0]
    width = (last - first) / most or 1.0
    buckets: dict[int, tuple[float, float]] = {}
    for t, v in points:
        key = min(int((t - first) / width), most - 1)
        held = buckets.get(key)
        if held is None or v > held[1]:
            buckets[key] = (first + key * width, v)
    out = [buckets[k] for k in sorted(buckets)]
    out.append(points[-1])
    return [[round(t, 1), round(v, 3)] for t, v in out]


def _offset(tz: dt.tzinfo, at: float) -> int:
    offset = dt.datetime.fromtimestamp(at, tz).utcoffset()
    return int(offset.total_seconds()) if offset else 0
