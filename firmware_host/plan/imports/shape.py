"""What every importer produces: a level over time, what it could not map, and its TOML.

An importer reads a phone haptic format into a :class:`Shape` — breakpoints of a
piecewise-linear level (two at the same time are a step), the same model as a timeline —
and names everything it could not map (sharpness, frequency, audio) instead of dropping
it. :meth:`Shape.to_toml` writes a profile that plays exactly those breakpoints and ends
at 0.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from firmware_host.errors import ProfileError
from firmware_host.files import read_regular, reason

MAX_IMPORT_BYTES = 1 << 20


@dataclass
class Shape:
    """Breakpoints ``(t_ms, level)`` and notes on what was not mapped."""

    source: str
    format: str
    points: list[tuple[int, float]] = field(default_factory=lambda: [(0, 0.0)])
    notes: list[str] = field(default_factory=list)
    tail: Shape | None = None  # a part that repeats (Android's repeat index)
    tail_total: str = ""

    def to(self, t_ms: int, level: float) -> None:
        """Go linearly from the last breakpoint to ``level`` at ``t_ms``."""
        self.points.append((t_ms, round(min(1.0, max(0.0, level)), 4)))

    def jump(self, t_ms: int, level: float) -> None:
        """Hold the last level until ``t_ms``, then step to ``level``."""
        last_t, last_v = self.points[-1]
        if t_ms > last_t:
            self.points.append((t_ms, last_v))
        self.to(t_ms, level)

    def steps(self) -> list[str]:
        """The breakpoints as profile steps (inline TOML tables)."""
        out: list[str] = []
        points: list[tuple[int, float]] = []
        for t, v in self.points:  # one flat stretch per level, not one per source entry
            if len(points) >= 2 and points[-1][1] == points[-2][1] == v and points[-2][0] < t:
                points[-1] = (t, v)
            else:
                points.append((t, v))
        for (t0, v0), (t1, v1) in zip(points, points[1:], strict=False):
            if t1 == t0:
                if v1 != v0:
                    out.append(f"{{ set = {v1:g} }}")
            elif v1 == v0:
                out.append(
                    f'{{ hold = "{t1 - t0}ms" }}' if v0 > 0 else f'{{ rest = "{t1 - t0}ms" }}'
                )
            else:
                out.append(f'{{ ramp = {v1:g}, over = "{t1 - t0}ms" }}')
        return out

    def to_toml(self, name: str) -> str:
        """A profile that plays the shape (and its repeating tail) and ends at 0."""
        if self.points[-1][1] != 0 and self.tail is None:
            self.notes.append(f"ended at level {self.points[-1][1]:g}; a step to 0 was added")
            self.to(self.points[-1][0], 0.0)
        unmapped = "; ".join(self.notes) if self.notes else "nothing"
        origin = f"{Path(self.source).name} ({self.format})"
        lines = [
            f"# Imported by `pc6 profile import` from {origin}.",
            *(f"# not mapped or approximated: {note}" for note in self.notes),
            f"name = {json.dumps(name)}",
            f"description = {json.dumps(f'Imported from {origin}.')}",
            'kinds = ["vibration"]',
            'intent = "other"',
            f"basis = {json.dumps(f'A haptic pattern; not mapped or approximated: {unmapped}.')}",
            "steps = [",
            *(f"  {step}," for step in self.steps()),
        ]
        if self.tail is not None:
            inner = ", ".join(self.tail.steps())
            lines.append(f'  {{ repeat = "{self.tail_total}", steps = [{inner}] }},')
            if self.tail.points[-1][1] != 0:
                lines.append("  { set = 0 },")
        lines.append("]")
        return "\n".join(lines) + "\n"


def read_json(path: Path) -> Any:
    """A JSON document of at most 1 MiB.

    Raises:
        ProfileError: unreadable, too large, or not JSON (with its line and column).
    """
    source = str(path)
    try:
        raw = read_regular(path, limit=MAX_IMPORT_BYTES, what="an import")
    except OSError as err:
        raise ProfileError(f"cannot read file: {reason(err)}", source=source) from err
    try:
        return json.loads(raw)
    except UnicodeDecodeError as err:
        raise ProfileError("not UTF-8 text", source=source) from err
    except json.JSONDecodeError as err:
        raise ProfileError(f"not valid JSON: {err.msg}", source=source, line=err.lineno) from err


class Fields:
    """Typed access to a JSON document; every error names the field's path."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, where: str, reason: str) -> ProfileError:
        return ProfileError(reason, source=self.source, field=where)

    def table(self, value: Any, where: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(where, f"must be an object, got {_kind(value)}")
        return value

    def array(self, value: Any, where: str) -> list[Any]:
        if not isinstance(value, list):
            raise self.fail(where, f"must be an array, got {_kind(value)}")
        return value

    def key(self, table: dict[str, Any], key: str, where: str) -> Any:
        if key not in table:
            raise self.fail(f"{where}.{key}" if where else key, f"missing required key {key!r}")
        return table[key]

    def number(
        self, value: Any, where: str, low: float = -math.inf, high: float = math.inf
    ) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
            raise self.fail(where, f"must be a number, got {_kind(value)}")
        if not low <= value <= high:
            raise self.fail(where, f"must be from {low:g} to {high:g}, got {value!r}")
        return float(value)


def _kind(value: Any) -> str:
    return repr(value) if isinstance(value, int | float | str | bool) else type(value).__name__


def ms(seconds: float) -> int:
    """Seconds to whole milliseconds, the timeline's time base."""
    return round(seconds * 1000)
