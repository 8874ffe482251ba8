"""The SafetyGate: every command to an actuator passes through it.

It clamps to the wearer's maximum, slows rises to the soft-start limit, attaches a lease to
every non-zero command, enforces the longest continuous on-time, a rest after each press at
least as long as the press (for pressure), the session length and the nightly budget, and
latches a trip — outputs off — until a person resets it. Caps below the hard ceilings come
from config; the ceilings themselves live in :mod:`firmware_host.guard.limits`.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from collections.abc import Callable
from dataclasses import dataclass

from firmware_host.clock import EPSILON_S, Clock
from firmware_host.drive.actuator import Actuator
from firmware_host.drive.stepping import with_steps
from firmware_host.drive.trace import TracedActuator, TraceRecorder, find_tap
from firmware_host.errors import InvalidInput, LinkError, SafetyTrip
from firmware_host.guard.events import (
    EventSink,
    GateEvent,
    LimitReached,
    LinkChanged,
    Reset,
    Tripped,
)
from firmware_host.guard.limits import HARD_LIMITS, Limits

logger = logging.getLogger(__name__)

LEASE_REFRESH_FRACTION = 0.75  # as Klipper: refresh unchanged values at 75 % of the lease
FORCED_REST_MIN_S = 60.0  # after a cut-off for continuous on-time, rest at least this long


@dataclass
class _Motion:
    """The output in progress: from (ta, va) to (tb, vb), then holding vb."""

    ta: float = 0.0
    va: float = 0.0
    tb: float = 0.0
    vb: float = 0.0

    def at(self, t: float) -> float:
        if t >= self.tb - EPSILON_S or self.tb <= self.ta:
            return self.vb
        return self.va + (self.vb - self.va) * (t - self.ta) / (self.tb - self.ta)


class SafetyGate:
    """Guards one actuator. Use ``async with`` or call :meth:`open` and :meth:`close`.

    An actuator that cannot ramp by itself gets its ramps played as steps by
    :class:`~firmware_host.drive.stepping.SteppedActuator`; the trace is a tap on the
    actuator (:class:`~firmware_host.drive.trace.TracedActuator`), not kept here.
    """

    def __init__(
        self,
        actuator: Actuator,
        clock: Clock,
        limits: Limits,
        *,
        max_level: float | None = None,
        budget_used_s: float = 0.0,
        on_event: EventSink | None = None,
    ) -> None:
        self._given = actuator
        self.actuator = with_steps(actuator, clock)
        self.clock = clock
        self.limits = _within_hard(actuator, limits)
        ceiling = self.limits.max_level
        self.max_level = ceiling if max_level is None else min(max_level, ceiling)
        self.budget_used_s = budget_used_s
        self._listeners: list[EventSink] = [on_event] if on_event else []
        self.tripped: str | None = None
        self.finished: str | None = None  # a limit that ends the session (not a fault)
        caps = actuator.capabilities
        self.lease_s = min(self.limits.lease_s, caps.max_lease_s)
        self._motion = _Motion()
        self._last_t = 0.0  # bookkeeping of on-time is advanced up to here
        self._on_since: float | None = None
        self._rest_until = 0.0
        self._last_send = 0.0
        self._lease_end: float | None = None  # when the far end turns itself off unless renewed
        self._session_start = 0.0
        self._desired: tuple[float, float] = (0.0, 0.0)  # level, absolute end of its ramp
        self.link_down: str | None = None  # why the link to the band is down, if it is
        self._undo_link: Callable[[], None] | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._lock = asyncio.Lock()

    # -- life cycle -------------------------------------------------------------------

    @property
    def recorder(self) -> TraceRecorder | None:
        """The trace of the tap on this gate's actuator, if there is one."""
        tap = find_tap(self.actuator)
        return tap.recorder if tap is not None else None

    async def open(self, recorder: TraceRecorder | None = None, *, opened: bool = False) -> None:
        """Open the actuator (which starts off) and start the session clock.

        ``recorder``: put a trace tap on the actuator first (a session built by
        :mod:`firmware_host.session.assembly` has its tap already). ``opened``: the backend
        was opened already (to ask a band what it drives); it is forced off instead.

        Raises:
            InvalidInput: the backend refuses the setup (a band of another kind): nothing
                moved, and that is not a safety trip.
            SafetyTrip: the actuator could not be opened.
        """
        now = self.clock.now()
        if recorder is not None:
            self.actuator = with_steps(
                TracedActuator(self._given, self.clock, recorder), self.clock
            )
        self._session_start = self._last_t = self._last_send = now
        self._motion = _Motion(now, 0.0, now, 0.0)
        self._unsubscribe = self.actuator.on_fault(self._fault_from_backend)
        self._undo_link = self.actuator.on_link(self._link_changed)
        try:
            if opened:
                await self.actuator.off()
            else:
                await self.actuator.open()
        except InvalidInput:
            raise
        except Exception as err:
            await self.trip(f"could not open the actuator: {err}")
            raise SafetyTrip(f"could not open the actuator: {err}") from err
        # A band tells its own lease ceiling only once connected.
        self.lease_s = min(self.limits.lease_s, self.actuator.capabilities.max_lease_s)

    async def close(self) -> None:
        """Output off and actuator closed; safe to call twice, never raises."""
        try:
            await self._force_off()
        finally:
            # Even if cancelled mid-way (a second Ctrl-C), the backend still gets closed.
            await self._close_actuator()

    async def _close_actuator(self) -> None:
        if self._unsubscribe:
            self._unsubscribe()
            self._unsubscribe = None
        if self._undo_link:
            self._undo_link()
            self._undo_link = None
        try:
            await self.actuator.close()
        except Exception:  # closing must not hide why we are closing
            logger.exception("actuator close failed")

    async def __aenter__(self) -> SafetyGate:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- what the engine calls --------------------------------------------------------

    @property
    def output(self) -> float:
        """The level the actuator is delivering now, as far as the gate knows."""
        now = self.clock.now()
        if self._lease_end is not None and now > self._lease_end + EPSILON_S:
            return 0.0  # the lease ran out (the host stalled): the far end is off
        return self._motion.at(now)

    async def command(self, level: float, ramp_s: float = 0.0) -> float:
        """Ask for ``level``, reached linearly over ``ramp_s``; returns what was sent.

        Raises:
            SafetyTrip: the gate is tripped, or the actuator failed (the gate trips).
        """
        async with self._lock:
            now = self.clock.now()
            self._lapse(now)
            self._account(now)
            if self.tripped:
                raise SafetyTrip(self.tripped)
            self._desired = (level, _us(now + ramp_s))
            return await self._apply(now, level, ramp_s)

    def next_deadline(self) -> float | None:
        """When the gate must act next without a new command (lease, caps, rest)."""
        if self.tripped:
            return None
        if self.link_down:
            return self._session_start + self.limits.max_session_s
        now = self.clock.now()
        out = self._motion.at(now)
        moving = self._motion.tb > now + EPSILON_S
        times: list[float] = []
        if out > 0 or moving:
            times.append(self._last_send + self.lease_s * LEASE_REFRESH_FRACTION)
            if self._on_since is not None:
                times.append(self._on_since + self.limits.max_continuous_on_s)
            times.append(now + max(0.0, self.limits.nightly_budget_s - self.budget_used_s))
        if self._desired[0] > 0 and out == 0 and self._rest_until > now + EPSILON_S:
            times.append(self._rest_until)
        if moving and self._motion.vb == 0:
            times.append(self._motion.tb)  # a press ends: rest starts to count
        times.append(self._session_start + self.limits.max_session_s)
        return min(times)

    async def poll(self) -> None:
        """Act on whatever is due: refresh the lease, cut off, end a rest, end the session."""
        async with self._lock:
            now = self.clock.now()
            self._lapse(now)
            self._account(now)
            if self.tripped:
                return
            level, ramp_end = self._desired
            await self._apply(now, level, max(0.0, ramp_end - now))

    async def soft_stop(self, duration_s: float | None = None) -> None:
        """Ramp the output down to 0 (time proportional to the level) and wait for it."""
        full = self.limits.soft_stop_s if duration_s is None else duration_s
        ramp = full * self.output
        try:
            await self.command(0.0, ramp)
        except SafetyTrip:
            return
        await self.serve_until(self.clock.now() + ramp)

    async def serve_until(self, until: float) -> None:
        """Wait until ``until`` while acting on the gate's own deadlines (steps, leases)."""
        while True:
            due = self.next_deadline()
            wake = until if due is None else min(until, due)
            await self.clock.sleep_until(wake)
            await self.poll()
            if self.clock.now() + EPSILON_S >= until or self.tripped:
                return

    async def trip(self, reason: str) -> None:
        """Latch outputs off until :meth:`reset`."""
        if self.tripped:
            return
        self.tripped = reason
        logger.error("safety trip: %s", reason)
        await self._force_off()
        self._emit(Tripped(reason))

    def reset(self) -> str | None:
        """Clear a trip (a person's decision); returns the reason it had."""
        reason, self.tripped = self.tripped, None
        if reason:
            self._emit(Reset(reason))
            self._rest_until = max(self._rest_until, self.clock.now())
        return reason

    def dry_copy(self, actuator: Actuator, clock: Clock) -> SafetyGate:
        """This gate's state and caps on another actuator and clock, telling no one.

        The PLAY window stream (firmware_host/play/window.py) runs the commands of the
        next window through a copy, so every queued step is vetted exactly as a SET.
        """
        dry = copy.copy(self)
        dry.actuator, dry.clock = actuator, clock
        dry._listeners, dry._tasks, dry._lock = [], set(), asyncio.Lock()
        dry._undo_link = dry._unsubscribe = None
        return dry

    # -- inside -------------------------------------------------------------------------

    async def _apply(self, now: float, level: float, ramp_s: float) -> float:
        if self.link_down:
            return 0.0  # the band is off by its own lease; nothing can reach it now
        limited = min(max(level, 0.0), self.max_level)
        if self.finished or (limited > 0 and self._rest_until > now + EPSILON_S):
            # Session over, or resting after a press or a cut-off: off now, not by the
            # caller's ramp (which may be a long ramp that would keep pressing).
            limited, ramp_s = 0.0, 0.0
        current = self._motion.at(now)
        if limited > current:
            ramp_s = self._soft_start(current, limited, ramp_s)
        await self._send(now, limited, ramp_s)
        return limited

    def _soft_start(self, current: float, target: float, ramp_s: float) -> float:
        rise = self.limits.max_rise_per_s
        if rise == float("inf"):
            return ramp_s
        return max(ramp_s, (target - current) / rise)

    async def _send(self, now: float, level: float, ramp_s: float) -> None:
        motion = self._motion
        moving = motion.tb > now + EPSILON_S
        due = (
            level > 0 or moving
        ) and now - self._last_send >= self.lease_s * LEASE_REFRESH_FRACTION - EPSILON_S
        same = level == motion.vb and abs(max(now, motion.tb) - (now + ramp_s)) < EPSILON_S
        if same and not due:
            return
        try:
            await self._set(now, level, ramp_s)
        except _LinkDown:
            return
        start = motion.at(now)
        if self._on_since is None and (level > 0 or start > 0):
            self._on_since = now
        self._motion = _Motion(now, start, _us(now + ramp_s), level)
        self._last_send = now

    def _lapse(self, now: float) -> None:
        """After a stall longer than the lease, the output is 0: the far end saw to it.

        So whatever comes next rises from 0 with the soft start, never as a step back to
        the level the gate remembers.
        """
        end = self._lease_end
        if end is None or now <= end + EPSILON_S:
            return
        self._lease_end = None
        if self._motion.at(end) <= 0 and self._motion.vb <= 0:
            return
        logger.warning("lease ran out %.3f s ago (the host stalled): output is 0", now - end)
        self._account(end)
        self._motion = _Motion(end, 0.0, end, 0.0)
        self._account(end)  # the press ended at the lease's end: its rest counts from there
        self._last_send = -1e18  # force the next command through

    async def _set(self, now: float, level: float, ramp_s: float) -> None:
        lease = self.lease_s if (level > 0 or ramp_s > 0) else 0.0
        try:
            await self.actuator.set_level(level, lease_s=lease, ramp_s=ramp_s)
            self._lease_end = now + lease if lease > 0 else None
        except LinkError as err:
            # The band cannot be reached: it turns itself off within its lease.
            self._link_changed(False, f"link lost: {err}")
            raise _LinkDown from err
        except Exception as err:
            await self.trip(f"actuator failed: {err}")
            raise SafetyTrip(self.tripped or str(err)) from err

    def _account(self, now: float) -> None:
        """Advance on-time bookkeeping to ``now``; apply caps that have run out."""
        motion, last = self._motion, self._last_t
        if now > last:
            # On-time between last and now: the motion is monotone; find where it is zero.
            ends_at_zero = motion.vb == 0 and motion.tb > motion.ta
            on_end = min(now, motion.tb) if ends_at_zero else now
            if motion.at(last) > 0 or (motion.tb > last and motion.vb > 0):
                self.budget_used_s += max(0.0, on_end - last) if ends_at_zero else now - last
            self._last_t = now
        if self._on_since is not None and motion.at(now) == 0 and motion.tb <= now + EPSILON_S:
            end = max(motion.tb, motion.ta)
            press = end - self._on_since
            self._rest_until = max(self._rest_until, _us(end + press * self.limits.rest_ratio))
            self._on_since = None
        self._check_caps(now)

    def _check_caps(self, now: float) -> None:
        limits = self.limits
        if self.finished is None and now + EPSILON_S - self._session_start >= limits.max_session_s:
            self._finish(now, f"session length limit ({limits.max_session_s:g} s) reached")
        if self.finished is None and self.budget_used_s + EPSILON_S >= limits.nightly_budget_s:
            self._finish(now, f"nightly budget ({limits.nightly_budget_s:g} s) used up")
        if (
            self._on_since is not None
            and now + EPSILON_S - self._on_since >= limits.max_continuous_on_s
        ):
            press = now - self._on_since
            rest = max(press * limits.rest_ratio, FORCED_REST_MIN_S)
            self._rest_until = now + rest
            self._on_since = None
            self._cut(now)
            self._emit(
                LimitReached(
                    f"continuous on-time limit ({limits.max_continuous_on_s:g} s): "
                    f"resting {rest:g} s"
                )
            )

    def _finish(self, now: float, reason: str) -> None:
        self.finished = reason
        self._cut(now)
        self._emit(LimitReached(reason, ends_session=True))

    def _cut(self, now: float) -> None:
        """Mark the output for an immediate 0; :meth:`_apply` sends it."""
        self._desired = (self._desired[0], now)
        self._motion = _Motion(now, self._motion.at(now), now, self._motion.at(now))
        self._last_send = -1e18  # force the next send through

    async def _force_off(self) -> None:
        now = self.clock.now()
        try:
            await self.actuator.off()
        except Exception:  # off() must never raise; a backend that does is logged
            logger.exception("actuator off() raised")
        self._motion = _Motion(now, 0.0, now, 0.0)
        self._desired = (0.0, now)
        self._lease_end = None

    def _link_changed(self, up: bool, reason: str) -> None:
        """The link to the band dropped or came back (not a fault: see Actuator.on_link)."""
        if up == (self.link_down is None):
            return
        now = self.clock.now()
        if up:
            self.link_down = None
            self._last_send = -1e18  # whatever comes next goes through at once
        else:
            self.link_down = reason
            self._account(now)
            tap = find_tap(self.actuator)
            if tap is not None:
                tap.went_off(now)  # the band is off by its own lease
            self._motion = _Motion(now, 0.0, now, 0.0)
            self._lease_end = None
        self._emit(LinkChanged(reason, up=up))

    def _fault_from_backend(self, reason: str) -> None:
        task = asyncio.get_running_loop().create_task(self.trip(reason))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def subscribe(self, listener: EventSink) -> Callable[[], None]:
        """Call ``listener(event)`` on trips, resets, limits and link changes; returns an undo."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def _emit(self, event: GateEvent) -> None:
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:  # a broken listener must not stop the others
                logger.exception("safety event listener failed")


class _LinkDown(Exception):
    """Inside the gate: the command could not reach the band."""


def _us(t: float) -> float:
    """Whole microseconds, the resolution of every time the gate keeps."""
    return round(t, 6)


def _within_hard(actuator: Actuator, limits: Limits) -> Limits:
    """Refuse limits beyond the hard ceilings even if they bypassed config validation."""
    from dataclasses import fields, replace

    hard = HARD_LIMITS[actuator.kind]
    changes: dict[str, float] = {}
    for f in fields(Limits):
        value, bound = getattr(limits, f.name), getattr(hard, f.name)
        if f.name == "rest_ratio":
            if value < bound:
                changes[f.name] = bound
        elif value > bound:
            changes[f.name] = bound
    return replace(limits, **changes) if changes else limits
