"""Profiles run relative to the wearer's calibration.

A profile's levels are 0–1 of the wearer's comfortable range: the smallest non-zero level is
the lowest they feel, 1 is the highest that stays comfortable. This wrapper maps them onto
the actuator's own 0–1 before the backend sees them, so the safety gate, the engine and the
journal keep speaking in the wearer's levels.
"""

from __future__ import annotations

from collections.abc import Callable

from firmware_host.drive.actuator import Actuator, FaultListener, LinkListener
from firmware_host.drive.calibration import Calibration


class CalibratedActuator(Actuator):
    """Forwards to ``inner`` with levels mapped through ``calibration``."""

    def __init__(self, inner: Actuator, calibration: Calibration) -> None:
        super().__init__()
        self.inner = inner
        self.calibration = calibration
        self.capabilities = inner.capabilities

    async def open(self) -> None:
        """Open the backend (which starts off)."""
        await self.inner.open()

    async def set_level(self, level: float, *, lease_s: float, ramp_s: float = 0.0) -> None:
        """Set the mapped level on the backend."""
        await self.inner.set_level(
            self.calibration.to_output(level), lease_s=lease_s, ramp_s=ramp_s
        )

    async def off(self) -> None:
        """Backend off; never raises."""
        await self.inner.off()

    async def close(self) -> None:
        """Backend closed; never raises."""
        await self.inner.close()

    def on_fault(self, listener: FaultListener) -> Callable[[], None]:
        """Faults come from the backend itself."""
        return self.inner.on_fault(listener)

    def on_link(self, listener: LinkListener) -> Callable[[], None]:
        """Link drops and returns come from the backend itself."""
        return self.inner.on_link(listener)
