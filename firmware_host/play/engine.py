"""The engine: plays a timeline through the safety gate on absolute deadlines.

It wakes only at breakpoints, at lease refreshes and at the gate's own deadlines — never on
a fixed tick (an actuator that cannot ramp gets its steps from
:mod:`firmware_host.drive.stepping`) — and it waits on ``t0 + offset``, never on relative
sleeps, so nothing drifts over a night. Pause, resume, stop and a live level scale arrive as
control calls that interrupt the wait; every way out ends with the output at 0.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import NamedTuple

from firmware_host.clock import EPSILON_S, Clock
from firmware_host.clock import resolve_future as _resolve
from firmware_host.errors import SafetyTrip
from firmware_host.guard.events import GateEvent, LinkChanged
from firmware_host.guard.gate import SafetyGate
from firmware_host.plan.timeline import Timeline
from firmware_host.play.lateness import LatenessStats
from firmware_host.play.window import open_stream

logger = logging.getLogger(__name__)

Command = tuple[float, float, float]  # (timeline ms, level, ramp ms)


class EndReason(enum.StrEnum):
    """Why a session ended."""

    COMPLETED = "completed"
    STOPPED = "stopped"
    LIMIT = "limit"
    TRIPPED = "tripped"
    LINK_LOST = "link lost"


class SessionEvent(NamedTuple):
    """Something that happened in a session: ``t_s`` after its start, ``kind``, in words.

    ``kind`` is ``paused``, ``resumed``, ``link lost``, ``link back``, or the kind of a
    :class:`~firmware_host.guard.events.GateEvent` (``trip``, ``limit``, ``reset``).
    """

    t_s: float
    kind: str
    detail: str


@dataclass
class SessionResult:
    """What happened, for the summary line and the journal.

    ``dose`` and ``peak`` come from the delivered trace (the tap on the actuator), the
    lateness figures from every command the engine issued, summed as they came.
    """

    reason: EndReason
    detail: str = ""
    duration_s: float = 0.0
    dose: float = 0.0
    peak: float = 0.0
    max_lateness_s: float = 0.0
    p99_lateness_s: float = 0.0
    commands: int = 0
    events: list[SessionEvent] = field(default_factory=list)


def plan_segment(
    t0: float, v0: float, t1: float, v1: float, scale: float, cap: float
) -> list[Command]:
    """Commands that play one timeline segment scaled by ``scale`` and clipped at ``cap``.

    Where a ramp crosses the cap the segment is split at the crossing, so the delivered
    shape is exactly ``min(cap, scale * level)``.
    """
    e0, e1 = min(cap, v0 * scale), min(cap, v1 * scale)
    if t1 == t0:
        return [(t0, e1, 0.0)]
    s0, s1 = v0 * scale, v1 * scale
    if (s0 - cap) * (s1 - cap) < 0:
        tc = t0 + (cap - s0) / (s1 - s0) * (t1 - t0)
        if s1 > s0:
            return [(t0, cap, tc - t0), (tc, cap, 0.0)]
        return [(t0, cap, 0.0), (tc, e1, t1 - tc)]
    if e0 == e1:
        return [(t0, e0, 0.0)]
    return [(t0, e1, t1 - t0)]


def chunked(commands: list[Command], start: float, max_ramp_ms: float) -> Iterator[Command]:
    """Ramps longer than the actuator can play in one go, as several shorter ones."""
    level = start
    for t, target, ramp in commands:
        if ramp <= max_ramp_ms:
            yield (t, target, ramp)
        else:
            parts = math.ceil(ramp / max_ramp_ms)
            for i in range(1, parts + 1):
                yield (
                    t + (i - 1) * ramp / parts,
                    level + (target - level) * i / parts,
                    ramp / parts,
                )
        level = target


class Engine:
    """Plays one session of a timeline."""

    def __init__(
        self,
        timeline: Timeline,
        gate: SafetyGate,
        clock: Clock,
        *,
        scale: float = 1.0,
        link_grace_s: float = 300.0,
        on_lateness: Callable[[float], None] | None = None,
    ) -> None:
        self.timeline = timeline
        self.gate = gate
        self.clock = clock
        self.scale = scale
        self.position_ms = 0.0
        self.paused = False
        self._stop_reason: str | None = None
        self._link_down: str | None = None
        self.link_grace_s = link_grace_s  # how long to wait for a lost band before giving up
        self._replan = False
        self._waiter: asyncio.Future[None] | None = None
        self._anchor = 0.0  # clock time of timeline position 0
        self._started = 0.0
        self._playing = False  # between run() starting and ending
        self.result = SessionResult(EndReason.COMPLETED)
        self.lateness = LatenessStats()
        self._on_lateness = on_lateness  # every value, for a bench that wants them all
        self._undo = gate.subscribe(self._on_gate_event)
        self._stream = open_stream(self)  # PLAY windows over a band link, else None

    # -- control (from the CLI, the daemon, a button) -----------------------------------

    def stop(self, reason: str = "stopped by user") -> None:
        """End the session with a soft ramp down."""
        self._stop_reason = reason
        self._interrupt()

    def pause(self) -> None:
        """Ramp down and hold the timeline where it is."""
        self.paused = True
        self._interrupt()

    def resume(self) -> None:
        """Ramp back up and go on from where it paused."""
        self.paused = False
        self._interrupt()

    def set_scale(self, scale: float) -> None:
        """Scale the levels of the rest of the session (clipped by the gate's maximum)."""
        if not math.isfinite(scale) or scale < 0:
            raise ValueError(f"scale must be a number ≥ 0, got {scale!r}")
        self.scale = scale
        self._replan = True
        self._interrupt()

    @property
    def elapsed_s(self) -> float:
        """Seconds since the session started (including pauses)."""
        return self.clock.now() - self._started

    @property
    def remaining_s(self) -> float:
        """Timeline seconds still to play."""
        position = self.position_ms
        if self._playing and not (self.paused or self._link_down):
            # Between breakpoints the position moves with the clock.
            position = max(position, (self.clock.now() - self._anchor) * 1000)
        return max(0.0, (self.timeline.duration_ms - position) / 1000)

    # -- the session ------------------------------------------------------------------

    async def run(self) -> SessionResult:
        """Play the timeline to its end, or until stopped, limited or tripped."""
        self._started = self._anchor = self.clock.now()
        self._playing = True
        try:
            await self._play()
        except SafetyTrip as trip:
            self.result.reason, self.result.detail = EndReason.TRIPPED, trip.reason
        except asyncio.CancelledError:
            self.result.reason, self.result.detail = EndReason.STOPPED, "cancelled"
            await self._quiet()
            raise
        finally:
            if self._stream:
                await self._stream.close()
            await self._quiet()
            self._undo()
            self._finish_result()
            self._playing = False
        return self.result

    async def _play(self) -> None:
        times, levels = self.timeline.times_ms, self.timeline.levels
        k = 0
        n = len(times)
        while k < n - 1:
            if await self._handle_control():
                return
            self._replan = False
            pos = self.position_ms
            if times[k + 1] < pos or (times[k + 1] == pos and times[k] < pos):
                k += 1
                continue
            start_t, start_v = (
                (times[k], levels[k]) if times[k] >= pos else (pos, self.timeline.level_at(pos))
            )
            commands = plan_segment(
                start_t, start_v, times[k + 1], levels[k + 1], self.scale, self.gate.max_level
            )
            start_level = min(self.gate.max_level, start_v * self.scale)
            interrupted = await self._run_commands(
                self._expand(commands, start_level), times[k + 1]
            )
            if not interrupted:
                self.position_ms = times[k + 1]
                k += 1

    def future_commands(self) -> Iterator[Command]:
        """The commands from the current position on, as :meth:`_play` issues them.

        PLAY windows (play/window.py) plan with these, ahead of their deadlines.
        """
        times, levels, pos = self.timeline.times_ms, self.timeline.levels, self.position_ms
        cap, scale = self.gate.max_level, self.scale
        for k in range(len(times) - 1):
            if times[k + 1] < pos or (times[k + 1] == pos and times[k] < pos):
                continue
            t0, v0 = (
                (times[k], levels[k]) if times[k] >= pos else (pos, self.timeline.level_at(pos))
            )
            commands = plan_segment(t0, v0, times[k + 1], levels[k + 1], scale, cap)
            yield from self._expand(commands, min(cap, v0 * scale))

    def _expand(self, commands: list[Command], start: float) -> Iterator[Command]:
        limit_ms = self.gate.actuator.capabilities.max_ramp_s * 1000
        return chunked(commands, start, limit_ms) if math.isfinite(limit_ms) else iter(commands)

    async def _run_commands(self, commands: Iterator[Command], end_ms: float) -> bool:
        """Issue each command at its deadline; True if a control call cut in."""
        for t_ms, level, ramp_ms in commands:
            if not await self._wait_for(t_ms):
                return True
            self._note_lateness(t_ms)
            await self.gate.command(level, ramp_ms / 1000)
            self.position_ms = t_ms
        return not await self._wait_for(end_ms)

    async def _wait_for(self, t_ms: float) -> bool:
        """Wait until timeline time ``t_ms``, serving the gate; False if interrupted."""
        deadline = self._anchor + t_ms / 1000
        while True:
            if self._interrupted_flags():
                self.position_ms = max(
                    self.position_ms, min(t_ms, (self.clock.now() - self._anchor) * 1000)
                )
                return False
            gate_due = self.gate.next_deadline()
            wake = deadline if gate_due is None else min(deadline, gate_due)
            stream_due = self._stream.next_due() if self._stream else None
            wake = wake if stream_due is None else min(wake, stream_due)
            if wake > self.clock.now() + EPSILON_S:
                await self._sleep(wake)
            now = self.clock.now() + EPSILON_S
            if self._stream and stream_due is not None and now >= stream_due:
                await self._stream.refresh(t_ms)
            if now >= deadline and not self._interrupted_flags():
                return True  # the engine's own command now supersedes what the gate holds
            if gate_due is not None and now >= gate_due:
                await self.gate.poll()

    def _interrupted_flags(self) -> bool:
        return bool(
            self._link_down
            or self._stop_reason
            or self.paused
            or self._replan
            or self.gate.finished
            or self.gate.tripped
        )

    async def _sleep(self, deadline: float) -> None:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiter = fut
        timer = self.clock.call_at(deadline, lambda: _resolve(fut))
        try:
            await fut
        finally:
            timer.cancel()
            self._waiter = None

    def _interrupt(self) -> None:
        if self._stream:
            self._stream.drop()
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def _handle_control(self) -> bool:
        """Serve stop, pause, limits and trips; True when the session must end."""
        if self._stream:
            await self._stream.settle()
        if self.gate.tripped:
            raise SafetyTrip(self.gate.tripped)
        if self.gate.finished:
            self.result.reason, self.result.detail = EndReason.LIMIT, self.gate.finished
            return True
        if self._stop_reason:
            self.result.reason, self.result.detail = EndReason.STOPPED, self._stop_reason
            await self.gate.soft_stop()
            return True
        if self._link_down:
            if not await self._hold_for_link():
                self.result.reason = EndReason.LINK_LOST
                self.result.detail = f"{self._link_down}; not back within {self.link_grace_s:g} s"
                return True
            return await self._handle_control()
        if self.paused:
            await self._pause()
            return await self._handle_control()
        return False

    async def _hold_for_link(self) -> bool:
        """Hold the timeline while the band is unreachable; True once it is back."""
        give_up = self.clock.now() + self.link_grace_s
        while self._link_down and not self._stop_reason and not self.gate.tripped:
            if self.clock.now() + EPSILON_S >= give_up:
                return False
            await self._sleep(give_up)
        if self._stop_reason or self.gate.tripped:
            return True  # the caller ends the session for that reason
        await self._ramp_back_up("link back")
        return True

    async def _pause(self) -> None:
        self._event("paused", f"at {self.position_ms / 1000:.1f} s")
        await self.gate.soft_stop()
        while self.paused and not self._stop_reason and not self.gate.tripped:
            await self._sleep(self.clock.now() + 3600.0)
        if self._stop_reason or self.gate.tripped:
            return
        await self._ramp_back_up("resumed")

    async def _ramp_back_up(self, why: str) -> None:
        """Never resume with a step: ramp to where the timeline is, then go on from there."""
        level = min(self.gate.max_level, self.timeline.level_at(self.position_ms) * self.scale)
        ramp = max(1.0, self.gate.limits.soft_stop_s) * level
        self._event("resumed", f"{why}: ramping up over {ramp:.1f} s")
        await self.gate.command(level, ramp)
        await self.gate.serve_until(self.clock.now() + ramp)
        self._anchor = self.clock.now() - self.position_ms / 1000

    async def _quiet(self) -> None:
        """Whatever happened, the output ends at 0."""
        try:
            if self.gate.output > 0 and not self.gate.tripped:
                await self.gate.command(0.0)
        except SafetyTrip:
            pass
        except Exception:
            logger.exception("could not command 0; forcing off")
            await self.gate.trip("engine could not turn the output off")

    def _note_lateness(self, t_ms: float) -> None:
        late = self.clock.now() - (self._anchor + t_ms / 1000)
        self.lateness.add(late)
        if self._on_lateness is not None:
            self._on_lateness(late)

    def _on_gate_event(self, event: GateEvent) -> None:
        match event:
            case LinkChanged(reason=reason, up=up):
                self._link_down = None if up else reason
                self._event("link back" if up else "link lost", reason)
            case _:
                self._event(event.kind, event.reason)
        self._interrupt()

    def _event(self, kind: str, detail: str) -> None:
        self.result.events.append(SessionEvent(self.clock.now() - self._started, kind, detail))
        logger.info("%s: %s", kind, detail)

    def _finish_result(self) -> None:
        result = self.result
        now = self.clock.now()
        result.duration_s = now - self._started
        result.max_lateness_s = self.lateness.max_s
        result.p99_lateness_s = self.lateness.percentile(99)
        result.commands = self.lateness.count
        recorder = self.gate.recorder
        if recorder is not None:
            # Up to now, the ramp in progress included (its last row is not written yet).
            result.dose = recorder.dose(until=now)
            result.peak = recorder.peak(until=now)
        if self._stream:
            self._stream.finish(result)  # edge error as measured on the band's clock
        if self.gate.tripped and result.reason is not EndReason.TRIPPED:
            result.reason, result.detail = EndReason.TRIPPED, self.gate.tripped


ProgressCallback = Callable[[Engine], None]
