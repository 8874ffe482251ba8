"""Traces: the level delivered to the actuator, as breakpoints, streamed to CSV.

Commands arrive as "go to level L linearly over r seconds" (r = 0 for a step). The
recorder turns them into breakpoints ``(t_s, level)``: the level moves linearly between two
rows, a step is two rows at the same time, and a ramp cut short by a new command ends where
it was cut. Rows are written as they become final, so a killed process leaves a valid file.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import IO

RowSink = Callable[[float, float], None]


class TraceRecorder:
    """Turns level commands into breakpoints, relative to ``t0``."""

    def __init__(self, t0: float, sink: RowSink | None = None) -> None:
        self.t0 = t0
        self.rows: list[tuple[float, float]] = []
        self._sink = sink
        # The motion in progress: from (ta, va) to (tb, vb); tb == ta when holding.
        self._ta = self._tb = 0.0
        self._va = self._vb = 0.0
        self._emit(0.0, 0.0)

    def level_at(self, t: float) -> float:
        """The delivered level at absolute time ``t`` (not before the last command)."""
        rel = t - self.t0
        if rel >= self._tb - 1e-6 or self._tb == self._ta:
            return self._vb
        if rel <= self._ta:
            return self._va
        return self._va + (self._vb - self._va) * (rel - self._ta) / (self._tb - self._ta)

    def record(self, t: float, level: float, ramp_s: float = 0.0) -> None:
        """Note that at absolute time ``t`` the output was told to go to ``level``."""
        rel = self._rel(t)
        current = self.level_at(t)
        moving = self._ta <= rel < self._tb - 1e-6 and self._va != self._vb
        if moving and level == self._vb and abs(rel + ramp_s - self._tb) < 2e-6:
            return  # a lease refresh of the ramp in progress
        if not moving and self._tb < rel:
            self._emit(self._tb, self._vb)  # end of the last motion, if not yet written
        if level == current and not moving:
            return  # a refresh of what is already happening changes nothing
        self._emit(rel, current)
        if ramp_s > 0:
            self._ta, self._va, self._tb, self._vb = rel, current, round(rel + ramp_s, 6), level
        else:
            self._emit(rel, level)
            self._ta = self._tb = rel
            self._va = self._vb = level

    def finish(self, t: float) -> None:
        """Close the trace at absolute time ``t`` (the ramp in progress, then the hold)."""
        rel = self._rel(t)
        if self._tb <= rel:
            self._emit(self._tb, self._vb)
        else:
            self._emit(rel, self.level_at(t))
            self._ta = self._tb = rel
            self._va = self._vb = self.level_at(t)
        self._emit(rel, self._vb)

    def _rel(self, t: float) -> float:
        # Whole microseconds: the virtual clock's tick, and far below real-clock jitter.
        return round(t - self.t0, 6)

    def _emit(self, rel: float, level: float) -> None:
        if self.rows and self.rows[-1] == (rel, level):
            return
        self.rows.append((rel, level))
        if self._sink:
            self._sink(rel, level)

    def dose(self) -> float:
        """Integral of the delivered level over time (level·seconds)."""
        return sum(
            (v0 + v1) / 2 * (t1 - t0)
            for (t0, v0), (t1, v1) in zip(self.rows, self.rows[1:], strict=False)
        )

    def peak(self) -> float:
        """Highest delivered level."""
        return max(v for _, v in self.rows)


class CsvTraceWriter:
    """Writes ``t_s,level`` rows to a text file as they come, flushed each time."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream
        stream.write("t_s,level\n")
        stream.flush()

    def __call__(self, t_s: float, level: float) -> None:
        self._stream.write(f"{t_s:.6f},{level:.6f}\n")
        self._stream.flush()
