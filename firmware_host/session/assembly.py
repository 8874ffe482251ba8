"""THE session assembly: config + command-line overrides → one session, the same everywhere.

``pc6 run``, the daemon, ``pc6 calibrate``, ``pc6 sim night``, the benches and the tests all
build their session here, so every one gets the same chain and the same guarantees::

    backend → calibration → trace tap → (stepping) → SafetyGate → Engine
                                                      ↓ events, budget, trace
                                                      Journal

- :func:`resolve` turns a :class:`~firmware_host.session.config.Config` and
  :class:`Overrides` (flags) into a :class:`Setup`: which backend, which kind, which limits
  — a flag can only lower a limit, never raise one.
- :class:`Session` builds the chain, checks tonight's budget (one function:
  :func:`~firmware_host.session.budget.used_tonight`), journals the start, plays, and on
  every way out closes the gate (outputs off), closes the trace at 0, and journals the true
  end with the dose and peak of the delivered trace.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from firmware_host.clock import Clock
from firmware_host.drive.actuator import Actuator, ActuatorKind, create_backend, load_backend
from firmware_host.drive.calibrated import CalibratedActuator
from firmware_host.drive.trace import RowSink, TracedActuator, TraceRecorder
from firmware_host.errors import InvalidInput, PC6Error
from firmware_host.guard.events import GateEvent
from firmware_host.guard.gate import SafetyGate
from firmware_host.guard.limits import Limits
from firmware_host.plan.profile import Profile
from firmware_host.plan.timeline import Timeline
from firmware_host.play.engine import EndReason, Engine, SessionResult
from firmware_host.record.journal import VIRTUAL, Journal, TraceChunks
from firmware_host.session.budget import (
    BudgetMeter,
    BudgetUsedUp,
    check_budget,
    checkpoint_interval,
    used_tonight,
)
from firmware_host.session.config import Calibration, Config

logger = logging.getLogger(__name__)

#: Makes the raw backend: ``(name, kind or None, options)``. None: the far end says.
BackendFactory = Callable[[str, ActuatorKind | None, Mapping[str, Any]], Actuator]


def registry_backend(name: str, kind: ActuatorKind | None, options: Mapping[str, Any]) -> Actuator:
    """The backend registered as ``name`` (entry point), with its options."""
    extra = {"kind": kind.value} if kind is not None else {}
    return create_backend(name, **dict(options), **extra)


def learns_kind(name: str) -> bool:
    """Whether backend ``name`` learns its kind from the far end (a band says what it drives)."""
    return load_backend(name).learns_kind


@dataclass(frozen=True)
class Overrides:
    """What the command line asks for on top of the config.

    Attributes:
        backend: another backend than the config's (then the config's options do not apply).
        kind: the actuator kind; otherwise the config's, the band's, or the profile's first.
        backend_options: options added to (or replacing) the config's.
        max_level: a lower ceiling than the config's ``limits.<kind>.max_level``.
        limits: lower limits than the config's (a higher one is refused).
    """

    backend: str | None = None
    kind: str | None = None
    backend_options: Mapping[str, Any] = field(default_factory=dict)
    max_level: float | None = None
    limits: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Setup:
    """What will be built: the config with the overrides applied, checked."""

    config: Config
    backend: str
    backend_options: Mapping[str, Any]
    kind: ActuatorKind | None  # None: the band says, once connected
    max_level: float | None = None
    limit_overrides: Mapping[str, float] = field(default_factory=dict)
    profile_kinds: tuple[str, ...] | None = None

    def limits_for(self, kind: ActuatorKind) -> Limits:
        """The config's limits for ``kind`` with the overrides, which may only lower them.

        Raises:
            InvalidInput: an override above the config's value (or an unknown limit).
        """
        base = self.config.limits_for(kind)
        known = {f.name for f in fields(Limits)}
        changes: dict[str, float] = {}
        for key, value in self.limit_overrides.items():
            if key not in known:
                raise InvalidInput(f"unknown limit {key!r}")
            current = getattr(base, key)
            floor = key == "rest_ratio"  # the one limit where more is safer
            if (value < current) if floor else (value > current):
                raise InvalidInput(
                    f"{key} {value:g} would raise the config's limit ({current:g}); "
                    "a command-line flag can only lower a limit"
                )
            changes[key] = float(value)
        limits = replace(base, **changes) if changes else base
        if self.max_level is not None and self.max_level < limits.max_level:
            limits = replace(limits, max_level=self.max_level)
        return limits

    def calibration_for(self, kind: ActuatorKind) -> Calibration:
        """The wearer's calibration for ``kind``."""
        return self.config.calibration_for(kind)

    def check_kind(self, kind: ActuatorKind, profile_name: str) -> None:
        """Refuse a profile not written for ``kind`` (a clear refusal, not a trip).

        Raises:
            InvalidInput: the profile is not meant for ``kind``.
        """
        if self.profile_kinds is not None and kind.value not in self.profile_kinds:
            raise InvalidInput(
                f"profile {profile_name!r} is meant for {', '.join(self.profile_kinds)}, "
                f"not {kind} (the {self.backend} backend drives {kind})"
            )


