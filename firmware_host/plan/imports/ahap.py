"""Apple AHAP patterns (JSON): haptic events shaped by intensity parameter curves.

A pattern is a list of entries, each one ``Event``, ``ParameterCurve`` or ``Parameter``:

- ``HapticContinuous`` events hold ``HapticIntensity`` for ``EventDuration`` seconds; Core
  Haptics limits a continuous event to 30 s and clamps out-of-range values to the nearest
  bound, so a longer one is clamped to 30 s here too (and named).
- ``HapticTransient`` events are a brief tap; a motor needs tens of milliseconds to be
  felt at all, so each becomes a pulse of :data:`TRANSIENT_MS`.
- ``HapticIntensityControl`` curves (control points relative to the curve's ``Time``,
  linear in between) and parameters multiply the intensity of every event under them.

Sharpness, attack/decay/release, audio events and any other parameter have no equivalent
on a band with one level; they are named in the result, never silently dropped.
"""

from __future__ import annotations

import bisect
from pathlib import Path
from typing import Any

from firmware_host.plan.imports.shape import Fields, Shape, ms, read_json

CONTINUOUS_MAX_S = 30.0  # Core Haptics: the maximum duration of a continuous event
TRANSIENT_MS = 100
INTENSITY_CONTROL = "HapticIntensityControl"


def import_ahap(path: Path) -> Shape:
    """Read an ``.ahap`` file.

    Raises:
        ProfileError: a missing or malformed field, named by its path.
    """
    f = Fields(str(path))
    doc = f.table(read_json(path), "(top level)")
    pattern = f.array(f.key(doc, "Pattern", ""), "Pattern")
    events: list[tuple[int, int, float]] = []  # start ms, end ms, intensity
    control: list[tuple[int, float]] = []  # intensity multiplier breakpoints
    unmapped: dict[str, int] = {}
    for i, entry in enumerate(pattern):
        where = f"Pattern[{i}]"
        item = f.table(entry, where)
        if "Event" in item:
            event = _event(f, f.table(item["Event"], f"{where}.Event"), f"{where}.Event", unmapped)
            if event is not None:
                events.append(event)
        elif "ParameterCurve" in item:
            _curve(
                f,
                f.table(item["ParameterCurve"], f"{where}.ParameterCurve"),
                f"{where}.ParameterCurve",
                control,
                unmapped,
            )
        elif "Parameter" in item:
            _parameter(
                f,
                f.table(item["Parameter"], f"{where}.Parameter"),
                f"{where}.Parameter",
                control,
                unmapped,
            )
        else:
            raise f.fail(where, "must hold an Event, a ParameterCurve or a Parameter")
    if not events:
        raise f.fail("Pattern", "has no haptic events")
    shape = Shape(str(path), "Apple AHAP")
    _render(shape, events, sorted(control, key=lambda p: p[0]))
    shape.notes.extend(f"{what} ({count})" for what, count in sorted(unmapped.items()))
    return shape


def _event(
    f: Fields, event: dict[str, Any], where: str, unmapped: dict[str, int]
) -> tuple[int, int, float] | None:
    kind = f.key(event, "EventType", where)
    start = ms(f.number(f.key(event, "Time", where), f"{where}.Time", 0, 43_200))
    params = f.array(event.get("EventParameters", []), f"{where}.EventParameters")
    intensity = 1.0
    for j, raw in enumerate(params):
        here = f"{where}.EventParameters[{j}]"
        param = f.table(raw, here)
        pid = f.key(param, "ParameterID", here)
        value = f.number(f.key(param, "ParameterValue", here), f"{here}.ParameterValue")
        if pid == "HapticIntensity":
            intensity = min(1.0, max(0.0, value))  # Core Haptics clamps to the range
        else:
            unmapped[f"{pid} of events"] = unmapped.get(f"{pid} of events", 0) + 1
    if kind == "HapticTransient":
        unmapped["transients played as 100 ms pulses"] = (
            unmapped.get("transients played as 100 ms pulses", 0) + 1
        )
        return start, start + TRANSIENT_MS, intensity
    if kind == "HapticContinuous":
        seconds = f.number(f.key(event, "EventDuration", where), f"{where}.EventDuration", 0)
        if seconds > CONTINUOUS_MAX_S:
            key = "continuous events longer than 30 s, clamped to 30 s as Core Haptics does"
            unmapped[key] = unmapped.get(key, 0) + 1
            seconds = CONTINUOUS_MAX_S
        return start, start + ms(seconds), intensity
    if isinstance(kind, str) and kind.startswith("Audio"):
        unmapped[f"{kind} events (sound)"] = unmapped.get(f"{kind} events (sound)", 0) + 1
        return None
    raise f.fail(f"{where}.EventType", f"must be HapticTransient or HapticContinuous, got {kind!r}")


