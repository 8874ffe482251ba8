"""Plant models: what the wearer would feel for a commanded level.

Both models take a piecewise-linear input (a level, optionally ramped) and are evaluated in
closed form between commands, so an 8-hour night costs one small computation per command,
not one per millisecond.

- :class:`ErmPlant`: an eccentric-rotating-mass motor. Its speed, and so the vibration
  amplitude, follows the drive with a first-order lag: about 115 ms to 90 % on spin-up
  (FINDINGS.md: 50–180 ms to full amplitude) and a slower coast-down.
- :class:`PadPlant`: a servo pressing a pad. The servo slews at a bounded speed (an SG90
  moves about 60° in 0.1 s); the pad touches the skin at ``contact`` of its travel, and the
  skin stiffens as it is pressed, so contact pressure grows as travel beyond contact to the
  power 1.5. The calibration maps level to travel so that pressure is linear in level.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol


class Plant(Protocol):
    """A physical output driven by a piecewise-linear input."""

    def command(self, t: float, level: float, ramp_s: float = 0.0) -> None:
        """From time ``t`` the input moves to ``level`` (linearly over ``ramp_s``)."""
        ...

    def output(self, t: float) -> float:
        """What the wearer feels at ``t``, 0–1 of the level-1 sensation (t never decreases)."""
        ...


@dataclass
class _Input:
    """The input after the last command: a ramp from (t0, u0) to (t1, u1), then a hold."""

    t0: float = 0.0
    u0: float = 0.0
    t1: float = 0.0
    u1: float = 0.0

    def at(self, t: float) -> float:
        if t >= self.t1 or self.t1 <= self.t0:
            return self.u1
        return self.u0 + (self.u1 - self.u0) * (t - self.t0) / (self.t1 - self.t0)

    def pieces(self, ta: float, tb: float) -> list[tuple[float, float, float]]:
        """Linear pieces ``(start, end, slope)`` covering [ta, tb]."""
        if self.t1 > ta and self.t1 > self.t0:
            slope = (self.u1 - self.u0) / (self.t1 - self.t0)
            if tb <= self.t1:
                return [(ta, tb, slope)]
            return [(ta, self.t1, slope), (self.t1, tb, 0.0)]
        return [(ta, tb, 0.0)]


class _PiecewisePlant:
    """Shared bookkeeping: state advanced lazily, piece by piece, up to the asked time."""

    def __init__(self) -> None:
        self._input = _Input()
        self._t = 0.0
        self._y = 0.0

    def command(self, t: float, level: float, ramp_s: float = 0.0) -> None:
        self._advance(t)
        start = self._input.at(t)
        self._input = _Input(t, start, t + max(0.0, ramp_s), self._target(level))

    def output(self, t: float) -> float:
        self._advance(t)
        return self._felt(self._y)

    def _advance(self, t: float) -> None:
        if t <= self._t:
            return
        for ta, tb, slope in self._input.pieces(self._t, t):
            self._y = self._step(self._y, self._input.at(ta), slope, tb - ta)
        self._t = t

    def _target(self, level: float) -> float:
        return level

    def _felt(self, y: float) -> float:
        return y

    def _step(self, y: float, u: float, slope: float, dt: float) -> float:
        raise NotImplementedError


class ErmPlant(_PiecewisePlant):
    """ERM vibration motor: amplitude follows the drive through a first-order lag."""

    def __init__(
        self, tau_up_s: float = 0.05, tau_down_s: float = 0.08, start_level: float = 0.0
    ) -> None:
        super().__init__()
        self.tau_up_s = tau_up_s
        self.tau_down_s = tau_down_s
        self.start_level = start_level  # below this drive the rotor does not turn (stall)
        self.stalled = False

    def _target(self, level: float) -> float:
        if self.stalled or level < self.start_level:
            return 0.0
        return level

    def _step(self, y: float, u: float, slope: float, dt: float) -> float:
        # Exact response of y' = (u(t) - y) / tau to u(t) = u + slope * t.
        tau = self.tau_up_s if u + slope * dt >= y else self.tau_down_s
        decay = math.exp(-dt / tau)
        return u + slope * (dt - tau) + (y - u + slope * tau) * decay


class PadPlant(_PiecewisePlant):
    """Servo-driven pressure pad on the wrist; output is contact pressure, 0–1 of level 1."""

    def __init__(self, slew_per_s: float = 6.0, contact: float = 0.3, max_kpa: float = 6.0) -> None:
        super().__init__()
        self.slew_per_s = slew_per_s  # travel (0–1) per second: 90° in 0.15 s
        self.contact = contact
        self.max_kpa = max_kpa  # pressure at full travel: the calibrated level-1 press
        self.slipped = False  # pad off the wrist: travel goes on, no pressure

    def travel_for(self, level: float) -> float:
        """Calibration: the travel that gives ``level`` of the level-1 pressure."""
        if level <= 0:
            return 0.0
        return self.contact + (1 - self.contact) * level ** (1 / 1.5)

    def pressure_kpa(self, travel: float) -> float:
        """Skin compliance: pressure for a pad travel, stiffening as it presses in."""
        if self.slipped or travel <= self.contact:
            return 0.0
        return self.max_kpa * ((travel - self.contact) / (1 - self.contact)) ** 1.5

    @property
    def travel(self) -> float:
        """Current servo travel (0 released, 1 full)."""
        return self._y

    def _target(self, level: float) -> float:
        return self.travel_for(level)

    def _felt(self, y: float) -> float:
        return self.pressure_kpa(y) / self.max_kpa

    def _step(self, y: float, u: float, slope: float, dt: float) -> float:
        # Slew-limited tracking of a linear target, solved exactly.
        rate = self.slew_per_s
        gap = u - y
        if gap == 0 and abs(slope) <= rate:
            return u + slope * dt
        direction = 1.0 if gap > 0 or (gap == 0 and slope > 0) else -1.0
        closing = direction * rate - slope
        if closing * gap > 0 and abs(slope) <= rate:
            meet = gap / closing
            if meet < dt:
                return u + slope * dt  # caught up, then tracks the target
        return y + direction * rate * dt


def make_plant(kind: str) -> ErmPlant | PadPlant:
    """The default plant for an actuator kind (``"vibration"`` or ``"pressure"``)."""
    if kind == "vibration":
        return ErmPlant()
    if kind == "pressure":
        return PadPlant()
    raise ValueError(f"no plant for actuator kind {kind!r}")