def resolve(config: Config, overrides: Overrides, profile: Profile | None = None) -> Setup:
    """The setup of a session: config first, then the flags.

    Raises:
        InvalidInput: a bad flag, or a profile that is not meant for the kind asked.
    """
    o = overrides
    if o.max_level is not None and (math.isnan(o.max_level) or not 0 < o.max_level <= 1):
        raise InvalidInput(f"--max-level must be above 0 and at most 1, got {o.max_level}")
    backend = o.backend or config.backend
    same = backend == config.backend
    options = {**(dict(config.backend_options) if same else {}), **dict(o.backend_options)}
    kinds = tuple(profile.kinds) if profile is not None else None
    kind: ActuatorKind | None
    if o.kind is not None:
        if o.kind not in {k.value for k in ActuatorKind}:
            raise InvalidInput(f"--kind must be vibration or pressure, got {o.kind!r}")
        kind = ActuatorKind(o.kind)
    elif same and config.kind_given:
        kind = config.kind
    elif learns_kind(backend):
        kind = None
    elif kinds:
        kind = ActuatorKind(kinds[0])
    else:
        kind = config.kind
    setup = Setup(config, backend, options, kind, o.max_level, dict(o.limits), kinds)
    if kind is not None and profile is not None:
        setup.check_kind(kind, profile.name)
    return setup


def guard(
    backend: Actuator,
    clock: Clock,
    limits: Limits,
    recorder: TraceRecorder,
    *,
    calibration: Calibration | None,
    max_level: float | None = None,
    budget_used_s: float = 0.0,
    on_event: EventListener | None = None,
) -> SafetyGate:
    """THE place a SafetyGate is built: backend → calibration → trace tap → gate.

    ``calibration`` None drives the backend's raw output (``pc6 calibrate`` finding it).
    """
    chain: Actuator = backend
    if calibration is not None:
        chain = CalibratedActuator(chain, calibration)
    chain = TracedActuator(chain, clock, recorder)
    return SafetyGate(
        chain,
        clock,
        limits,
        max_level=max_level,
        budget_used_s=budget_used_s,
        on_event=on_event,
    )


def raw_gate(
    setup: Setup, clock: Clock, *, factory: BackendFactory = registry_backend
) -> SafetyGate:
    """A gate on the backend's raw output with the config's limits, for ``pc6 calibrate``.

    Raises:
        InvalidInput: the setup has no kind (calibration needs one).
    """
    if setup.kind is None:
        raise InvalidInput("calibration needs a kind (--kind vibration or pressure)")
    backend = factory(setup.backend, setup.kind, setup.backend_options)
    recorder = TraceRecorder(clock.now())
    return guard(
        backend,
        clock,
        setup.limits_for(setup.kind),
        recorder,
        calibration=None,
        max_level=1.0,
    )


@dataclass
class Journaling:
    """Where and how a session is journaled (None: not at all, e.g. a virtual-time run)."""

    journal: Journal
    origin: str | None = None
    tz: Any = None  # the night's time zone (default: local)
    pauses: bool = True  # journal the engine's pause/resume events at the end
    wall: Callable[[], float] | None = None  # journal timestamps (default: the clock's)

    @property
    def charged(self) -> bool:
        """A run on virtual time is a check, not a night: it neither counts nor is counted."""
        return self.origin != VIRTUAL

    def now(self, clock: Clock) -> float:
        """The wall time to stamp journal rows with."""
        return self.wall() if self.wall is not None else clock.wall()


EventListener = Callable[[GateEvent], None]
Attach = Callable[["Session"], contextlib.AbstractContextManager[Any]]


