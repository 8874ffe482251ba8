"""Profiles run relative to the wearer's calibration.

A profile's levels are 0–1 of the wearer's comfortable range: the smallest non-zero level is
the lowest they feel, 1 is the highest that stays comfortable. This wrapper maps them onto
the actuator's own 0–1 before the backend sees them, so the safety gate, the engine and the
journal keep speaking in the wearer's levels.
"""

from __future__ import annotations

from typing import Protocol

from firmware_host.drive.actuator import Actuator
from firmware_host.drive.wrapper import ActuatorWrapper


class LevelMap(Protocol):
    """A wearer's calibration: profile level → actuator output."""

    def to_output(self, level: float) -> float:
        """The actuator output for ``level`` (0–1 of the wearer's range)."""
        ...


class CalibratedActuator(ActuatorWrapper):
    """Forwards to ``inner`` with levels mapped through ``calibration``."""

    def __init__(self, inner: Actuator, calibration: LevelMap) -> None:
        super().__init__(inner)
        self.calibration = calibration

    async def set_level(self, level: float, *, lease_s: float, ramp_s: float = 0.0) -> None:
        """Set the mapped level on the backend."""
        await self.inner.set_level(
            self.calibration.to_output(level), lease_s=lease_s, ramp_s=ramp_s
        )