def _curve(
    f: Fields,
    curve: dict[str, Any],
    where: str,
    control: list[tuple[int, float]],
    unmapped: dict[str, int],
) -> None:
    pid = f.key(curve, "ParameterID", where)
    base = ms(f.number(f.key(curve, "Time", where), f"{where}.Time", 0, 43_200))
    points = f.array(
        f.key(curve, "ParameterCurveControlPoints", where), f"{where}.ParameterCurveControlPoints"
    )
    parsed = []
    for j, raw in enumerate(points):
        here = f"{where}.ParameterCurveControlPoints[{j}]"
        point = f.table(raw, here)
        t = ms(f.number(f.key(point, "Time", here), f"{here}.Time", 0, 43_200))
        value = f.number(f.key(point, "ParameterValue", here), f"{here}.ParameterValue")
        parsed.append((base + t, min(1.0, max(0.0, value))))
    if pid != INTENSITY_CONTROL:
        unmapped[f"{pid} curves"] = unmapped.get(f"{pid} curves", 0) + 1
        return
    control.extend(parsed)


def _parameter(
    f: Fields,
    param: dict[str, Any],
    where: str,
    control: list[tuple[int, float]],
    unmapped: dict[str, int],
) -> None:
    pid = f.key(param, "ParameterID", where)
    t = ms(f.number(f.key(param, "Time", where), f"{where}.Time", 0, 43_200))
    value = f.number(f.key(param, "ParameterValue", where), f"{where}.ParameterValue")
    if pid != INTENSITY_CONTROL:
        unmapped[f"{pid} parameters"] = unmapped.get(f"{pid} parameters", 0) + 1
        return
    # A dynamic parameter changes the value at once: a step in the control curve.
    last = control[-1][1] if control else 1.0
    control.extend([(t, last), (t, min(1.0, max(0.0, value)))])


def _render(
    shape: Shape, events: list[tuple[int, int, float]], control: list[tuple[int, float]]
) -> None:
    """The loudest event at each moment, times the intensity control there."""
    edges = sorted({0, *(t for s, e, _ in events for t in (s, e)), *(t for t, _ in control)})
    times = [t for t, _ in control]

    def factor(t: float, after: bool) -> float:
        if not control:
            return 1.0
        k = (bisect.bisect_right if after else bisect.bisect_left)(times, t) - 1
        if k < 0:
            return 1.0 if t < control[0][0] else control[0][1]
        if k >= len(control) - 1:
            return control[-1][1]
        (t0, v0), (t1, v1) = control[k], control[k + 1]
        return v1 if t1 == t0 else v0 + (v1 - v0) * (t - t0) / (t1 - t0)

    def base(a: int, b: int) -> float:
        return max((v for s, e, v in events if s <= a and b <= e and s < e), default=0.0)

    for a, b in zip(edges, edges[1:], strict=False):
        level = base(a, b)
        shape.jump(a, level * factor(a, after=True))
        shape.to(b, level * factor(b, after=False))
    shape.jump(edges[-1], 0.0)
