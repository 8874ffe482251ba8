"""The wearer's levels for one actuator: what a profile's 0–1 means at the wrist.

Read from the config's ``[calibration]`` table and applied by
:class:`~firmware_host.drive.calibrated.CalibratedActuator`; it lives in ``drive/`` because
the actuator applies it, and the config (a later stage) only fills it in.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Calibration:
    """The wearer's levels for one actuator, 0–1 of its full output.

    Attributes:
        felt: the lowest level the wearer feels; a profile's smallest non-zero level.
        comfortable: the highest level that stays comfortable; a profile's level 1.
    """

    felt: float = 0.0
    comfortable: float = 1.0

    def to_output(self, level: float) -> float:
        """A profile level (0–1 of the comfortable range) as actuator output."""
        if level <= 0:
            return 0.0
        return self.felt + min(level, 1.0) * (self.comfortable - self.felt)
