"""The night daemon: runs scheduled and requested sessions, one at a time, all night.

One loop drives everything: it starts sessions when their scheduled instant comes, picks up
edited profiles and config, and sends systemd's watchdog ping — so a hung loop stops the
pings and systemd restarts the service. It sleeps until the next thing it has to do (a
session start, the ping, a periodic check), never on a fixed tick.

The parts it is made of, each in its own module: who is in control and what a person
decided (``authority.py``: stop button > manual > schedule), when scheduled sessions are due
(``scheduler.py``), what status says, from a read-only snapshot (``status.py``), and the
control commands (``commands.py``, served by ``control.py``), the config and its profiles,
read again on request or on edit (``reloading.py``). This module holds the loop and the
sessions themselves.

An invalid config never starts a session: the daemon keeps running, outputs off, and
reports why until the file is fixed; an invalid edit of a good config is refused, and the
good one stays in use.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from firmware_host.clock import Clock
from firmware_host.drive.actuator import Actuator, ActuatorKind, create_backend
from firmware_host.errors import PC6Error
from firmware_host.experiment.tonight import start_scheduled
from firmware_host.guard.events import GateEvent, Tripped
from firmware_host.guard.gate import SafetyGate
from firmware_host.plan.profile import Profile
from firmware_host.plan.schedule import Occurrence
from firmware_host.plan.timeline import Timeline
from firmware_host.play.engine import EndReason, Engine, SessionResult
from firmware_host.record.journal import Journal
from firmware_host.service import status as daemon_status
from firmware_host.service.authority import LEVEL_MAX, Authority, Refused
from firmware_host.service.clock_sync import ClockSyncCheck
from firmware_host.service.reloading import Settings, knows_kind
from firmware_host.service.scheduler import Scheduler
from firmware_host.service.sdnotify import Notifier
from firmware_host.service.status import SessionView, Snapshot, hhmm, iso
from firmware_host.session.assembly import Journaling, Overrides, Session, resolve
from firmware_host.session.budget import BudgetUsedUp
from firmware_host.session.config import Config

logger = logging.getLogger(__name__)

__all__ = ["LEVEL_MAX", "Daemon", "Refused", "default_actuator"]

#: Makes the backend for ``(config, kind)``; kind None: the band says what it drives.
ActuatorFactory = Callable[[Config, ActuatorKind | None], Actuator]


@dataclass
class Running:
    """The session in progress.

    Its gate, engine and journal entry exist from the start when the kind is known, and
    once the band has said what it drives when the config leaves that to the band.
    """

    profile: str
    origin: str  # "schedule" or "manual"
    why: str
    session: Session
    started_wall: float
    task: asyncio.Task[SessionResult] | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)
    _waiting: list[Callable[[int], None]] = field(default_factory=list)

    @property
    def engine(self) -> Engine | None:
        """The engine (None while the band has not said what it drives)."""
        return self.session.engine

    @property
    def gate(self) -> SafetyGate | None:
        """The gate (None while the band has not said what it drives)."""
        return self.session.gate

    @property
    def session_id(self) -> int | None:
        """The journal's id of the session (None until it is journaled)."""
        return self.session.session_id

    def on_journaled(self, call: Callable[[int], None]) -> None:
        """``call(session_id)`` once the session is in the journal (at once if it is)."""
        if self.session_id is not None:
            call(self.session_id)
        else:
            self._waiting.append(call)

    def opened(self, session: Session) -> contextlib.AbstractContextManager[None]:
        """The session is open and journaled: tell whoever waited for its id."""
        calls, self._waiting = self._waiting, []
        for call in calls:
            try:
                assert session.session_id is not None
                call(session.session_id)
            except Exception as err:  # a bookkeeping failure must not stop the session
                logger.error("session %s: %s: %s", self.profile, type(err).__name__, err)
        return contextlib.nullcontext()


@dataclass
class Pending:
    """A one-off manual start ("in 10 minutes"), on monotonic time."""

    due: float
    profile: str
    why: str


def default_actuator(config: Config, kind: ActuatorKind | None) -> Actuator:
    """The configured backend (the session assembly applies the wearer's calibration)."""
    extra = {"kind": kind.value} if kind is not None else {}  # None: the band says
    return create_backend(config.backend, **dict(config.backend_options), **extra)


