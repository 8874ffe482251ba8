"""PLAY windows: the host plans, the band plays.

Over a band link the engine does not time edges itself: it streams the timeline to the band
as short windows the band plays on its own clock, so link latency moves only the first edge
of a stream. Each window is vetted by the safety gate first — the commands of the window are
run through a copy of the gate (:meth:`SafetyGate.dry_copy`) on a clock set to each
command's time, so every queued step gets the same clamps, rise limit, continuous on-time
cut, rest, session end and budget as a SET would; what the copy would have sent is what is
queued. The real gate still sees every command at its deadline and keeps the books; the link
sends nothing for a command the band is already playing, and anything else (stop, pause, a
live level change, a cut the copy did not foresee) replaces the queue at once.

Look-ahead is at most one lease, so a band whose host vanished is quiet within its lease;
every window renews the lease, and a window goes out well before the queue runs dry.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Callable, Coroutine, Iterator
from typing import TYPE_CHECKING, Any, Protocol

from firmware_host.clock import EPSILON_S, Clock
from firmware_host.drive.actuator import Actuator
from firmware_host.drive.wrapper import ActuatorWrapper
from firmware_host.errors import ActuatorError, LinkError

if TYPE_CHECKING:
    from firmware_host.drive.band.link import BandLink
    from firmware_host.guard.gate import SafetyGate
    from firmware_host.plan.timeline import Timeline

Command = tuple[float, float, float]  # (timeline ms, level, ramp ms), as the engine's


class Engine(Protocol):
    """What the stream reads of the engine that owns it (play/engine.py)."""

    gate: SafetyGate
    clock: Clock
    timeline: Timeline
    _anchor: float

    def future_commands(self) -> Iterator[Command]:
        """The engine's commands from its position on."""
        ...


class Result(Protocol):
    """The part of a session's result the stream fills in."""

    max_lateness_s: float


logger = logging.getLogger(__name__)

LOOKAHEAD_FRACTION = 0.9  # of the lease: how far ahead the band's queue reaches
REFRESH_FRACTION = 0.4  # of the lease: a window goes out at least this often
REFRESH_MAX_S = 1.8  # ... and at least this often, so its ACK proves the link alive
LEAD_S = 0.6  # a window goes out before the queued content gets this short
BUSY_RETRY_S = 0.05  # how soon to look again while a window is in flight or the queue full
PLAY_STEPS = 8  # ramps per PLAY (pc6_device.protocol.PLAY_MAX_STEPS)
QUEUE_MARGIN = 2  # ramps kept free in the band's queue


class WindowLink(Protocol):
    """What a backend offers to be streamed to (BandLink does)."""

    window_generation: int

    def queue_window(
        self, points: list[tuple[float, float]], *, lease_s: float, generation: int
    ) -> Coroutine[Any, Any, bool] | None: ...


def band_link(actuator: Actuator) -> BandLink | None:
    """The band link under the gate's wrappers (trace tap, stepping), if there is one."""
    seen: Any = actuator
    while seen is not None:
        if callable(getattr(seen, "queue_window", None)):
            return seen
        seen = seen.inner if isinstance(seen, ActuatorWrapper) else None
    return None


def open_stream(engine: Engine) -> WindowStream | None:
    """A stream for the engine's actuator, or None when it does not take PLAY windows."""
    link = band_link(engine.gate.actuator)
    if link is None or not link.capabilities.can_ramp:
        return None
    return WindowStream(engine, link)


class _DryClock:
    """The dry gate's clock: set by hand to each command's time."""

    simulated = True

    def __init__(self, t: float) -> None:
        self.t = t

    def now(self) -> float:
        return self.t

    def wall(self) -> float:
        return self.t

    async def sleep_until(self, deadline: float) -> None:
        self.t = max(self.t, deadline)

    def call_at(self, deadline: float, callback: Callable[[], None]) -> asyncio.TimerHandle:
        raise RuntimeError("the dry gate never waits")


