"""What the safety gate would change in a timeline, told before anything runs.

A profile can be valid and still ask for more than the gate allows an actuator kind: a
pressure rise faster than the soft-start limit, a press longer than the continuous limit, or
a rest shorter than the press before it. The gate will slow, cut or hold those; a builder
tuning a profile wants to know where, in words, without wearing it.
"""

from __future__ import annotations

from firmware_host.drive.actuator import ActuatorKind
from firmware_host.durations import format_duration
from firmware_host.guard.limits import Limits
from firmware_host.plan.timeline import Timeline


def gate_warnings(timeline: Timeline, kind: ActuatorKind, limits: Limits) -> list[str]:
    """Plain-language notes on where the gate would reshape ``timeline`` for ``kind``."""
    notes: list[str] = []
    pts = list(timeline.points())
    rise = limits.max_rise_per_s
    for (t0, v0), (t1, v1) in zip(pts, pts[1:], strict=False):
        if (
            rise != float("inf")
            and v1 > v0
            and (t1 == t0 or (v1 - v0) * 1000 / (t1 - t0) > rise + 1e-9)
        ):
            notes.append(
                f"{kind}: at {format_duration(t0)} the level rises faster than "
                f"{rise:g}/s; the gate slows it (soft start)"
            )
            break
    presses = _presses(pts)
    for start, end in presses:
        if (end - start) / 1000 > limits.max_continuous_on_s:
            notes.append(
                f"{kind}: the stretch at {format_duration(start)} lasts "
                f"{format_duration(end - start)}, over the {limits.max_continuous_on_s:g}"
                f" s continuous limit; the gate cuts it and rests"
            )
            break
    if limits.rest_ratio > 0:
        for (s0, e0), (s1, _) in zip(presses, presses[1:], strict=False):
            if s1 - e0 < (e0 - s0) * limits.rest_ratio - 1e-6:
                notes.append(
                    f"{kind}: the rest at {format_duration(e0)} "
                    f"({format_duration(s1 - e0)}) is shorter than the press before it "
                    f"({format_duration(e0 - s0)}); the gate holds the next press back"
                )
                break
    return notes


def _presses(pts: list[tuple[int, float]]) -> list[tuple[int, int]]:
    """(start, end) in ms of each stretch where the level is above 0."""
    out: list[tuple[int, int]] = []
    start: int | None = None
    for (t0, v0), (t1, v1) in zip(pts, pts[1:], strict=False):
        if start is None and v1 > 0:
            start = t0 if v0 == 0 else t1
        if start is not None and v1 == 0:
            out.append((start, t1))
            start = None
    return out
