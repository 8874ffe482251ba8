"""Traces: the level delivered to the actuator, as breakpoints, streamed as they happen.

Commands arrive as "go to level L linearly over r seconds" (r = 0 for a step). The
recorder turns them into breakpoints ``(t_s, level)``: the level moves linearly between two
rows, a step is two rows at the same time, and a ramp cut short by a new command ends where
it was cut. Rows go to a sink as they become final (a killed process leaves a valid file);
the dose and the peak are summed as rows pass, so memory does not grow with the session.

:class:`TracedActuator` is the tap: it sits on the actuator and records exactly what the
backend was told, including a lease that ran out on the far end (the band, the gpio
backend's own lease) while nobody refreshed it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import IO

from firmware_host.clock import EPSILON_S, Clock
from firmware_host.drive.actuator import Actuator
from firmware_host.drive.wrapper import ActuatorWrapper

RowSink = Callable[[float, float], None]


class TraceRecorder:
    """Turns level commands into breakpoints, relative to ``t0``.

    ``keep_rows`` keeps every row in :attr:`rows` (tests look at them); a session leaves it
    off and streams rows to ``sink``.
    """

    def __init__(
        self,
        t0: float,
        sink: RowSink | None = None,
        *,
        sinks: Sequence[RowSink] = (),
        keep_rows: bool = False,
    ) -> None:
        self.t0 = t0
        self.rows: list[tuple[float, float]] = []
        self._keep = keep_rows
        self._sinks: list[RowSink] = ([sink] if sink else []) + list(sinks)
        self._last: tuple[float, float] | None = None
        self._dose = 0.0
        self._peak = 0.0
        self.count = 0
        # The motion in progress: from (ta, va) to (tb, vb); tb == ta when holding.
        self._ta = self._tb = 0.0
        self._va = self._vb = 0.0
        self._emit(0.0, 0.0)

    def level_at(self, t: float) -> float:
        """The delivered level at absolute time ``t`` (not before the last command)."""
        return self._level_rel(t - self.t0)

    def _level_rel(self, rel: float) -> float:
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
            level = self.level_at(t)
            self._emit(rel, level)
            self._ta = self._tb = rel
            self._va = self._vb = level
        self._emit(rel, self._vb)

    def _rel(self, t: float) -> float:
        # Whole microseconds: the virtual clock's tick, and far below real-clock jitter.
        return round(t - self.t0, 6)

    def _emit(self, rel: float, level: float) -> None:
        last = self._last
        if last == (rel, level):
            return
        if last is not None:
            self._dose += (last[1] + level) / 2 * (rel - last[0])
        self._peak = max(self._peak, level)
        self._last = (rel, level)
        self.count += 1
        if self._keep:
            self.rows.append((rel, level))
        for sink in self._sinks:
            sink(rel, level)

    @property
    def last_row(self) -> tuple[float, float]:
        """The newest row written."""
        assert self._last is not None
        return self._last

    def dose(self, until: float | None = None) -> float:
        """Integral of the delivered level over time (level·seconds).

        Up to the last row written; with ``until`` (absolute time), the motion in progress
        is counted up to then as well.
        """
        if until is None or self._last is None:
            return self._dose
        a, b = self._last[0], self._rel(until)
        return self._dose + self._area(a, b)

    def _area(self, a: float, b: float) -> float:
        """Integral of the motion in progress over ``[a, b]`` (relative times)."""
        if b <= a:
            return 0.0
        area = 0.0
        lo, hi = max(a, self._ta), min(b, self._tb)
        if hi > lo:
            area += (self._level_rel(lo) + self._level_rel(hi)) / 2 * (hi - lo)
        start = max(a, self._tb)
        if b > start:
            area += self._vb * (b - start)
        return area

    def peak(self, until: float | None = None) -> float:
        """Highest delivered level (with ``until``: including the motion in progress)."""
        if until is None:
            return self._peak
        return max(self._peak, self.level_at(until))


class CsvTraceWriter:
    """Writes ``t_s,level`` rows to a text file as they come, flushed each time.

    A write that fails (the disk filled up) is reported once to ``on_error`` and the
    writer stops: a trace file must never take the session down with the output on.
    """

    def __init__(
        self,
        stream: IO[str],
        *,
        header: bool = True,
        on_error: Callable[[OSError], None] | None = None,
    ) -> None:
        self._stream = stream
        self._on_error = on_error
        self.failed: OSError | None = None
        if header:
            stream.write("t_s,level\n")
            stream.flush()

    def __call__(self, t_s: float, level: float) -> None:
        if self.failed is not None:
            return
        try:
            self._stream.write(f"{t_s:.6f},{level:.6f}\n")
            self._stream.flush()
        except OSError as err:
            if self._on_error is None:
                raise
            self.failed = err
            self._on_error(err)


class TracedActuator(ActuatorWrapper):
    """The tap: forwards to ``inner`` and records every level it was told.

    A non-zero output that nobody refreshed before its lease ran out is recorded as 0 at
    the lease's end — the far end turns itself off then, whatever the host believed.
    """

    def __init__(self, inner: Actuator, clock: Clock, recorder: TraceRecorder) -> None:
        super().__init__(inner)
        self.clock = clock
        self.recorder = recorder
        self._lease_end: float | None = None

    async def set_level(self, level: float, *, lease_s: float, ramp_s: float = 0.0) -> None:
        """Forward, then record what the backend accepted."""
        now = self.clock.now()
        await self.inner.set_level(level, lease_s=lease_s, ramp_s=ramp_s)
        self._lapsed(now)
        self.recorder.record(now, level, ramp_s)
        moving = level > 0 or ramp_s > 0
        self._lease_end = now + lease_s if moving and lease_s > 0 else None

    def _lapsed(self, now: float) -> None:
        end = self._lease_end
        self._lease_end = None
        if end is not None and now > end + EPSILON_S:
            last = self.recorder.t0 + self.recorder.last_row[0]
            self.recorder.record(max(end, last), 0.0)

    def went_off(self, t: float) -> None:
        """The far end turned itself off at ``t`` (a lost link: its lease ran out)."""
        self._lease_end = None
        self.recorder.record(t, 0.0)

    async def off(self) -> None:
        """Backend off (never raises); the trace goes to 0."""
        now = self.clock.now()
        await self.inner.off()
        self._lapsed(now)
        self.recorder.record(now, 0.0)

    async def close(self) -> None:
        """Backend closed (never raises); the trace is closed at 0."""
        try:
            await self.off()
            await self.inner.close()
        finally:
            self.recorder.finish(self.clock.now())


def find_tap(actuator: Actuator) -> TracedActuator | None:
    """The tap in a chain of wrapping actuators (each keeps the next as ``inner``)."""
    seen = actuator
    while isinstance(seen, ActuatorWrapper):
        if isinstance(seen, TracedActuator):
            return seen
        seen = seen.inner
    return None
