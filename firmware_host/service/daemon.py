"""The night daemon: runs scheduled and requested sessions, one at a time, all night.

One loop drives everything: it starts sessions when their scheduled instant comes, picks up
edited profiles and config, and sends systemd's watchdog ping — so a hung loop stops the
pings and systemd restarts the service. It sleeps until the next thing it has to do (a
session start, the ping, a periodic check), never on a fixed tick.

Order of authority: the stop button beats a manual command, which beats the schedule.

- A press of the stop button stops the session and holds the schedule until the end of the
  night; manual starts are refused until ``pc6 ctl reset``. A long press trips the gate.
- A manual start replaces whatever runs; a manual stop, pause or level applies to any
  session.
- A scheduled start never interrupts a running session; it is skipped and journaled.

An invalid config never starts a session: the daemon keeps running, outputs off, and
reports why until the file is fixed.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from firmware_host.clock import Clock
from firmware_host.drive.actuator import Actuator, ActuatorKind, create_backend
from firmware_host.errors import ConfigError, PC6Error, ProfileError
from firmware_host.experiment.tonight import start_scheduled
from firmware_host.guard.events import GateEvent, Tripped
from firmware_host.guard.gate import SafetyGate
from firmware_host.guard.preview import refuse_beyond_ceiling
from firmware_host.paths import default_journal_path
from firmware_host.plan.profile import Profile
from firmware_host.plan.schedule import (
    Occurrence,
    next_occurrences,
    night_bounds,
    night_of,
    occurrences,
)
from firmware_host.plan.store import ProfileStore, check_profile, check_schedule
from firmware_host.plan.timeline import Timeline
from firmware_host.play.engine import EndReason, Engine, SessionResult
from firmware_host.record.journal import Journal
from firmware_host.service import status as daemon_status
from firmware_host.service.clock_sync import ClockSyncCheck
from firmware_host.service.sdnotify import Notifier
from firmware_host.service.status import SessionView, Snapshot, hhmm, iso
from firmware_host.session.assembly import Journaling, Overrides, Session, resolve
from firmware_host.session.budget import BudgetUsedUp
from firmware_host.session.config import Config, load_config

logger = logging.getLogger(__name__)

LEVEL_MAX = 2.0  # `pc6 ctl level`: 1 = as written; the gate still clips at the limit
ActuatorFactory = Callable[[Config, ActuatorKind], Actuator]


class Refused(PC6Error, RuntimeError):
    """A request the daemon will not carry out now; the message says why."""


@dataclass
class Running:
    """The session in progress."""

    profile: str
    origin: str  # "schedule" or "manual"
    why: str
    engine: Engine
    gate: SafetyGate
    session_id: int
    started_wall: float
    task: asyncio.Task[SessionResult] | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)
    session: Session | None = None


@dataclass
class Pending:
    """A one-off manual start ("in 10 minutes"), on monotonic time."""

    due: float
    profile: str
    why: str


def default_actuator(config: Config, kind: ActuatorKind) -> Actuator:
    """The configured backend (the session assembly applies the wearer's calibration)."""
    return create_backend(config.backend, kind=kind.value, **dict(config.backend_options))


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
        self.config_path = config_path
        self.clock = clock
        self.notifier = notifier or Notifier(None)
        self.clock_synced = clock_synced or ClockSyncCheck()
        self.actuator_factory = actuator_factory
        self.config: Config | None = None
        self.config_error: str | None = None
        self.profiles = ProfileStore()
        self._preloaded = config
        self._config_stamp: tuple[int, int] | None = None
        self._journal = journal
        self._journal_given = journal is not None
        self.running: Running | None = None
        self.pending: list[Pending] = []
        # What a person decided (a trip to clear, a hold, a snooze, a level) survives a
        # restart: a crash and systemd's Restart= must not clear a latched trip.
        self._trip: str | None = None
        self._hold: tuple[str, float] | None = None  # stop-button hold: (why, until wall)
        self._snoozed_until: float | None = None
        self._level = 1.0
        self.synced = False
        self.results: list[SessionResult] = []
        self._stopping = False
        self._waiter: asyncio.Future[None] | None = None
        self._last_wall: float | None = None
        self._next_ping: float | None = None
        self._next_check = 0.0
        self._status_line = ""
        self.stopped = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()

    # -- state that survives a restart -----------------------------------------------

    @property
    def trip(self) -> str | None:
        """A latched safety trip's reason; only ``reset`` clears it."""
        return self._trip

    @trip.setter
    def trip(self, value: str | None) -> None:
        self._trip = value
        self._keep("trip", value)

    @property
    def hold(self) -> tuple[str, float] | None:
        """A stop-button hold on the schedule: (why, until wall time)."""
        return self._hold

    @hold.setter
    def hold(self, value: tuple[str, float] | None) -> None:
        self._hold = value
        self._keep("hold", list(value) if value else None)

    @property
    def snoozed_until(self) -> float | None:
        """Scheduled sessions are skipped until this wall time."""
        return self._snoozed_until

    @snoozed_until.setter
    def snoozed_until(self, value: float | None) -> None:
        self._snoozed_until = value
        self._keep("snoozed_until", value)

    @property
    def level(self) -> float:
        """The live level scale set by ``pc6 ctl level``."""
        return self._level

    @level.setter
    def level(self, value: float) -> None:
        self._level = value
        self._keep("level", None if value == 1.0 else value)

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
        trip, hold, snooze, level = (
            kept.get(k) for k in ("trip", "hold", "snoozed_until", "level")
        )
        if isinstance(trip, str):
            self._trip = trip
            self._note(None, "restored", f"safety trip still latched: {trip}")
        if (
            isinstance(hold, list)
            and len(hold) == 2
            and isinstance(hold[1], int | float)
            and self.clock.wall() < hold[1] <= self.clock.wall() + 2 * 86400
        ):
            self._hold = (str(hold[0]), float(hold[1]))
        now = self.clock.wall()
        if isinstance(snooze, int | float) and now < snooze <= now + 2 * 86400:
            self._snoozed_until = float(snooze)  # anything else is stale or corrupt
        if isinstance(level, int | float) and 0 <= level <= LEVEL_MAX:
            self._level = float(level)

    # -- life cycle ----------------------------------------------------------------------

    @property
    def journal(self) -> Journal:
        """The journal (opened on first use, at the configured path)."""
        if self._journal is None:
            path = self.config.journal if self.config else default_journal_path()
            self._journal = Journal(path)
        return self._journal

    async def run(self) -> None:
        """Serve until :meth:`request_stop`; outputs are off when it returns."""
        if self.config is None and self.config_error is None:
            self.reload()
        self._restore()
        self._note(None, "daemon", f"started; {daemon_status.summary(self.snapshot(upcoming=0))}")
        interval = self.notifier.watchdog_interval_s
        self._next_ping = self.clock.now() if interval else None
        self.notifier.ready(self.status_line())
        try:
            while not self._stopping:
                self._tick()
                await self._sleep_until(self._next_wake())
        finally:
            self.notifier.stopping()
            await self._end_running("daemon stopping")
            self._note(None, "daemon", "stopped")
            self.stopped.set()

    def request_stop(self) -> None:
        """Stop serving: the running session ends with its soft ramp down."""
        self._stopping = True
        self._wake()

    def reload(self) -> str | None:
        """Read the config and its profiles again; returns the error that keeps it unusable."""
        try:
            config = self._preloaded or load_config(self.config_path)
            same = self.config is not None and self.config.profile_dirs == config.profile_dirs
            store = self.profiles if same else ProfileStore(config.profile_dirs)
            check_schedule(config, store)
        except Exception as err:  # any failure here means "config unusable"
            # A bug or an OS surprise while reading config must not take the daemon down:
            # it stays up, outputs off, and says why.
            if not isinstance(err, PC6Error):
                logger.exception("unexpected error while loading the config")
            first = self.config is None and self.config_error is None
            changed = str(err) != self.config_error
            self.config, self.config_error = None, str(err)
            if changed or first:
                logger.error("config invalid, no session will start: %s", err)
                self._note(None, "config", f"invalid, no session will start: {err}")
            return self.config_error
        if self.config_error or (self.config and self.config.sha256 != config.sha256):
            self._note(None, "config", f"loaded {config.source}")
        self.config, self.config_error, self.profiles = config, None, store
        self._follow_journal(config.journal)
        self._config_stamp = _stamp(self.config_path)
        return None

    def _follow_journal(self, path: Path) -> None:
        """Move to the configured journal (an invalid config had left us on the default)."""
        if self._journal_given or self._journal is None or self._journal.path == path:
            return
        if self.running is None:
            self._journal.close()
            self._journal = None

    @staticmethod
    def _check_profile(store: ProfileStore, config: Config, name: str, key: str) -> None:
        loaded = check_profile(store, config.kind.value, name, key)
        try:  # continuous stimulation beyond the hard ceiling is a mistake, as in pc6 run
            refuse_beyond_ceiling(loaded.timeline, config.kind)
        except ProfileError as err:
            raise ConfigError(f"{key}: {err}") from None

    # -- the loop ------------------------------------------------------------------------

    def _tick(self) -> None:
        now = self.clock.now()
        interval = self.notifier.watchdog_interval_s
        if self._next_ping is not None and interval and now >= self._next_ping - 1e-3:
            self.notifier.watchdog()
            self._next_ping = now + interval
        if now >= self._next_check - 1e-6:
            self._housekeeping()
            period = self.config.check_every_s if self.config else 30.0
            self._next_check = now + period
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
        if self._schedules_active() and self.config is not None:
            wall = self.clock.wall()
            # Only what has not been handled yet: _last_wall is just past the last check.
            after = max(wall, self._last_wall or wall)
            upcoming = next_occurrences(self.config.schedule, self.config.tz, after, 1)
            if upcoming:
                times.append(self.clock.now() + max(0.0, upcoming[0].when - wall))
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

    def _housekeeping(self) -> None:
        if self._preloaded is None and _stamp(self.config_path) != self._config_stamp:
            self.reload()
        try:
            changes = self.profiles.refresh()
        except Exception as err:  # an edited profile must never take the daemon down
            logger.exception("profile refresh failed")
            self._note(None, "profile", f"refresh failed, previous versions kept: {err}")
            return
        for name, what in changes:
            self._note(None, "profile", f"{name}: {what}")

    # -- schedules -----------------------------------------------------------------------

    def _schedules_active(self) -> bool:
        if self.config is None or not self.config.schedule:
            return False
        if self.config.require_clock_sync and not self.synced:
            self.synced = self.clock_synced()  # latched: a synced clock stays trusted
            if not self.synced:
                return False
        return True

    def upcoming(self, count: int) -> list[Occurrence]:
        """The next ``count`` scheduled starts from now."""
        if self.config is None:
            return []
        return next_occurrences(self.config.schedule, self.config.tz, self.clock.wall(), count)

    def _start_scheduled(self) -> None:
        if not self._schedules_active():
            return
        assert self.config is not None
        wall = self.clock.wall()
        since = wall - self.config.grace_s if self._last_wall is None else self._last_wall
        due = occurrences(self.config.schedule, self.config.tz, since, wall + 1e-3)
        for occ in due:
            if self.journal.has_run(occ.key):
                continue
            if occ.when < wall - self.config.grace_s:
                outcome = (
                    f"missed: due at {hhmm(occ.when, self.config.tz)}, the clock "
                    f"jumped or the daemon was not running"
                )
            else:
                outcome = self._scheduled_start(occ)
            self.journal.mark_run(occ.key, at=wall, outcome=outcome)
            if outcome != "started":
                self._note(None, "schedule", f"{occ.profile} ({occ.key}): {outcome}")
        self._last_wall = max(wall + 1e-3, self._last_wall or 0.0)

    def _scheduled_start(self, occ: Occurrence) -> str:
        assert self.config is not None
        wall = self.clock.wall()
        if self.snoozed_until is not None and wall < self.snoozed_until:
            return f"skipped: snoozed until {hhmm(self.snoozed_until, self.config.tz)}"
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
        self.expire_hold()
        if self.config is None:
            raise Refused(f"config invalid: {self.config_error}")
        if self.trip:
            raise Refused(f"safety trip latched ({self.trip}); `pc6 ctl reset` clears it")
        if self.hold:
            raise Refused(f"{self.hold[0]}; `pc6 ctl reset` releases it")

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
        self._check_profile(self.profiles, self.config, name, "profile")
        loaded = self.profiles.get(name)
        session = self._build_session(loaded.profile, loaded.timeline, origin)
        assert session.engine is not None and session.gate is not None
        assert session.session_id is not None
        running = Running(
            name,
            origin,
            why,
            session.engine,
            session.gate,
            session.session_id,
            self.clock.wall(),
            session=session,
        )
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
        setup = resolve(config, Overrides(kind=config.kind.value))
        factory = self.actuator_factory
        session = Session(
            setup,
            profile,
            timeline,
            clock=self.clock,
            journaling=Journaling(self.journal, origin=origin, tz=config.tz, pauses=False),
            factory=lambda _name, kind, _options: factory(config, kind or config.kind),
            scale=self.level,
            on_event=self._gate_event,
        )
        try:
            session.prepare()
        except BudgetUsedUp as err:
            budget = config.limits_for(config.kind).nightly_budget_s
            raise Refused(
                f"nightly budget ({budget:g} s of {config.kind}) used up until noon"
            ) from err
        sid = session.session_id
        # Faults the backend sees by itself; link losses arrive as LinkChanged gate events.
        session.backend.on_fault(lambda reason: self._note(sid, "fault", reason))
        return session

    async def _play(self, running: Running) -> SessionResult:
        assert running.session is not None
        result = SessionResult(EndReason.TRIPPED, "did not start")
        try:
            result = await running.session.run()
        except PC6Error as err:  # a refusal at open (a band of another kind)
            result = SessionResult(EndReason.TRIPPED, str(err))
        finally:
            self._finish(running, result)
        return result

    def _finish(self, running: Running, result: SessionResult) -> None:
        gate = running.gate
        if gate.tripped and not self.trip:
            self.trip = gate.tripped
        self.results.append(result)
        if self.running is running:
            self.running = None
        self.level = 1.0
        running.done.set()
        self._wake()

    def _gate_event(self, event: GateEvent) -> None:
        """The session journals its gate's events; a trip also latches here."""
        if isinstance(event, Tripped):
            self.trip = event.reason

    async def _end_running(self, reason: str) -> None:
        running = self.running
        if running is None:
            return
        running.engine.stop(reason)
        await running.done.wait()

    # -- what the control API calls ------------------------------------------------------

    async def start(self, name: str, *, by: str, delay_s: float = 0.0) -> dict[str, Any]:
        """A manual start, now or after ``delay_s``; replaces a running session."""
        self._refuse_if_blocked()
        assert self.config is not None
        self._check_profile(self.profiles, self.config, name, "profile")
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
        running = self._need_running()
        running.engine.pause()
        self._note(running.session_id, "paused", f"by {by}")
        return {"paused": running.profile}

    def resume(self, *, by: str) -> dict[str, Any]:
        """Resume a paused session (soft ramp up)."""
        running = self._need_running()
        running.engine.resume()
        self._note(running.session_id, "resumed", f"by {by}")
        return {"resumed": running.profile}

    def set_level(self, value: float, *, by: str) -> dict[str, Any]:
        """Scale the running session; 1 plays it as written, the gate clips at the limit."""
        if not math.isfinite(value) or not 0 <= value <= LEVEL_MAX:
            raise Refused(f"level must be from 0 to {LEVEL_MAX:g}, got {value!r}")
        running = self._need_running()
        running.engine.set_scale(value)
        self.level = value
        ceiling = running.gate.max_level
        self._note(running.session_id, "level", f"{value:g} by {by} (ceiling {ceiling:g})")
        return {"level": value, "ceiling": ceiling}

    def snooze(self, seconds: float, *, by: str) -> dict[str, Any]:
        """Skip scheduled sessions for ``seconds`` (0 ends a snooze)."""
        tz = self.config.tz if self.config else dt.UTC
        if not math.isfinite(seconds) or seconds > 86400:
            raise Refused(f"snooze must be at most 24h, got {seconds:g} s")
        if seconds <= 0:
            self.snoozed_until = None
            self._note(None, "snooze", f"cleared by {by}")
            return {"snoozed_until": None}
        self.snoozed_until = self.clock.wall() + seconds
        self._note(None, "snooze", f"until {hhmm(self.snoozed_until, tz)} by {by}")
        return {"snoozed_until": iso(self.snoozed_until, tz)}

    def reset(self, *, by: str) -> dict[str, Any]:
        """Clear a safety trip and a stop-button hold; says what was cleared."""
        cleared = []
        if self.running is not None and self.running.gate.tripped:
            self.running.gate.reset()
        if self.trip:
            cleared.append(f"safety trip: {self.trip}")
            self.trip = None
        if self.hold:
            cleared.append(self.hold[0])
            self.hold = None
        self._note(None, "reset", f"by {by}: {'; '.join(cleared) or 'nothing to clear'}")
        self._wake()
        return {"cleared": cleared}

    def stop_button_pressed(self) -> None:
        """The physical button: stop now and hold the schedule until the night ends."""
        tz = self.config.tz if self.config else dt.UTC
        wall = self.clock.wall()
        _, until = night_bounds(night_of(wall, tz), tz)
        self.hold = (
            f"stop button pressed at {hhmm(wall, tz)}; schedule held until {hhmm(until, tz)}",
            until,
        )
        self.pending.clear()
        self._note(self.running.session_id if self.running else None, "button", self.hold[0])
        if self.running is not None:
            self.running.engine.stop("stop button")
        self._wake()

    def stop_button_held(self) -> None:
        """A long press: trip everything off until a person resets it."""
        reason = "stop button held"
        if self.running is not None:
            self._spawn(self.running.gate.trip(reason))  # the gate journals its trip
        else:
            self._note(None, "trip", reason)
        self.trip = reason
        self._wake()

    def _need_running(self) -> Running:
        if self.running is None:
            raise Refused("no session is running")
        return self.running

    def expire_hold(self) -> None:
        """A stop-button hold ends with the night."""
        if self.hold and self.clock.wall() >= self.hold[1]:
            self.hold = None

    # -- status (see daemon_status) ------------------------------------------------------

    def snapshot(self, upcoming: int = 3) -> Snapshot:
        """A frozen copy of the state status shows; taking it changes nothing."""
        wall = self.clock.wall()
        session = None
        if (running := self.running) is not None:
            engine = running.engine
            session = SessionView(
                profile=running.profile,
                origin=running.origin,
                why=running.why,
                started_wall=running.started_wall,
                elapsed_s=engine.elapsed_s,
                remaining_s=engine.remaining_s,
                paused=engine.paused,
                output=running.gate.output,
                level=engine.scale,
            )
        now = self.clock.now()
        return Snapshot(
            wall=wall,
            config=self.config,
            config_error=self.config_error,
            trip=self.trip,
            # A hold that has run out is over, whether or not the loop has cleared it yet.
            hold=self.hold if self.hold and wall < self.hold[1] else None,
            snoozed_until=self.snoozed_until,
            synced=self.synced,
            session=session,
            profile_errors=dict(self.profiles.errors),
            pending=tuple((p.profile, p.due - now) for p in self.pending),
            upcoming=tuple(self.upcoming(upcoming)),
        )

    def status(self) -> dict[str, Any]:
        """Everything ``pc6 ctl status`` shows (read only: never writes the journal)."""
        return daemon_status.status(self.snapshot())

    def status_line(self) -> str:
        """One line for systemd and logs."""
        return daemon_status.status_line(self.snapshot(upcoming=1))

    def _note(self, session_id: int | None, kind: str, detail: str) -> None:
        try:
            self.journal.event(session_id, at=self.clock.wall(), kind=kind, detail=detail)
        except PC6Error:
            logger.exception("journal write failed (%s: %s)", kind, detail)


def _stamp(path: Path | None) -> tuple[int, int] | None:
    if path is None:
        return None
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size)
