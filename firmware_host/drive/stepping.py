"""Output stepping, in one place: ramps for actuators that cannot ramp by themselves.

A band or the simulator moves linearly to a new level on its own clock. A GPIO pin can only
hold a duty: :class:`SteppedActuator` plays each ramp as steps of ``1/resolution``, placed
where the rounded level changes, each on its own absolute deadline — so nothing wakes on a
fixed tick, and the gate and the engine above it only ever speak in ramps.

One rounding rule (half up) for every step: :func:`step_index`.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Iterator
from dataclasses import replace

from firmware_host.clock import EPSILON_S, Clock
from firmware_host.drive.actuator import Actuator, Capabilities
from firmware_host.drive.wrapper import ActuatorWrapper

logger = logging.getLogger(__name__)

Command = tuple[float, float, float]  # (time, level, ramp), in the caller's unit of time


def step_index(level: float, resolution: int) -> int:
    """The step a level rounds to (half up): the one rounding rule of every output."""
    return math.floor(level * resolution + 0.5)


def quantise(level: float, resolution: int) -> float:
    """``level`` on the actuator's grid of ``1/resolution``."""
    return step_index(level, resolution) / resolution


def stepped(commands: list[Command], start: float, resolution: int) -> Iterator[Command]:
    """Ramps turned into steps of ``1/resolution``, placed where the rounded level changes.

    ``start`` is the level at the first command.
    """
    level = start
    for t, target, ramp in commands:
        if ramp <= 0:
            yield (t, quantise(target, resolution), 0.0)
            level = target
            continue
        a, b = step_index(level, resolution), step_index(target, resolution)
        yield (t, a / resolution, 0.0)
        if b > a:
            steps: range = range(a + 1, b + 1)
            offset = -0.5
        else:
            steps = range(a - 1, b - 1, -1)
            offset = 0.5
        for j in steps:
            frac = ((j + offset) / resolution - level) / (target - level)
            yield (t + min(1.0, max(0.0, frac)) * ramp, j / resolution, 0.0)
        level = target


class SteppedActuator(ActuatorWrapper):
    """Makes a stepping backend look like one that ramps: it plays the steps itself.

    Every step is sent with the lease of the command it belongs to, counted from that
    step; a step the backend refuses is reported as the backend's fault (the gate trips).
    """

    def __init__(self, inner: Actuator, clock: Clock) -> None:
        super().__init__(inner)
        self.clock = clock
        self._resolution = max(1, inner.capabilities.resolution)
        self._level = 0.0  # the level of the ramp in progress (exact, before rounding)
        self._sent: float | None = None
        self._player: asyncio.Task[None] | None = None

    @property
    def capabilities(self) -> Capabilities:  # type: ignore[override]
        """The backend's, able to ramp now."""
        return replace(self.inner.capabilities, can_ramp=True)

    async def open(self) -> None:
        """Open the backend (which starts off)."""
        await self.inner.open()
        self._level, self._sent = 0.0, 0.0

    async def set_level(self, level: float, *, lease_s: float, ramp_s: float = 0.0) -> None:
        """The first step now; the rest of the ramp on their own deadlines."""
        await self._stop_player()
        now = self.clock.now()
        if ramp_s <= 0:
            # Every command goes through, even an unchanged level: it renews the lease.
            await self._put(quantise(level, self._resolution), lease_s, force=True)
            self._level = level
            return
        start = self._level
        first, *rest = stepped([(now, level, ramp_s)], start, self._resolution)
        await self._put(first[1], lease_s, force=True)
        self._player = asyncio.get_running_loop().create_task(
            self._play(rest, now, start, level, ramp_s, lease_s)
        )

    async def _play(
        self,
        steps: list[Command],
        t0: float,
        start: float,
        target: float,
        ramp_s: float,
        lease_s: float,
    ) -> None:
        try:
            for t, value, _ in steps:
                await self._sleep_until(t)
                await self._put(value, lease_s)
                self._level = start + (target - start) * min(1.0, (t - t0) / ramp_s)
            await self._sleep_until(t0 + ramp_s)
            self._level = target
        except asyncio.CancelledError:
            # Cut short by a new command: remember where the ramp was.
            frac = min(1.0, max(0.0, (self.clock.now() - t0) / ramp_s))
            self._level = start + (target - start) * frac
            raise
        except Exception as err:  # a backend that refuses a step has failed: the gate trips
            self._level = 0.0
            self.report_fault(f"actuator failed: {err}")

    async def _sleep_until(self, t: float) -> None:
        if t > self.clock.now() + EPSILON_S:
            await self.clock.sleep_until(t)
        else:
            await asyncio.sleep(0)  # two steps in the same tick: yield, do not wait

    async def _put(self, value: float, lease_s: float, *, force: bool = False) -> None:
        if value == self._sent and not force:
            return
        lease = lease_s if value > 0 else 0.0
        await self.inner.set_level(value, lease_s=lease)
        self._sent = value

    async def _stop_player(self) -> None:
        player, self._player = self._player, None
        if player is None or player.done():
            return
        player.cancel()
        try:
            await player
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise  # we are being cancelled ourselves, not only the player

    async def off(self) -> None:
        """Stop any ramp and turn the backend off; never raises."""
        try:
            await self._stop_player()
        except asyncio.CancelledError:
            await self.inner.off()
            raise
        except Exception:  # off() must go through whatever the player did
            logger.exception("stepping player failed while stopping")
        self._level, self._sent = 0.0, 0.0
        await self.inner.off()

    async def close(self) -> None:
        """Off, then close the backend; never raises."""
        try:
            await self.off()
        finally:
            await self.inner.close()


def with_steps(actuator: Actuator, clock: Clock) -> Actuator:
    """``actuator`` itself when it ramps; else wrapped so that it does."""
    if actuator.capabilities.can_ramp or isinstance(actuator, SteppedActuator):
        return actuator
    return SteppedActuator(actuator, clock)