class _Recorder(Actuator):
    """The dry gate's actuator: keeps the trajectory the gate asked for."""

    def __init__(self, real: Actuator, clock: _DryClock, ta: float, va: float) -> None:
        super().__init__()
        self.capabilities = real.capabilities
        self.clock = clock
        self.ta, self.va, self.tb, self.vb = ta, va, ta, va
        self.points: list[tuple[float, float]] = []

    def at(self, t: float) -> float:
        if t >= self.tb or self.tb <= self.ta:
            return self.vb
        return self.va + (self.vb - self.va) * (t - self.ta) / (self.tb - self.ta)

    def advance(self, t: float) -> None:
        """Put the end of a ramp that finished before ``t`` into the points."""
        if self.ta < self.tb <= t:
            self._point(self.tb, self.vb)
            self.ta, self.va = self.tb, self.vb

    async def set_level(self, level: float, *, lease_s: float, ramp_s: float = 0.0) -> None:
        t = self.clock.t
        self.advance(t)
        v = self.at(t)
        if level == self.vb and (self.tb <= t if ramp_s <= 0 else abs(self.tb - t - ramp_s) < 1e-6):
            return  # a lease refresh: the trajectory does not change
        self._point(t, v)
        self.ta, self.va, self.tb, self.vb = t, v, t + max(0.0, ramp_s), level
        if ramp_s <= 0:
            self._point(t, level)

    async def off(self) -> None:
        await self.set_level(0.0, lease_s=0.0)

    async def open(self) -> None:
        """Nothing to open."""

    async def close(self) -> None:
        """Nothing to close."""

    def _point(self, t: float, v: float) -> None:
        pts = self.points
        if pts and abs(pts[-1][0] - t) < 1e-9 and abs(pts[-1][1] - v) < 1e-12:
            return
        if len(pts) >= 2 and _collinear(pts[-2], pts[-1], (t, v)):
            pts[-1] = (t, v)
            return
        pts.append((t, v))


def _collinear(a: tuple[float, float], b: tuple[float, float], c: tuple[float, float]) -> bool:
    if b[0] - a[0] <= 1e-9 or c[0] - b[0] <= 1e-9:
        return False  # a step is kept as two points at one time
    slope1 = (b[1] - a[1]) / (b[0] - a[0])
    slope2 = (c[1] - b[1]) / (c[0] - b[0])
    return abs(slope1 - slope2) < 1e-9


