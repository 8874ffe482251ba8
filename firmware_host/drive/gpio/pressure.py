"""Closed-loop contact pressure for a servo-driven pad with a force sensor.

The controller is pure computation: the ``gpio`` backend calls :meth:`PressureController.step`
at a fixed rate with the sensor's reading and sends the returned servo position. It is
designed against the pad plant of :mod:`sim.plants` (a slew-limited servo, skin stiffening
as the pad presses in) with two rules that keep it from overshooting into the wearer:

- Feed-forward from the calibration aims *below* the target (``approach``), so the servo's
  fast, slew-limited travel always arrives short of the asked pressure; an integral trim
  then closes the remaining gap slowly, and only once the servo has arrived (no wind-up
  while it is still travelling).
- Above the target the trim backs off several times faster than it presses in.

It also watches the sensor and the pad and raises :class:`PressureFault`, with a reason a
person understands, for a sensor reading a rail (unplugged, shorted), a reading that never
changes (stuck), no contact where the calibration expects it (the pad slipped off), and
pressure above the ceiling. The backend releases the pad on any of them.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

from firmware_host.errors import ActuatorError

logger = logging.getLogger(__name__)


class PressureFault(ActuatorError):
    """The pad or its sensor is not behaving: release the pad and trip."""


@dataclass(frozen=True)
class PadCalibration:
    """Servo positions (0–1 of the servo's range) measured on the wearer.

    Attributes:
        release: pad fully off the skin; level 0 is always here.
        contact: the pad first touches the skin.
        maximum: the wearer's level-1 press; no command ever goes beyond it.
        exponent: skin stiffening: pressure grows as (travel beyond contact) ** exponent,
            so ``position_for`` takes the inverse to make pressure linear in level.
    """

    release: float = 0.0
    contact: float = 0.3
    maximum: float = 1.0
    exponent: float = 1.5

    def position_for(self, level: float) -> float:
        """Open-loop position giving ``level`` of the level-1 pressure."""
        if level <= 0:
            return self.release
        level = min(level, 1.0)
        return self.contact + (self.maximum - self.contact) * level ** (1 / self.exponent)

    def clamp(self, position: float) -> float:
        """``position`` limited to the span between release and maximum."""
        low, high = sorted((self.release, self.maximum))
        return min(high, max(low, position))


@dataclass(frozen=True)
class SensorCalibration:
    """The force sensor's readings (0–1 of the ADC's reference).

    Attributes:
        zero: reading with the pad off the skin.
        full: reading at the wearer's level-1 press.
        rail: readings within this of 0 or 1 mean a broken wire or a short.
    """

    zero: float = 0.1
    full: float = 0.7
    rail: float = 0.02

    def pressure(self, reading: float) -> float:
        """Contact pressure as a fraction of the level-1 press."""
        return (reading - self.zero) / (self.full - self.zero)


@dataclass(frozen=True)
class ControlSettings:
    """Gains and fault thresholds; defaults are tuned on the simulated pad.

    Attributes:
        rate_hz: control rate.
        ki: integral gain pressing in (position per second per unit pressure error).
        ki_down: integral gain backing off, above the target.
        approach: feed-forward aims at this fraction of the target pressure.
        trim_limit: most the trim may add to or take from the feed-forward position.
        slew_per_s: the servo's speed (range per second), to estimate where it is.
        ceiling: trip above this pressure (fraction of the level-1 press).
        ceiling_samples: consecutive samples above the ceiling before tripping.
        rail_samples: consecutive rail readings before tripping.
        stuck_samples: identical consecutive readings before tripping.
        no_contact_below: pressure under this counts as no contact.
        no_contact_s: how long no contact is tolerated where contact is expected.
        contact_margin: contact is expected once the servo is this fraction of the way from
            the contact position to the maximum.
    """

    rate_hz: float = 200.0
    ki: float = 12.0
    ki_down: float = 40.0
    approach: float = 0.9
    trim_limit: float = 0.15
    slew_per_s: float = 6.0
    ceiling: float = 1.25
    ceiling_samples: int = 2
    rail_samples: int = 3
    stuck_samples: int = 12
    no_contact_below: float = 0.05
    no_contact_s: float = 0.03
    contact_margin: float = 0.25


class PressureController:
    """Holds the contact pressure a level asks for; raises :class:`PressureFault`."""

    def __init__(
        self,
        pad: PadCalibration,
        sensor: SensorCalibration,
        settings: ControlSettings | None = None,
    ) -> None:
        self.pad = pad
        self.sensor = sensor
        self.settings = settings or ControlSettings()
        self.target = 0.0
        self.pressure = 0.0
        self.command = pad.release
        self.estimate = pad.release  # where the servo is, by its known speed
        self._trim = 0.0
        self._last_t: float | None = None
        self._last_raw: float | None = None
        self._same = self._rail = self._over = 0
        self._no_contact_s = 0.0

    def set_target(self, level: float) -> None:
        """Hold ``level`` of the level-1 pressure from now on."""
        self.target = max(0.0, min(1.0, level))

    def reset(self, t: float | None = None) -> None:
        """The pad was released: forget the trim and the fault counters."""
        self.target = 0.0
        self.command = self.estimate = self.pad.release
        self._trim = 0.0
        self._last_t = t
        self._last_raw = None
        self._same = self._rail = self._over = 0
        self._no_contact_s = 0.0

    def step(self, t: float, reading: float) -> float:
        """One control period: the servo position to send now.

        Raises:
            PressureFault: the sensor or the pad misbehaves; release the pad.
        """
        dt = self._advance(t)
        self._check_sensor(reading)
        self.pressure = self.sensor.pressure(reading)
        self._check_pad(dt)
        if self.target <= 0:
            self.command = self.pad.release
            return self.command
        feed = self.pad.position_for(self.settings.approach * self.target)
        self._integrate(dt, self._position(feed))
        self.command = self._position(feed)
        return self.command

    def _position(self, feed: float) -> float:
        inward = 1.0 if self.pad.maximum >= self.pad.contact else -1.0  # servo mounted either way
        return self.pad.clamp(feed + inward * self._trim)

    # -- inside -------------------------------------------------------------------------

    def _advance(self, t: float) -> float:
        period = 1.0 / self.settings.rate_hz
        dt = period if self._last_t is None else min(max(0.0, t - self._last_t), 5 * period)
        self._last_t = t
        reach = self.settings.slew_per_s * dt
        gap = self.command - self.estimate
        self.estimate += max(-reach, min(reach, gap))
        return dt

    def _check_sensor(self, reading: float) -> None:
        s = self.settings
        if not math.isfinite(reading):
            raise PressureFault(f"force sensor returned {reading!r}")
        low, high = self.sensor.rail, 1.0 - self.sensor.rail
        self._rail = self._rail + 1 if (reading <= low or reading >= high) else 0
        if self._rail >= s.rail_samples:
            if reading <= low:
                raise PressureFault("force sensor reads 0 V: unplugged or a broken wire")
            raise PressureFault("force sensor reads full scale: shorted or miswired")
        self._same = self._same + 1 if reading == self._last_raw else 0
        self._last_raw = reading
        if self._same >= s.stuck_samples:
            ms = self._same / s.rate_hz * 1000
            raise PressureFault(
                f"force sensor reading has not changed for {ms:.0f} ms: stuck or disconnected"
            )

    def _check_pad(self, dt: float) -> None:
        s = self.settings
        self._over = self._over + 1 if self.pressure > s.ceiling else 0
        if self._over >= s.ceiling_samples:
            raise PressureFault(
                f"contact pressure {self.pressure:.0%} of your level-1 press,"
                f" above the {s.ceiling:.0%} ceiling"
            )
        expected = self.pad.contact + s.contact_margin * (self.pad.maximum - self.pad.contact)
        past_contact = (self.estimate - expected) * (self.pad.maximum - self.pad.contact) >= 0
        if self.target > 0 and past_contact and self.pressure < s.no_contact_below:
            self._no_contact_s += dt
            if self._no_contact_s >= s.no_contact_s - 1e-9:
                raise PressureFault(
                    "no contact: the pad is past the skin but senses no "
                    "pressure (band slipped off the point?)"
                )
        else:
            self._no_contact_s = 0.0

    def _integrate(self, dt: float, heading: float) -> None:
        """Adjust the trim; ``heading`` is where the servo goes with the present trim."""
        s = self.settings
        error = self.target - self.pressure
        inward = 1.0 if self.pad.maximum >= self.pad.contact else -1.0
        travel = (heading - self.estimate) * inward  # > 0: still pressing in
        if error < 0 and travel >= -0.01:
            # Above the target and not already backing off: back off fast, even mid-travel.
            self._trim += s.ki_down * error * dt
        elif error > 0 and abs(travel) < 0.01 and self.target > 0:
            # Below it: press in slowly, and only once the servo has arrived (no wind-up).
            self._trim += s.ki * error * dt
        self._trim = max(-s.trim_limit, min(s.trim_limit, self._trim))
