"""``pc6 run``: one session of a profile on a backend, from the command line.

It validates everything before anything moves, says SIMULATED loudly when nothing physical
is driven, shows progress, turns Ctrl-C and SIGTERM into a soft stop, journals the session
and prints a summary. Whatever happens, the output ends at 0 and the trace ends with a 0 row.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import signal
import sys
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, TypeVar

from firmware_host.clock import Clock, LoopClock, RealClock
from firmware_host.drive.actuator import Actuator, ActuatorKind, create_backend
from firmware_host.drive.trace import CsvTraceWriter, TraceRecorder
from firmware_host.durations import format_duration
from firmware_host.errors import InvalidInput, PC6Error
from firmware_host.guard.events import GateEvent
from firmware_host.guard.gate import SafetyGate
from firmware_host.guard.limits import Limits, limits_for
from firmware_host.guard.preview import gate_view
from firmware_host.paths import default_journal_path
from firmware_host.plan.profile import Profile
from firmware_host.plan.timeline import Timeline, compile_profile
from firmware_host.play.engine import EndReason, Engine, SessionResult
from firmware_host.record.journal import Journal

T = TypeVar("T")


@dataclass
class RunOptions:
    """What ``pc6 run`` was asked to do."""

    profile: Profile
    backend: str = "sim"
    kind: str | None = None
    fast: bool = False
    trace: Path | None = None
    max_level: float | None = None
    journal: Path | None = None
    backend_options: dict[str, Any] = field(default_factory=dict)
    stop_button: int | None = None  # GPIO of a push button: press = stop, hold = trip
    limits: dict[str, Any] = field(default_factory=dict)
    out: IO[str] = sys.stdout
    err: IO[str] = sys.stderr


def choose_kind(profile: Profile, kind: str | None) -> ActuatorKind:
    """The actuator kind to run: asked for, else the profile's first.

    Raises:
        InvalidInput: unknown kind, or one the profile is not meant for.
    """
    if kind is None:
        return ActuatorKind(profile.kinds[0])
    if kind not in {k.value for k in ActuatorKind}:
        raise InvalidInput(f"--kind must be vibration or pressure, got {kind!r}")
    if kind not in profile.kinds:
        raise InvalidInput(
            f"profile {profile.name!r} is meant for {', '.join(profile.kinds)}, not {kind}"
        )
    return ActuatorKind(kind)


def check_max_level(value: float | None) -> None:
    """``--max-level`` must be in (0, 1]."""
    if value is not None and (math.isnan(value) or not 0 < value <= 1):
        raise InvalidInput(f"--max-level must be above 0 and at most 1, got {value}")


def run(options: RunOptions) -> int:
    """Run a session; returns the exit code (0 done or stopped by the user, 1 fault)."""
    check_max_level(options.max_level)
    kind = choose_kind(options.profile, options.kind)
    timeline = compile_profile(options.profile)
    limits = limits_for(kind, options.limits)
    # What the gate will change, told (and journalled) before anything moves; a profile
    # beyond the hard ceilings is refused here (guard/preview.py).
    changes = gate_view(timeline, kind, limits, max_level=options.max_level).summary()
    actuator = create_backend(options.backend, kind=kind.value, **options.backend_options)
    simulated = actuator.capabilities.simulated
    if options.fast and not simulated:
        raise InvalidInput(
            "--fast runs on virtual time and needs a simulated backend "
            "(--backend sim, or --sim-pins)"
        )
    journal = Journal(options.journal or default_journal_path())
    session = _Session(options, timeline, actuator, kind, journal, limits)
    session.gate_changes = changes
    try:
        if options.fast:
            result = _run_virtual(session.main)
        else:
            result = asyncio.run(session.main(RealClock()))
    finally:
        journal.close()
    return 0 if result.reason in (EndReason.COMPLETED, EndReason.STOPPED) else 1


def _run_virtual(main: Callable[[Clock], Coroutine[Any, Any, T]]) -> T:
    """Run on an event loop whose clock jumps to the next deadline."""
    import async_solipsism

    loop = async_solipsism.EventLoop()
    try:
        return loop.run_until_complete(main(LoopClock(simulated=True)))
    finally:
        loop.close()


class _Session:
    def __init__(
        self,
        options: RunOptions,
        timeline: Timeline,
        actuator: Actuator,
        kind: ActuatorKind,
        journal: Journal,
        limits: Limits,
    ) -> None:
        self.o = options
        self.limits = limits
        self.timeline = timeline
        self.actuator = actuator
        self.kind = kind
        self.journal = journal
        self.session_id: int | None = None
        self.clock: Clock = RealClock()
        self.engine: Engine | None = None
        self.stop_request: str | None = None  # a signal that came before the engine existed
        self.gate_changes: list[str] = []  # what the safety gate will change, in words

    async def main(self, clock: Clock) -> SessionResult:
        """Announce, play, summarise; signals are caught from the first line on."""
        self.clock = clock
        with self._signals():
            return await self._main()

    async def _main(self) -> SessionResult:
        o = self.o
        simulated = self.actuator.capabilities.simulated
        if simulated:
            print(
                f"SIMULATED — nothing physical moves (backend {o.backend}, {self.kind})",
                file=o.out,
                flush=True,
            )
        stats = self.timeline.stats()
        print(
            f"profile {o.profile.name}: {format_duration(stats.duration_ms)}, "
            f"peak {stats.peak:.2f}, {'virtual time' if o.fast else 'real time'}",
            file=o.out,
            flush=True,
        )
        for line in self.gate_changes:
            print(f"  the safety gate changes it — {line}", file=o.out, flush=True)
        trace_file = open(o.trace, "w", encoding="utf-8") if o.trace else None  # noqa: SIM115
        try:
            return await self._play(self.limits, trace_file)
        finally:
            if trace_file:
                trace_file.close()

    async def _play(self, limits: Limits, trace_file: IO[str] | None) -> SessionResult:
        o, clock = self.o, self.clock
        used = self._budget_used_tonight(limits)
        gate = SafetyGate(
            self.actuator,
            clock,
            limits,
            max_level=o.max_level,
            budget_used_s=used,
            on_event=self._journal_event,
        )
        self.session_id = self.journal.start_session(
            at=clock.wall(),
            profile=o.profile.name,
            sha256=o.profile.sha256,
            source=o.profile.source,
            backend=o.backend,
            kind=self.kind.value,
            simulated=self.actuator.capabilities.simulated,
        )
        for line in self.gate_changes:
            self.journal.event(self.session_id, at=clock.wall(), kind="gate change", detail=line)
        sink = CsvTraceWriter(trace_file) if trace_file else None
        result = SessionResult(EndReason.TRIPPED, "did not start")
        try:
            await gate.open(TraceRecorder(clock.now(), sink))
            engine = self.engine = Engine(self.timeline, gate, clock)
            if self.stop_request:
                engine.stop(self.stop_request)
            with self._progress(engine), self._button(engine, gate):
                result = await engine.run()
        except PC6Error as err:
            result = SessionResult(EndReason.TRIPPED, str(err))
        finally:
            await gate.close()
            self._journal_end(result, gate)
        self._summary(result, gate)
        return result

    @contextlib.contextmanager
    def _signals(self) -> Any:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        count = 0

        def handle(name: str) -> None:
            nonlocal count
            count += 1
            if count == 1:
                print(
                    f"\n{name}: stopping with a soft ramp down (again to stop at once)",
                    file=self.o.err,
                    flush=True,
                )
                self.stop_request = f"{name} from user"
                if self.engine is not None:
                    self.engine.stop(self.stop_request)
            elif count == 2 and task is not None:
                task.cancel()  # once: further signals must not cut the clean-up short

        installed: list[signal.Signals] = []
        previous: dict[signal.Signals, Any] = {}
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, handle, sig.name)
                installed.append(sig)
            except (NotImplementedError, RuntimeError, Exception):
                # A virtual-time loop has no signal handlers: fall back to plain ones.
                previous[sig] = signal.signal(sig, lambda s, f: handle(signal.Signals(s).name))
        try:
            yield
        finally:
            for sig in installed:
                loop.remove_signal_handler(sig)
            for sig, old in previous.items():
                signal.signal(sig, old)

    def _budget_used_tonight(self, limits: Limits) -> float:
        """Stimulation already given tonight (noon to noon, local time) by earlier runs.

        A run on virtual time is a check, not a night: it neither counts nor is counted.

        Raises:
            PC6Error: the nightly budget is used up; nothing starts.
        """
        if self.o.fast:
            return 0.0
        import datetime as dt

        from firmware_host.plan.schedule import night_bounds, night_of

        tz = dt.datetime.now().astimezone().tzinfo or dt.UTC
        start, end = night_bounds(night_of(self.clock.wall(), tz), tz)
        used = self.journal.on_time_between(
            start, end, self.kind.value, simulated=self.actuator.capabilities.simulated
        )
        if used >= limits.nightly_budget_s:
            raise PC6Error(
                f"tonight's {self.kind} budget ({limits.nightly_budget_s:g} s) is used up "
                f"({used:.0f} s so far); it renews at noon"
            )
        return used

    @contextlib.contextmanager
    def _button(self, engine: Engine, gate: SafetyGate) -> Any:
        if self.o.stop_button is None:
            yield
            return
        from firmware_host.play.stop_button import attach_stop_button

        detach = attach_stop_button(engine, gate, self.o.stop_button)
        try:
            yield
        finally:
            detach()

    @contextlib.contextmanager
    def _progress(self, engine: Engine) -> Any:
        if self.o.fast:
            yield
            return
        task = asyncio.get_running_loop().create_task(self._show_progress(engine))
        try:
            yield
        finally:
            task.cancel()
            if self.o.err.isatty():
                print(file=self.o.err)

    async def _show_progress(self, engine: Engine) -> None:
        tty = self.o.err.isatty()
        every = 1.0 if tty else 30.0
        tag = "[SIMULATED] " if self.actuator.capabilities.simulated else ""
        next_at = self.clock.now() + every
        while True:
            await self.clock.sleep_until(next_at)
            next_at += every
            line = (
                f"{tag}{format_duration(engine.elapsed_s * 1000)} elapsed · level "
                f"{engine.gate.output:.2f} · {format_duration(engine.remaining_s * 1000)} "
                f"remaining{' · paused' if engine.paused else ''}"
            )
            print(
                f"\r{line:<72}" if tty else line,
                end="" if tty else "\n",
                file=self.o.err,
                flush=True,
            )

    def _journal_event(self, event: GateEvent) -> None:
        self.journal.event(
            self.session_id, at=self.clock.wall(), kind=event.kind, detail=event.reason
        )

    def _journal_end(self, result: SessionResult, gate: SafetyGate) -> None:
        if self.session_id is None:
            return
        for _, kind, detail in result.events:
            if kind in ("paused", "resumed"):
                self.journal.event(self.session_id, at=self.clock.wall(), kind=kind, detail=detail)
        self.journal.end_from_result(
            self.session_id, result, at=self.clock.wall(), on_s=gate.budget_used_s
        )

    def _summary(self, result: SessionResult, gate: SafetyGate) -> None:
        out = self.o.out
        ended = result.reason.value + (f": {result.detail}" if result.detail else "")
        print(f"session {ended}", file=out)
        print(
            f"  duration {format_duration(result.duration_s * 1000)} · dose "
            f"{result.dose:.1f} level·s · peak {result.peak:.2f} · largest timing error "
            f"{result.max_lateness_s * 1000:.3f} ms",
            file=out,
        )
        if gate.tripped:
            print(f"  SAFETY TRIP latched: {gate.tripped}", file=out)
        if self.o.trace:
            print(f"  trace written to {self.o.trace}", file=out)
        out.flush()