class Daemon:
    """The service. Construct, then ``await run()``; control calls come from :mod:`control`."""

    def __init__(
        self,
        config_path: Path | None,
        *,
        clock: Clock,
        journal: Journal | None = None,
        notifier: Notifier | None = None,
        clock_synced: Callable[[], bool] | None = None,
        actuator_factory: ActuatorFactory = default_actuator,
        config: Config | None = None,
    ) -> None:
        self.clock = clock
        self.notifier = notifier or Notifier(None)
        self.actuator_factory = actuator_factory
        self.settings = Settings(
            config_path,
            note=lambda kind, detail: self._note(None, kind, detail),
            busy=lambda: self.running is not None,
            journal=journal,
            config=config,
        )
        self.running: Running | None = None
        self.pending: list[Pending] = []
        self.authority = Authority(self._keep)
        self.scheduler = Scheduler(clock_synced or ClockSyncCheck())
        self.results: list[SessionResult] = []
        self._stopping = False
        self._waiter: asyncio.Future[None] | None = None
        self._next_ping: float | None = None
        self._next_check = 0.0
        self._status_line = ""
        self.stopped = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()

    # -- what a person decided (see authority.py) --------------------------------------

    @property
    def trip(self) -> str | None:
        """A latched safety trip's reason; only ``reset`` clears it."""
        return self.authority.trip

    @property
    def synced(self) -> bool:
        """Whether the system clock has been seen synchronized (latched)."""
        return self.scheduler.synced

    def _keep(self, key: str, value: object) -> None:
        try:
            self.journal.set_state(key, value, at=self.clock.wall())
        except PC6Error:
            logger.exception("could not keep %s in the journal", key)

    def _restore(self) -> None:
        """Take back what a person decided before a restart."""
        try:
            kept = self.journal.state()
        except PC6Error:
            logger.exception("could not read kept state from the journal")
            return
        for note in self.authority.restore(kept, self.clock.wall()):
            self._note(None, "restored", note)

    # -- the config, its profiles and journal (see reloading.py) -------------------------

    @property
    def config(self) -> Config | None:
        """The config in use; None while it is invalid (``settings.error`` says why)."""
        return self.settings.config

    @property
    def journal(self) -> Journal:
        """The journal (opened on first use, at the configured path)."""
        return self.settings.journal

    def reload(self) -> str | None:
        """Read the config and its profiles again; returns the error that keeps it unusable."""
        return self.settings.reload()

    # -- life cycle ----------------------------------------------------------------------

    async def run(self) -> None:
        """Serve until :meth:`request_stop`; outputs are off when it returns.

        Raises:
            Exception: a bug in the loop itself, once the running session has been tripped
                off and the trip latched (kept across the restart systemd then makes).
        """
        if not self.settings.loaded:
            self.reload()
        self._restore()
        self._close_cut_sessions()
        self._note(None, "daemon", f"started; {daemon_status.summary(self.snapshot(upcoming=0))}")
        interval = self.notifier.watchdog_interval_s
        self._next_ping = self.clock.now() if interval else None
        self.notifier.ready(self.status_line())
        why = "daemon stopping"
        try:
            while not self._stopping:
                self._tick()
                await self._sleep_until(self._next_wake())
        except Exception as err:
            # Nothing this loop schedules can be trusted any more: off now, latched.
            why = f"internal error in the daemon: {type(err).__name__}: {err}"
            logger.debug("internal error in the daemon loop", exc_info=True)
            logger.error("%s; outputs off, trip latched until `pc6 ctl reset`", why)
            await self._trip(why)
            raise
        finally:
            self.notifier.stopping()
            await self._end_running(why)
            self._note(None, "daemon", "stopped")
            self.stopped.set()

    async def _trip(self, reason: str) -> None:
        """Latch a trip; the running session's gate turns its output off at once."""
        self.authority.trip = reason
        running = self.running
        if running is not None and running.gate is not None:
            await running.gate.trip(reason)  # the session journals the gate's trip
        else:
            if running is not None:
                running.session.stop(reason)  # still connecting: it never starts
            self._note(None, "trip", reason)

    def request_stop(self) -> None:
        """Stop serving: the running session ends with its soft ramp down."""
        self._stopping = True
        self._wake()

    # -- the loop ------------------------------------------------------------------------

    def _tick(self) -> None:
        now = self.clock.now()
        interval = self.notifier.watchdog_interval_s
        if self._next_ping is not None and interval and now >= self._next_ping - 1e-3:
            self.notifier.watchdog()
            self._next_ping = now + interval
        if now >= self._next_check - 1e-6:
            self.settings.refresh()
            period = self.config.check_every_s if self.config else 30.0
            self._next_check = now + period
        self.authority.expire_hold(self.clock.wall())  # a hold ends with its night
        self._start_pending(now)
        self._start_scheduled()
        line = self.status_line()
        if line != self._status_line:
            self._status_line = line
            self.notifier.status(line)

    def _next_wake(self) -> float:
        times = [self._next_check]
        if self._next_ping is not None:
            times.append(self._next_ping)
        times += [p.due for p in self.pending]
        due_in = self.scheduler.next_due_in(self.config, self.clock.wall())
        if due_in is not None:
            times.append(self.clock.now() + due_in)
        return min(times)

    async def _sleep_until(self, deadline: float) -> None:
        if deadline <= self.clock.now() or self._stopping:
            await asyncio.sleep(0)
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiter = fut
        timer = self.clock.call_at(deadline, self._wake)
        try:
            await fut
        finally:
            timer.cancel()
            self._waiter = None

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    # -- schedules -----------------------------------------------------------------------

    def upcoming(self, count: int) -> list[Occurrence]:
        """The next ``count`` scheduled starts from now."""
        return self.scheduler.upcoming(self.config, self.clock.wall(), count)

    def _start_scheduled(self) -> None:
        if self.config is None:
            return
        wall = self.clock.wall()
        for occ, outcome in self.scheduler.run_due(
            self.config, wall, self.journal, self._scheduled_start
        ):
            if outcome != "started":
                self._note(None, "schedule", f"{occ.profile} ({occ.key}): {outcome}")

    def _scheduled_start(self, occ: Occurrence) -> str:
        assert self.config is not None
        wall = self.clock.wall()
        if self.authority.snoozed(wall):
            until = self.authority.snoozed_until
            assert until is not None
            return f"skipped: snoozed until {hhmm(until, self.config.tz)}"
        if self.running is not None:
            who = "a manual" if self.running.origin == "manual" else "the previous"
            return f"skipped: {who} session is still running"
        why = f"schedule[{occ.entry}] at {hhmm(occ.when, self.config.tz)}"
        if occ.note:
            why += f" ({occ.note})"
        try:
            self._refuse_if_blocked()
            not_started = start_scheduled(self, occ.profile, why)  # an experiment picks the arm
            if not_started:
                return not_started
        except PC6Error as err:
            return f"skipped: {err}"
        except Exception as err:  # e.g. a backend option of the wrong type: outputs stay off
            logger.exception("scheduled start of %s failed", occ.profile)
            return f"skipped: could not start ({type(err).__name__}: {err})"
        return "started"

    def _start_pending(self, now: float) -> None:
        for pending in [p for p in self.pending if p.due <= now + 1e-6]:
            self.pending.remove(pending)
            self._spawn(self._delayed_start(pending))

    async def _delayed_start(self, pending: Pending) -> None:
        try:
            await self.start(pending.profile, by=pending.why)
        except PC6Error as err:
            self._note(None, "manual", f"delayed start of {pending.profile} refused: {err}")

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)  # referenced until done, so it is not collected mid-flight
        task.add_done_callback(self._tasks.discard)

    # -- sessions ------------------------------------------------------------------------

    def _refuse_if_blocked(self) -> None:
        if self.config is None:
            raise Refused(f"config invalid: {self.settings.error}")
        if why := self.authority.refusal(self.clock.wall()):
            raise Refused(why)

    def start_now(self, name: str, *, origin: str, why: str) -> Running:
        """Start ``name`` at once.

        Raises:
            Refused: blocked by the config, a trip or the stop button, or a session runs.
            ProfileError: the profile cannot be loaded.
        """
        self._refuse_if_blocked()
        assert self.config is not None
        if self.running is not None:
            raise Refused(f"session {self.running.profile} is running")
        loaded = self.settings.check_profile(name, "profile")
        session = self._build_session(loaded.profile, loaded.timeline, origin)
        running = Running(name, origin, why, session, self.clock.wall())
        self.running = running
        running.task = asyncio.get_running_loop().create_task(self._play(running))
        logger.info("session %s started (%s: %s)", name, origin, why)
        return running

    def _build_session(self, profile: Profile, timeline: Timeline, origin: str) -> Session:
        """THE session assembly with this daemon's config, journal and live level.

        Raises:
            Refused: tonight's budget is used up.
        """
        assert self.config is not None
        config = self.config
        # As in `pc6 run`: a band asked for no kind says what it drives once connected.
        kind = config.kind.value if knows_kind(config) else None
        setup = resolve(config, Overrides(kind=kind), profile)
        factory = self.actuator_factory
        session = Session(
            setup,
            profile,
            timeline,
            clock=self.clock,
            journaling=Journaling(self.journal, origin=origin, tz=config.tz, pauses=False),
            factory=lambda _name, kind, _options: factory(config, kind),
            scale=self.authority.level,
            on_event=self._gate_event,
        )
        try:
            session.prepare()
        except BudgetUsedUp as err:
            budget = config.limits_for(config.kind).nightly_budget_s
            raise Refused(
                f"nightly budget ({budget:g} s of {config.kind}) used up until noon"
            ) from err
        # Faults the backend sees by itself; link losses arrive as LinkChanged gate events.
        session.backend.on_fault(lambda reason: self._note(session.session_id, "fault", reason))
        return session

    async def _play(self, running: Running) -> SessionResult:
        result = SessionResult(EndReason.TRIPPED, "did not start")
        try:
            result = await running.session.run(attach=running.opened)
        except PC6Error as err:
            # Refused once the band said what it drives (not the profile's kind, or that
            # kind's budget used up): nothing moved, a refusal and not a trip.
            result = SessionResult(EndReason.STOPPED, f"refused: {err}")
            logger.warning("session %s refused: %s", running.profile, err)
            self._note(running.session_id, "refused", f"{running.profile}: {err}")
        finally:
            self._finish(running, result)
        return result

    def _finish(self, running: Running, result: SessionResult) -> None:
        tripped = running.gate.tripped if running.gate is not None else None
        # A bug in the session is a trip like the gate's own: nothing about it is
        # understood, so nothing stimulates again until a person has looked.
        failure = running.session.failure
        if (tripped or failure) and not self.authority.trip:
            self.authority.trip = tripped or failure
        self.results.append(result)
        if self.running is running:
            self.running = None
        self.authority.level = 1.0
        running.done.set()
        self._wake()

    def _gate_event(self, event: GateEvent) -> None:
        """The session journals its gate's events; a trip also latches here."""
        if isinstance(event, Tripped):
            self.authority.trip = event.reason

    async def _end_running(self, reason: str) -> None:
        running = self.running
        if running is None:
            return
        running.session.stop(reason)  # works while the band is still connecting too
        await running.done.wait()

    # -- what the control API calls ------------------------------------------------------

    async def start(self, name: str, *, by: str, delay_s: float = 0.0) -> dict[str, Any]:
        """A manual start, now or after ``delay_s``; replaces a running session."""
        self._refuse_if_blocked()
        assert self.config is not None
        self.settings.check_profile(name, "profile")
        if delay_s > 0:
            due = self.clock.now() + delay_s
            self.pending.append(Pending(due, name, f"{by}, delayed"))
            at = self.clock.wall() + delay_s
            self._note(None, "manual", f"{by}: start {name} at {hhmm(at, self.config.tz)}")
            self._wake()
            return {"profile": name, "at": iso(at, self.config.tz)}
        if self.running is not None:
            await self._end_running(f"replaced by a manual start of {name} ({by})")
        self.start_now(name, origin="manual", why=by if "delayed" in by else f"started by {by}")
        self._wake()
        return {"profile": name}

    async def stop(self, *, by: str) -> dict[str, Any]:
        """Stop the session (soft ramp down) and cancel delayed starts; returns when off."""
        cancelled = len(self.pending)
        self.pending.clear()
        running = self.running
        if running is None:
            return {"stopped": None, "cancelled": cancelled}
        await self._end_running(f"stopped by {by}")
        return {"stopped": running.profile, "cancelled": cancelled}

    def pause(self, *, by: str) -> dict[str, Any]:
        """Pause the running session (soft ramp down, timeline held)."""
        running, engine, _ = self._need_engine()
        engine.pause()
        self._note(running.session_id, "paused", f"by {by}")
        return {"paused": running.profile}

    def resume(self, *, by: str) -> dict[str, Any]:
        """Resume a paused session (soft ramp up)."""
        running, engine, _ = self._need_engine()
        engine.resume()
        self._note(running.session_id, "resumed", f"by {by}")
        return {"resumed": running.profile}

    def set_level(self, value: float, *, by: str) -> dict[str, Any]:
        """Scale the running session; 1 plays it as written, the gate clips at the limit."""
        Authority.check_level(value)
        running, engine, gate = self._need_engine()
        engine.set_scale(value)
        self.authority.level = value
        ceiling = gate.max_level
        self._note(running.session_id, "level", f"{value:g} by {by} (ceiling {ceiling:g})")
        return {"level": value, "ceiling": ceiling}

    def snooze(self, seconds: float, *, by: str) -> dict[str, Any]:
        """Skip scheduled sessions for ``seconds`` (0 ends a snooze)."""
        tz = self.config.tz if self.config else dt.UTC
        until = self.authority.snooze(seconds, self.clock.wall())
        if until is None:
            self._note(None, "snooze", f"cleared by {by}")
            return {"snoozed_until": None}
        self._note(None, "snooze", f"until {hhmm(until, tz)} by {by}")
        return {"snoozed_until": iso(until, tz)}

    def reset(self, *, by: str) -> dict[str, Any]:
        """Clear a safety trip and a stop-button hold; says what was cleared."""
        gate = self.running.gate if self.running is not None else None
        if gate is not None and gate.tripped:
            gate.reset()
        cleared = self.authority.reset()
        self._note(None, "reset", f"by {by}: {'; '.join(cleared) or 'nothing to clear'}")
        self._wake()
        return {"cleared": cleared}

    def stop_button_pressed(self) -> None:
        """The physical button: stop now and hold the schedule until the night ends."""
        tz = self.config.tz if self.config else dt.UTC
        why = self.authority.press_stop_button(self.clock.wall(), tz)
        self.pending.clear()
        self._note(self.running.session_id if self.running else None, "button", why)
        if self.running is not None:
            self.running.session.stop("stop button")
        self._wake()

    def stop_button_held(self) -> None:
        """A long press: trip everything off until a person resets it."""
        reason = "stop button held"
        running = self.running
        if running is not None and running.gate is not None:
            self._spawn(running.gate.trip(reason))  # the gate journals its trip
        else:
            if running is not None:
                running.session.stop(reason)  # still connecting: it never starts
            self._note(None, "trip", reason)
        self.authority.trip = reason
        self._wake()

    def _need_engine(self) -> tuple[Running, Engine, SafetyGate]:
        running = self.running
        if running is None:
            raise Refused("no session is running")
        if running.engine is None or running.gate is None:
            raise Refused(f"session {running.profile} is starting: the band has not said yet")
        return running, running.engine, running.gate

    # -- status (see daemon_status) ------------------------------------------------------

    def snapshot(self, upcoming: int = 3) -> Snapshot:
        """A frozen copy of the state status shows; taking it changes nothing."""
        wall = self.clock.wall()
        session = None
        if (running := self.running) is not None:
            engine, gate, kind = running.engine, running.gate, running.session.kind
            session = SessionView(
                profile=running.profile,
                origin=running.origin,
                why=running.why,
                started_wall=running.started_wall,
                # Before the band has said what it drives, nothing has played yet.
                elapsed_s=engine.elapsed_s if engine else 0.0,
                remaining_s=engine.remaining_s if engine else timeline_s(running.session),
                paused=engine.paused if engine else False,
                output=gate.output if gate else 0.0,
                level=engine.scale if engine else self.authority.level,
                ceiling=gate.max_level if gate else 1.0,
                kind=kind.value if kind else None,
            )
        now = self.clock.now()
        return Snapshot(
            wall=wall,
            config=self.config,
            config_error=self.settings.error,
            trip=self.authority.trip,
            # A hold that has run out is over, whether or not the loop has cleared it yet.
            hold=self.authority.hold_in_force(wall),
            snoozed_until=self.authority.snoozed_until,
            synced=self.scheduler.synced,
            session=session,
            profile_errors=dict(self.settings.profiles.errors),
            pending=tuple((p.profile, p.due - now) for p in self.pending),
            upcoming=tuple(self.upcoming(upcoming)),
        )

    def status(self) -> dict[str, Any]:
        """Everything ``pc6 ctl status`` shows (read only: never writes the journal)."""
        return daemon_status.status(self.snapshot())

    def status_line(self) -> str:
        """One line for systemd and logs."""
        return daemon_status.status_line(self.snapshot(upcoming=1))

    def _close_cut_sessions(self) -> None:
        """End as killed the sessions a crash, SIGKILL or power cut left open.

        Without this they stay "running or killed" in ``pc6 log`` and the morning report
        until the next session's budget check, and a night with no later session never
        counts them as interruptions. Their checkpointed on-time is kept.
        """
        try:
            closed = self.journal.close_killed()
        except PC6Error as err:
            logger.error("could not close the sessions a crash left open: %s", err)
            return
        if closed:
            logger.warning("%d session(s) cut by a crash or power cut closed as killed", closed)
            self._note(None, "daemon", f"{closed} session(s) cut by a crash closed as killed")

    def _note(self, session_id: int | None, kind: str, detail: str) -> None:
        try:
            self.journal.event(session_id, at=self.clock.wall(), kind=kind, detail=detail)
        except PC6Error:
            logger.exception("journal write failed (%s: %s)", kind, detail)


def timeline_s(session: Session) -> float:
    """The whole of a session's timeline, in seconds."""
    return session.timeline.duration_ms / 1000