class Session:
    """One session of one profile, built from a :class:`Setup`, played once.

    Construct, then ``await run()`` (or :meth:`open`, :meth:`play`, :meth:`close`).
    When the kind is known the chain is built at once, so :attr:`gate` and :attr:`engine`
    exist for control calls; when a band has to say it, they exist after :meth:`open`.
    """

    def __init__(
        self,
        setup: Setup,
        profile: Profile | None,
        timeline: Timeline,
        *,
        clock: Clock,
        journaling: Journaling | None = None,
        factory: BackendFactory = registry_backend,
        scale: float = 1.0,
        trace_sinks: tuple[RowSink, ...] = (),
        on_event: EventListener | None = None,
        keep_rows: bool = False,
        notes: list[tuple[str, str]] | None = None,
    ) -> None:
        self.setup = setup
        self.profile = profile
        self.timeline = timeline
        self.clock = clock
        self.journaling = journaling
        self.scale = scale
        self._sinks = trace_sinks
        self._listener = on_event
        self._keep_rows = keep_rows
        self._notes = notes or []  # (kind, detail) journaled with the session's start
        self.session_id: int | None = None
        self.kind: ActuatorKind | None = setup.kind
        self.gate: SafetyGate | None = None
        self.engine: Engine | None = None
        self.recorder: TraceRecorder | None = None
        self.used_before = 0.0
        self._journal_trace: TraceChunks | None = None
        self._meter: BudgetMeter | None = None
        self._t0 = clock.now()
        self._engine_task: asyncio.Task[SessionResult] | None = None
        self._stop_request: str | None = None
        self._abort_request: str | None = None
        self._opened = False
        #: The internal error (a bug) that ended the session, if one did.
        self.failure: str | None = None
        self.backend = factory(setup.backend, setup.kind, setup.backend_options)

    # -- building --------------------------------------------------------------------------

    @property
    def simulated(self) -> bool:
        """THE answer to "is this simulated?": the backend's own capabilities."""
        return self.backend.capabilities.simulated

    def prepare(self) -> None:
        """Build the chain now, when the kind is known (the daemon wants the engine at once).

        Raises:
            BudgetUsedUp: nothing left tonight (nothing was journaled, nothing moved).
            InvalidInput: the profile is not meant for the kind.
        """
        if self.gate is None and self.setup.kind is not None:
            self._build(self.setup.kind)

    def _build(self, kind: ActuatorKind) -> None:
        """Everything that needs the kind: budget, journal entry, chain, gate, engine."""
        setup = self.setup
        setup.check_kind(kind, self.profile.name if self.profile else self.timeline.name)
        limits = setup.limits_for(kind)
        self.kind = kind
        j = self.journaling
        if j is not None and j.charged:
            self.used_before = used_tonight(
                j.journal, kind, wall=self.clock.wall(), tz=_tz(j.tz), simulated=self.simulated
            )
            check_budget(self.used_before, limits, kind)
        if j is not None:
            assert self.profile is not None, "a journaled session names its profile"
            self.session_id = j.journal.start_session(
                at=self._wall(),
                profile=self.profile.name,
                sha256=self.profile.sha256,
                source=self.profile.source,
                backend=setup.backend,
                kind=kind.value,
                simulated=self.simulated,
                origin=j.origin,
            )
            for kind_, detail in self._notes:
                j.journal.event(self.session_id, at=self._wall(), kind=kind_, detail=detail)
            self._journal_trace = j.journal.trace_writer(self.session_id, self._wall())
        self._t0 = self.clock.now()
        sinks: list[RowSink] = list(self._sinks)
        if self._journal_trace is not None:
            sinks.append(self._journal_trace)
        self.recorder = TraceRecorder(self._t0, sinks=sinks, keep_rows=self._keep_rows)
        self.gate = guard(
            self.backend,
            self.clock,
            limits,
            self.recorder,
            calibration=setup.calibration_for(kind),
            budget_used_s=self.used_before,
            on_event=self._on_gate_event,
        )
        self.engine = Engine(self.timeline, self.gate, self.clock, scale=self.scale)
        if self._stop_request:
            self.engine.stop(self._stop_request)

    async def open(self) -> None:
        """Learn the kind from the band if needed, then open the gate (outputs start off).

        Raises:
            InvalidInput: the band drives a kind the profile is not for (nothing moved).
            SafetyTrip: the actuator could not be opened.
        """
        self.prepare()
        if self.gate is None:
            try:
                await self.backend.open()  # the band says what it drives
                self._opened = True
                self._build(self.backend.kind)
            except BaseException:
                await self.backend.close()
                raise
        assert self.gate is not None
        await self.gate.open(opened=self._opened)
        j = self.journaling
        if j is not None and j.charged and self.session_id is not None:
            self._meter = BudgetMeter(
                j.journal,
                self.session_id,
                self.clock,
                self.on_s,
                self._progress,
                every_s=checkpoint_interval(self.gate.limits, self.used_before, self.clock),
            )
            self._meter.start()

    def _wall(self) -> float:
        j = self.journaling
        return j.now(self.clock) if j is not None else self.clock.wall()

    def on_s(self) -> float:
        """This session's own stimulation time so far (what it is charged)."""
        if self.gate is None:
            return 0.0
        return max(0.0, self.gate.used_s() - self.used_before)

    def _progress(self) -> tuple[float, float]:
        now = self.clock.now()
        dose = self.recorder.dose(until=now) if self.recorder else 0.0
        return now - self._t0, dose

    # -- playing ---------------------------------------------------------------------------

    async def play(self) -> SessionResult:
        """Play the timeline; :meth:`stop_now` ends it at once without cancelling us."""
        assert self.engine is not None
        self._engine_task = asyncio.get_running_loop().create_task(self.engine.run())
        try:
            return await asyncio.shield(self._engine_task)
        except asyncio.CancelledError:
            if self._engine_task.done() and not self._engine_task.cancelled():
                return self._engine_task.result()
            if self._abort_request and self._engine_task.cancelled():
                return self._aborted()
            self._engine_task.cancel()
            await asyncio.gather(self._engine_task, return_exceptions=True)
            raise

    def _aborted(self) -> SessionResult:
        assert self.engine is not None
        result = self.engine.result
        result.reason, result.detail = EndReason.STOPPED, self._abort_request or "stopped"
        return result

    def stop(self, reason: str) -> None:
        """End with the soft ramp down (works before the engine exists too)."""
        self._stop_request = reason
        if self.engine is not None:
            self.engine.stop(reason)

    def stop_now(self, reason: str) -> None:
        """End at once: the output goes to 0 without the soft ramp (a second Ctrl-C)."""
        self._abort_request = reason
        self.stop(reason)
        task = self._engine_task
        if task is not None and not task.done():
            task.cancel()

    async def run(self, attach: Attach | None = None) -> SessionResult:
        """Open, play, close: on every way out the outputs end off and the end is journaled.

        ``attach(session)``: a context manager entered once the session is open, around
        the playing (progress lines, a stop button).
        """
        result = SessionResult(EndReason.TRIPPED, "did not start")
        try:
            await self.open()
            with attach(self) if attach is not None else contextlib.nullcontext():
                result = await self.play()
        except (InvalidInput, BudgetUsedUp) as err:
            # A refusal, not a trip: nothing moved.
            result = SessionResult(EndReason.STOPPED, f"refused: {err}")
            raise
        except PC6Error as err:
            result = SessionResult(EndReason.TRIPPED, str(err))
        except asyncio.CancelledError:
            result = self._cancelled_result()
            raise
        except Exception as err:  # a bug: outputs off and journaled as what it was
            logger.debug("internal error in the session", exc_info=True)
            logger.error("internal error, outputs off: %s: %s", type(err).__name__, err)
            self.failure = f"internal error: {type(err).__name__}: {err}"
            result = SessionResult(EndReason.TRIPPED, self.failure)
        finally:
            result = await self.close(result)
        return result

    def _cancelled_result(self) -> SessionResult:
        if self.engine is not None and self.engine.result.reason is not EndReason.COMPLETED:
            return self.engine.result
        return SessionResult(EndReason.STOPPED, "cancelled")

    async def close(self, result: SessionResult) -> SessionResult:
        """Outputs off, trace closed at 0, the end journaled with what was delivered.

        Safe to call once the session ended in any way; runs to the end even if cancelled.
        """
        if self._meter is not None:
            self._meter.stop()
        if self.gate is not None:
            await _uncancellable(self.gate.close())
        elif not self._opened:
            await self.backend.close()
        if self.recorder is not None:
            # From the delivered trace, closed now: the final ramp-down is in it.
            result.dose = self.recorder.dose()
            result.peak = self.recorder.peak()
            if result.duration_s == 0.0:
                result.duration_s = self.clock.now() - self._t0
        if self.gate is not None and self.gate.tripped and result.reason is not EndReason.TRIPPED:
            result.reason, result.detail = EndReason.TRIPPED, self.gate.tripped
        self._journal_end(result)
        return result

    def _journal_end(self, result: SessionResult) -> None:
        j = self.journaling
        if j is None or self.session_id is None:
            return
        try:
            if self._journal_trace is not None:
                self._journal_trace.flush()
            if j.pauses:
                for event in result.events:
                    if event.kind in ("paused", "resumed"):
                        j.journal.event(
                            self.session_id,
                            at=self._wall(),
                            kind=event.kind,
                            detail=event.detail,
                        )
            j.journal.end_from_result(self.session_id, result, at=self._wall(), on_s=self.on_s())
        except PC6Error:
            logger.exception("could not journal the end of session %s", self.session_id)

    def _on_gate_event(self, event: GateEvent) -> None:
        j = self.journaling
        if j is not None:
            try:
                j.journal.event(
                    self.session_id, at=self._wall(), kind=event.kind, detail=event.reason
                )
            except PC6Error:
                logger.exception("journal write failed (%s: %s)", event.kind, event.reason)
        if self._listener is not None:
            self._listener(event)


async def _uncancellable(coro: Any) -> None:
    """Run ``coro`` to its end even if we are cancelled meanwhile (then re-raise)."""
    task = asyncio.ensure_future(coro)
    cancelled = False
    while not task.done():
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            cancelled = True
    task.result()
    if cancelled:
        raise asyncio.CancelledError


def _tz(tz: Any) -> Any:
    import datetime as dt

    return tz or dt.datetime.now().astimezone().tzinfo or dt.UTC
