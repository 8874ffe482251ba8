"""What the safety gate would change in a timeline, told before anything runs.

A profile can be valid and still ask for more than the gate allows an actuator kind: a
pressure rise faster than the soft-start limit, a press longer than the continuous limit, or
a rest shorter than the press before it. The gate will slow, cut or hold those; a builder
tuning a profile wants to know where, in words, without wearing it.

Two views, both from the real :class:`SafetyGate` played on virtual time:
:func:`gate_preview` (what ``pc6 run`` prints before a session: counts and first places,
found as the rows pass, so it keeps nothing per breakpoint) and :func:`gate_view` (the whole
delivered timeline as well, for ``pc6 profile show --kind`` and its plots).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from firmware_host.clock import EPSILON_S, Cancellable
from firmware_host.drive.actuator import Actuator, ActuatorKind, Capabilities
from firmware_host.drive.trace import TraceRecorder
from firmware_host.durations import format_duration
from firmware_host.errors import ProfileError
from firmware_host.guard.changes import Change, ChangeFinder, ChangeTally, summary_lines
from firmware_host.guard.events import GateEvent, LimitReached
from firmware_host.guard.gate import SafetyGate
from firmware_host.guard.limits import HARD_LIMITS, Limits
from firmware_host.plan.timeline import Timeline, levels_array, times_array


def gate_warnings(timeline: Timeline, kind: ActuatorKind, limits: Limits) -> list[str]:
    """Plain-language notes on where the gate would reshape ``timeline`` for ``kind``."""
    notes: list[str] = []
    rise = limits.max_rise_per_s
    for (t0, v0), (t1, v1) in itertools.pairwise(timeline.points()):
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
    presses = list(_presses(timeline.points()))
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


def _presses(pts: Iterable[tuple[int, float]]) -> Iterator[tuple[int, int]]:
    """(start, end) in ms of each stretch where the level is above 0."""
    start: int | None = None
    for (t0, v0), (t1, v1) in itertools.pairwise(pts):
        if start is None and v1 > 0:
            start = t0 if v0 == 0 else t1
        if start is not None and v1 == 0:
            yield (start, t1)
            start = None


# -- the gate's view: the real SafetyGate, played on virtual time --------------------------


@dataclass(frozen=True)
class GatePreview:
    """What the gate changes on one actuator kind, in counts and first places."""

    kind: ActuatorKind
    tally: ChangeTally = field(default_factory=ChangeTally)
    limit_events: tuple[tuple[int, str], ...] = ()  # (ms, reason) of cuts and ends by a limit

    @property
    def changed(self) -> bool:
        """True when the gate reshapes anything."""
        return bool(self.tally.counts or self.limit_events)

    def summary(self) -> list[str]:
        """One plain line per kind of change, with a count and where it first happens."""
        return summary_lines(self.kind, self.tally, self.limit_events)


@dataclass(frozen=True)
class GateView:
    """What a profile delivers on one actuator kind, next to what it requests."""

    kind: ActuatorKind
    requested: Timeline
    delivered: Timeline
    dose: float  # level·s, exact from the gate's trace
    changes: tuple[Change, ...]
    limit_events: tuple[tuple[int, str], ...]  # (ms, reason) of cuts and ends by a limit

    @property
    def changed(self) -> bool:
        """True when the gate reshapes anything."""
        return bool(self.changes or self.limit_events)

    def summary(self) -> list[str]:
        """One plain line per kind of change, with a count and where it first happens."""
        return summary_lines(self.kind, ChangeTally.of(self.changes), self.limit_events)


def refuse_beyond_ceiling(timeline: Timeline, kind: ActuatorKind) -> None:
    """Refuse continuous stimulation longer than the hard ceiling for ``kind``.

    The gate would cut such a stretch and rest, over and over, until a budget ends the
    night: the profile asks for something no configuration may allow, so it is a mistake.

    Raises:
        ProfileError: naming the step where the stretch starts and how long it is.
    """
    ceiling_s = HARD_LIMITS[kind].max_continuous_on_s
    for start, end in _presses(timeline.points()):
        if (end - start) / 1000 > ceiling_s:
            raise ProfileError(
                f"asks for {format_duration(end - start)} of continuous {kind} from "
                f"{format_duration(start)}, beyond the hard ceiling of "
                f"{format_duration(ceiling_s * 1000)}; break it into presses with rests",
                source=timeline.source,
                field=timeline.step_at(start + round(ceiling_s * 1000)),
            )


def gate_preview(
    timeline: Timeline,
    kind: ActuatorKind,
    limits: Limits,
    *,
    max_level: float | None = None,
) -> GatePreview:
    """What the gate changes in ``timeline`` for ``kind``, as :meth:`GateView.summary` says.

    The same play as :func:`gate_view`, with the delivered rows compared to the requested
    timeline as they pass (:class:`~firmware_host.guard.changes.ChangeFinder`) and then
    dropped: its memory does not grow with the profile.

    Raises:
        ProfileError: continuous stimulation beyond the hard ceiling (see
            :func:`refuse_beyond_ceiling`).
    """
    refuse_beyond_ceiling(timeline, kind)
    tally = ChangeTally()
    finder = ChangeFinder(timeline, tally.add)
    events = _run(timeline, kind, limits, max_level, TraceRecorder(0.0, finder))
    finder.close()
    return GatePreview(kind=kind, tally=tally, limit_events=tuple(events))


def gate_view(
    timeline: Timeline,
    kind: ActuatorKind,
    limits: Limits,
    *,
    max_level: float | None = None,
) -> GateView:
    """Play ``timeline`` through a real :class:`SafetyGate` on virtual time.

    The gate drives a recording actuator that ramps by itself (as the simulator and a band
    do); the player issues each breakpoint at its deadline and serves the gate's own
    deadlines in between, as the engine does. Nothing but the gate decides what changes.
    Every delivered row is kept: use :func:`gate_preview` when the words are enough.

    Raises:
        ProfileError: continuous stimulation beyond the hard ceiling (see
            :func:`refuse_beyond_ceiling`).
    """
    refuse_beyond_ceiling(timeline, kind)
    recorder = TraceRecorder(0.0, keep_rows=True)
    events = _run(timeline, kind, limits, max_level, recorder)
    rows = recorder.rows
    delivered = _timeline_from_rows(rows, timeline.name)
    return GateView(
        kind=kind,
        requested=timeline,
        delivered=delivered,
        dose=sum((v0 + v1) / 2 * (t1 - t0) for (t0, v0), (t1, v1) in itertools.pairwise(rows)),
        changes=tuple(_changes(timeline, delivered)),
        limit_events=tuple(events),
    )


def _run(
    timeline: Timeline,
    kind: ActuatorKind,
    limits: Limits,
    max_level: float | None,
    recorder: TraceRecorder,
) -> list[tuple[int, str]]:
    """Play on an event loop of its own; returns the limit events as (ms, reason)."""
    import async_solipsism

    loop = async_solipsism.EventLoop()
    try:
        return loop.run_until_complete(_play(timeline, kind, limits, max_level, recorder))
    finally:
        loop.close()


class _JumpClock:
    """Virtual time that jumps straight to each deadline, in whole microseconds.

    Nothing but the preview runs while it plays, so a sleep has nothing to wait for: going
    through the event loop at each deadline (as :class:`~firmware_host.clock.LoopClock`
    does) made the preview cost as much as the session it announces.
    """

    simulated = True

    def __init__(self) -> None:
        self._now = 0.0

    def now(self) -> float:
        return self._now

    def wall(self) -> float:
        return self._now

    async def sleep_until(self, deadline: float) -> None:
        self._now = max(self._now, round(deadline, 6))

    def call_at(self, deadline: float, callback: Callable[[], None]) -> Cancellable:
        raise RuntimeError("the gate preview never sets timers")


class _Recording(Actuator):
    """An output that only listens: it ramps by itself, like the simulator or a band."""

    def __init__(self, kind: ActuatorKind) -> None:
        super().__init__()
        self.capabilities = Capabilities(kind=kind, can_ramp=True, simulated=True)

    async def open(self) -> None:
        return None

    async def set_level(self, level: float, *, lease_s: float, ramp_s: float = 0.0) -> None:
        return None

    async def off(self) -> None:
        return None

    async def close(self) -> None:
        return None


async def _play(
    timeline: Timeline,
    kind: ActuatorKind,
    limits: Limits,
    max_level: float | None,
    recorder: TraceRecorder,
) -> list[tuple[int, str]]:
    clock = _JumpClock()
    events: list[tuple[int, str]] = []
    gate = SafetyGate(_Recording(kind), clock, limits, max_level=max_level)
    t0 = clock.now()

    def note(event: GateEvent) -> None:
        if isinstance(event, LimitReached):
            events.append((round((clock.now() - t0) * 1000), event.reason))

    gate.subscribe(note)
    await gate.open(recorder)
    try:
        for (ta, va), (tb, vb) in itertools.pairwise(timeline.points()):
            if gate.finished or gate.tripped:
                break
            await _wait(gate, clock, t0 + ta / 1000)
            if gate.finished or gate.tripped:
                break
            for at_ms, level, ramp_ms in _segment(ta, va, tb, vb, gate.max_level):
                await _wait(gate, clock, t0 + at_ms / 1000)
                await gate.command(level, ramp_ms / 1000)
        else:
            await _wait(gate, clock, t0 + timeline.duration_ms / 1000)
        if gate.output > 0 and not gate.tripped:
            await gate.command(0.0)
    finally:
        await gate.close()
    return events


def _segment(
    ta: int, va: float, tb: int, vb: float, cap: float
) -> list[tuple[float, float, float]]:
    """(ms, level, ramp ms) commands for one segment, split where it meets the ceiling."""
    ea, eb = min(cap, va), min(cap, vb)
    if tb == ta:
        return [(ta, eb, 0.0)]
    if (va - cap) * (vb - cap) < 0:
        tc = ta + (cap - va) / (vb - va) * (tb - ta)
        if vb > va:
            return [(ta, cap, tc - ta), (tc, cap, 0.0)]
        return [(ta, cap, 0.0), (tc, eb, tb - tc)]
    return [(ta, ea, 0.0)] if ea == eb else [(ta, eb, tb - ta)]


async def _wait(gate: SafetyGate, clock: _JumpClock, deadline: float) -> None:
    """Until ``deadline``, serving the gate's own deadlines (leases, cuts, rests)."""
    while not (gate.finished or gate.tripped):
        due = gate.next_deadline()
        wake = deadline if due is None else min(deadline, due)
        if wake > clock.now() + EPSILON_S:
            await clock.sleep_until(wake)
        now = clock.now() + EPSILON_S
        if now >= deadline:
            return
        if due is not None and now >= due:
            await gate.poll()


