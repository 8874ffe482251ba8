"""Lofelt / Nice Vibrations ``.haptic`` clips (JSON, version 1).

A clip's ``signals.continuous.envelopes.amplitude`` is a list of breakpoints
``{"time": s, "amplitude": 0–1}``, linear in between; a breakpoint may carry an
``emphasis`` (a short accent with its own amplitude and frequency), and a separate
``frequency`` envelope shapes the motor's pitch. A band has one level, so emphasis and
frequency are named, not mapped.
"""

from __future__ import annotations

from pathlib import Path

from firmware_host.plan.imports.shape import Fields, Shape, ms, read_json


def import_lofelt(path: Path) -> Shape:
    """Read a ``.haptic`` clip.

    Raises:
        ProfileError: a missing or malformed field, named by its path.
    """
    f = Fields(str(path))
    doc = f.table(read_json(path), "(top level)")
    version = f.table(f.key(doc, "version", ""), "version")
    major = f.key(version, "major", "version")
    if major != 1:
        raise f.fail("version.major", f"this reads version 1 clips, got {major!r}")
    signals = f.table(f.key(doc, "signals", ""), "signals")
    continuous = f.table(f.key(signals, "continuous", "signals"), "signals.continuous")
    where = "signals.continuous.envelopes"
    envelopes = f.table(f.key(continuous, "envelopes", "signals.continuous"), where)
    points = f.array(f.key(envelopes, "amplitude", where), f"{where}.amplitude")
    if not points:
        raise f.fail(f"{where}.amplitude", "must hold at least one breakpoint")
    shape = Shape(str(path), "Lofelt .haptic clip")
    emphasis = 0
    last = -1
    for i, item in enumerate(points):
        here = f"{where}.amplitude[{i}]"
        point = f.table(item, here)
        t = ms(f.number(f.key(point, "time", here), f"{here}.time", 0, 43_200))
        level = f.number(f.key(point, "amplitude", here), f"{here}.amplitude", 0, 1)
        if t < last:
            raise f.fail(f"{here}.time", "times must not go back from breakpoint to breakpoint")
        if "emphasis" in point:
            emphasis += 1
        if i == 0:
            shape.jump(t, level)  # silent until the first breakpoint
        else:
            shape.to(t, level)
        last = t
    if emphasis:
        shape.notes.append(f"{emphasis} emphasis accents (amplitude and frequency)")
    frequency = envelopes.get("frequency")
    if frequency:
        count = len(frequency) if isinstance(frequency, list) else 1
        shape.notes.append(f"the frequency envelope ({count} breakpoints)")
    return shape