class WindowStream:
    """Streams one engine's timeline to its band link; see the module docstring."""

    def __init__(self, engine: Engine, link: BandLink) -> None:
        self.engine = engine
        self.gate: SafetyGate = engine.gate
        self.link = link
        self.clock = engine.clock
        self.windows = 0
        self._reset()

    def _reset(self) -> None:
        self._dry: SafetyGate | None = None
        self._dry_clock: _DryClock | None = None
        self._rec: _Recorder | None = None
        self._commands: Iterator[Command] | None = None
        self._pending: tuple[float, float, float] | None = None
        self._buffer: list[tuple[float, float]] = []
        self._generation = -1
        self._task: asyncio.Task[None] | None = None
        self._sent_at = -math.inf
        self._next = -math.inf
        self._dropped = False

    # -- what the engine calls ---------------------------------------------------------

    def next_due(self) -> float | None:
        """When :meth:`refresh` should run next."""
        if self.gate.link_down or self.gate.tripped or self.gate.finished:
            return None
        return self._next

    async def refresh(self, next_ms: float) -> None:
        """Send the next window if one is due (in the background: the engine never waits).

        ``next_ms`` is the timeline time of the engine's next command: a new stream plans
        from there (earlier commands have reached the gate already).
        """
        now = self.clock.now()
        if self._task is not None and not self._task.done():
            self._next = now + BUSY_RETRY_S
            return
        link = self.link
        if self._dry is None or link.window_generation != self._generation or link.window is None:
            motion = getattr(self.gate, "_motion", None)
            if motion is not None and motion.tb > now + EPSILON_S:
                # Never start a stream mid-ramp: a PLAY ramps from wherever the band is,
                # which may not be where the gate thinks. Start once the ramp has ended.
                self._next = motion.tb
                return
            self._start(now, next_ms)
        lease = self.gate.lease_s
        horizon = now + lease * LOOKAHEAD_FRACTION
        await self._dry_run(horizon)
        points = self._take(now, horizon)
        send = None
        if points:
            try:
                send = link.queue_window(points, lease_s=lease, generation=self._generation)
            except ValueError as err:
                logger.warning("band window not queued: %s", err)
                self._dry = None
        self._next = self._schedule(now, lease)
        if send is not None:
            self.windows += 1
            self._task = asyncio.get_running_loop().create_task(
                self._send(send), name="band window"
            )

    def drop(self) -> None:
        """A control call cut in: forget the stream; :meth:`settle` clears the band's queue."""
        self._dropped = self._dropped or self._dry is not None
        self._dry = None
        self._next = -math.inf
        with contextlib.suppress(Exception):
            self.link.drop_window()

    async def settle(self) -> None:
        """After :meth:`drop`: replace the band's queue with a hold where the output is."""
        if not self._dropped:
            return
        self._dropped = False
        if self.gate.link_down or self.gate.tripped:
            return  # nothing reaches the band now; it is off by its lease or its restart
        try:
            await self.link.clear_window(self.gate.output, lease_s=self.gate.lease_s)
        except (LinkError, ActuatorError) as err:
            # The band cannot be told: its lease ends the queue; the gate hears of the link.
            logger.warning("could not replace the band's window: %s", err)

    async def close(self) -> None:
        """The session ends: no more windows (the gate's off() clears the band)."""
        await self._wait_sent()
        self._dry = None

    def finish(self, result: Result) -> None:
        """Put the edge error measured on the band's clock into the session's result."""
        if self.link.edges_measured:
            result.max_lateness_s = self.link.edge_error_ms / 1000

    # -- inside ----------------------------------------------------------------------------

    def _start(self, now: float, next_ms: float) -> None:
        """A new stream from where the gate is now, for the commands still to come."""
        self._reset()
        self._generation = self.link.window_generation
        self._dry_clock = _DryClock(now)
        level = self.gate.output
        rec = self._rec = _Recorder(self.gate.actuator, self._dry_clock, now, level)
        rec.points.append((now, level))
        self._dry = self.gate.dry_copy(rec, self._dry_clock)
        self._commands = (c for c in self.engine.future_commands() if c[0] >= next_ms)

    async def _dry_run(self, horizon: float) -> None:
        dry, clock, rec = self._dry, self._dry_clock, self._rec
        assert dry is not None and clock is not None and rec is not None
        anchor = self.engine._anchor
        while True:
            if self._pending is None:
                nxt = next(self._commands, None) if self._commands is not None else None
                if nxt is None:
                    break
                self._pending = (anchor + nxt[0] / 1000, nxt[1], nxt[2] / 1000)
            t, level, ramp = self._pending
            if t > horizon:
                break
            await self._serve(dry, clock, rec, t)
            clock.t = max(clock.t, t)
            rec.advance(clock.t)
            await dry.command(level, ramp)
            self._pending = None
        await self._serve(dry, clock, rec, horizon)
        clock.t = max(clock.t, horizon)
        rec.advance(horizon)

    @staticmethod
    async def _serve(dry: SafetyGate, clock: _DryClock, rec: _Recorder, until: float) -> None:
        """Let the dry gate act on its own deadlines (cuts, rests, session end) before ``until``."""
        for _ in range(10000):
            due = dry.next_deadline()
            if due is None or due >= until - EPSILON_S or dry.tripped:
                return
            clock.t = max(clock.t, due)
            rec.advance(clock.t)
            await dry.poll()
            if dry.next_deadline() == due:
                return  # no progress: the real gate would not act either

    def _take(self, now: float, horizon: float) -> list[tuple[float, float]]:
        """The next window's points (what the dry gate produced, up to the horizon), or
        none while the band's queue is well stocked and its lease fresh."""
        rec = self._rec
        assert rec is not None
        self._buffer.extend(rec.points)
        rec.points.clear()
        plan = self.link.window
        room = PLAY_STEPS + 1  # the first point of a fresh stream is where the output is
        tail = now
        if plan is not None:
            from pc6_device import protocol as p

            room = min(PLAY_STEPS, p.QUEUE_MAX - QUEUE_MARGIN - plan.queued(now))
            tail = plan.tail
            stocked = tail - now >= LEAD_S and room < PLAY_STEPS
            if stocked and now - self._sent_at < self._every():
                return []  # wait until a whole PLAY's worth of room is free
        buf = self._buffer
        count = 0
        while count < len(buf) and count < room and buf[count][0] <= horizon + EPSILON_S:
            count += 1
        points, self._buffer = buf[:count], buf[count:]
        last = points[-1][0] if points else tail
        more = bool(self._buffer) and self._buffer[0][0] <= horizon + EPSILON_S
        if count < room and horizon > max(tail, last) + 1e-3 and not more:
            # Past the horizon the trajectory is still unknown: hold (or ramp) up to it.
            points.append((horizon, rec.at(horizon)))
        if points:
            self._sent_at = now
        return points

    def _every(self) -> float:
        return min(self.gate.lease_s * REFRESH_FRACTION, REFRESH_MAX_S)

    def _schedule(self, now: float, lease: float) -> float:
        plan = self.link.window
        tail = plan.tail if plan is not None else now
        due = min(self._sent_at + self._every(), tail - LEAD_S)
        if self._buffer and self._buffer[0][0] <= now + lease * LOOKAHEAD_FRACTION:
            due = min(due, now + BUSY_RETRY_S)  # the queue was full: more as it plays
        return max(due, now + BUSY_RETRY_S)

    async def _send(self, send: Coroutine[Any, Any, bool]) -> None:
        try:
            await send
        except (LinkError, ActuatorError) as err:
            # The link layer reports a loss to the gate; a refusal drops the stream and
            # the next command goes out as a SET. Either way the next refresh starts over.
            logger.warning("band window not queued: %s", err)
            self._dry = None

    async def _wait_sent(self) -> None:
        task = self._task
        if task is not None and not task.done():
            with contextlib.suppress(Exception):
                await task