def _timeline_from_rows(rows: list[tuple[float, float]], name: str) -> Timeline:
    times = times_array(round(t * 1000) for t, _ in rows)
    return Timeline(times, levels_array(v for _, v in rows), name)


def _changes(requested: Timeline, delivered: Timeline) -> list[Change]:
    """Stretches where the delivered level differs from the requested one, classified."""
    grid = sorted({*requested.times_ms, *delivered.times_ms})
    samples: list[tuple[int, float, float]] = []
    for a, b in itertools.pairwise(grid):
        for t in (a, (a + b) / 2):
            samples.append((round(t), requested.level_at(t), delivered.level_at(t)))
    out: list[Change] = []
    start: int | None = None
    for t, want, got in samples:
        differs = abs(want - got) > 1e-3
        if differs and start is None:
            start = t
        elif not differs and start is not None:
            out.append(Change(start, t, _what(requested, delivered, start)))
            start = None
    if start is not None:
        out.append(Change(start, requested.duration_ms, "cut short"))
    return out


def _what(requested: Timeline, delivered: Timeline, t: int) -> str:
    """Why the delivered level leaves the requested one at ``t``: slowed, held back, cut."""
    now, soon = delivered.level_at(t), delivered.level_at(t + 1)
    if soon > now and requested.level_at(t + 1) > soon:
        return "slowed"
    if soon <= 1e-9 and requested.level_at(t + 1) > 0:
        return "held back"
    return "cut short"
