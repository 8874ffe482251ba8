"""Where the delivered level leaves the requested one, found as the delivered rows pass.

Both levels are sampled on their merged breakpoints (each breakpoint, and the midpoint to
the next); a stretch of samples more than 0.001 apart is a :class:`Change`, named by how the
delivered level leaves the requested one where it starts. :class:`ChangeFinder` does this
with a window of a few delivered rows, so the gate preview that ``pc6 run`` prints before a
session keeps nothing per breakpoint; :func:`summary_lines` words what it found.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from firmware_host.durations import format_duration
from firmware_host.plan.timeline import Timeline

#: How far apart two levels may be and still be "as requested".
TOLERANCE = 1e-3

LABELS = {
    "slowed": "rises slowed by the soft-start limit",
    "held back": "presses held back (rest at least as long as the press before)",
    "cut short": "stretches cut short or reshaped",
}


@dataclass(frozen=True)
class Change:
    """A stretch where what the wrist gets differs from what the profile asks for."""

    start_ms: int
    end_ms: int
    what: str  # "slowed" (soft start), "held back" (a whole press withheld), "cut short"


@dataclass
class ChangeTally:
    """How many changes of each kind, and where each kind first happens (ms)."""

    counts: dict[str, int] = field(default_factory=dict)
    first_ms: dict[str, int] = field(default_factory=dict)

    def add(self, change: Change) -> None:
        """Count ``change``."""
        self.counts[change.what] = self.counts.get(change.what, 0) + 1
        self.first_ms.setdefault(change.what, change.start_ms)

    @classmethod
    def of(cls, changes: Iterable[Change]) -> ChangeTally:
        """The tally of ``changes``, in order."""
        tally = cls()
        for change in changes:
            tally.add(change)
        return tally


def summary_lines(
    kind: str, tally: ChangeTally, limit_events: Iterable[tuple[int, str]]
) -> list[str]:
    """One plain line per kind of change, with a count and where it first happens."""
    lines = [
        f"{kind}: {tally.counts[what]} {label}, first at {format_duration(tally.first_ms[what])}"
        for what, label in LABELS.items()
        if what in tally.counts
    ]
    lines.extend(f"{kind}: at {format_duration(t)} {reason}" for t, reason in limit_events)
    return lines


class ChangeFinder:
    """Compares delivered rows, as they come, with the requested timeline.

    Call it with each delivered row ``(t_s, level)`` in time order (it is a trace sink),
    then :meth:`close` at the end; ``on_change`` gets each :class:`Change` as it ends.
    Only the delivered rows from the last one at or before the sample being taken are kept:
    a sample is taken once a row later than 1 ms past the next breakpoint has come (or at
    :meth:`close`), so every level it reads is already final.
    """

    def __init__(self, requested: Timeline, on_change: Callable[[Change], None]) -> None:
        self._req = requested
        self._on_change = on_change
        self._rows: deque[tuple[int, float]] = deque()  # delivered (ms, level)
        self._next_req = 0  # index of the first requested breakpoint not yet on the grid
        self._at: int | None = None  # the grid point sampled up to
        self._start: int | None = None  # where the open stretch of differences began
        self._what = ""  # how that stretch began
        self._closed = False

    def __call__(self, t_s: float, level: float) -> None:
        self._rows.append((round(t_s * 1000), level))
        self._advance()

    def close(self) -> None:
        """No more rows: sample to the end; a stretch still open is cut short."""
        self._closed = True
        self._advance()
        if self._start is not None:
            self._on_change(Change(self._start, self._req.duration_ms, "cut short"))
            self._start = None

    def _advance(self) -> None:
        """Sample every stretch between grid points whose levels are all known."""
        while (b := self._next_grid_point()) is not None:
            if not self._closed and (not self._rows or self._rows[-1][0] <= b + 1):
                return  # a row still to come may fall before b + 1
            a = self._at
            self._at = b
            if a is not None:
                self._sample(a)
                self._sample((a + b) / 2)
            rows = self._rows
            while len(rows) > 1 and rows[1][0] <= b:
                rows.popleft()

    def _next_grid_point(self) -> int | None:
        """The first breakpoint time, requested or delivered, after the last one sampled."""
        times, at = self._req.times_ms, self._at
        i = self._next_req
        while i < len(times) and at is not None and times[i] <= at:
            i += 1
        self._next_req = i
        found = times[i] if i < len(times) else None
        for t, _ in self._rows:
            if at is None or t > at:
                return t if found is None else min(found, t)
        return found

    def _sample(self, t: float) -> None:
        differs = abs(self._req.level_at(t) - self._delivered_at(t)) > TOLERANCE
        if differs and self._start is None:
            self._start = round(t)
            self._what = self._how(self._start)
        elif not differs and self._start is not None:
            self._on_change(Change(self._start, round(t), self._what))
            self._start = None

    def _how(self, t: int) -> str:
        """Why the delivered level leaves the requested one at ``t``: slowed, held, cut."""
        now, soon = self._delivered_at(t), self._delivered_at(t + 1)
        want = self._req.level_at(t + 1)
        if soon > now and want > soon:
            return "slowed"
        if soon <= 1e-9 and want > 0:
            return "held back"
        return "cut short"

    def _delivered_at(self, t: float) -> float:
        """The delivered level at ``t`` (after a step when exactly at it), from the window."""
        rows = self._rows
        k = 0
        while k + 1 < len(rows) and rows[k + 1][0] <= t:
            k += 1
        if k + 1 == len(rows):
            return rows[k][1]  # past the last row (only once closed: see _advance)
        (t0, v0), (t1, v1) = rows[k], rows[k + 1]
        return v0 + (v1 - v0) * (t - t0) / (t1 - t0)
