"""The base of every actuator that wraps another: calibration, stepping, the trace tap.

A wrapper forwards what it does not change — capabilities (a band learns its own only once
connected), faults and link news in both directions — so a chain of wrappers behaves like
the backend at its end.
"""

from __future__ import annotations

from collections.abc import Callable

from firmware_host.drive.actuator import Actuator, Capabilities, FaultListener, LinkListener


class ActuatorWrapper(Actuator):
    """Forwards everything to ``inner``; subclasses override what they change."""

    def __init__(self, inner: Actuator) -> None:
        super().__init__()
        self.inner = inner

    @property
    def capabilities(self) -> Capabilities:  # type: ignore[override]
        """The backend's own."""
        return self.inner.capabilities

    async def open(self) -> None:
        """Open the backend (which starts off)."""
        await self.inner.open()

    async def set_level(self, level: float, *, lease_s: float, ramp_s: float = 0.0) -> None:
        """Forward to the backend."""
        await self.inner.set_level(level, lease_s=lease_s, ramp_s=ramp_s)

    async def off(self) -> None:
        """Backend off; never raises."""
        await self.inner.off()

    async def close(self) -> None:
        """Backend closed; never raises."""
        await self.inner.close()

    def on_fault(self, listener: FaultListener) -> Callable[[], None]:
        """Faults come from the backend."""
        return self.inner.on_fault(listener)

    def report_fault(self, reason: str) -> None:
        """A fault seen on the way (or reported from outside) reaches the backend's listeners."""
        self.inner.report_fault(reason)

    def on_link(self, listener: LinkListener) -> Callable[[], None]:
        """Link drops and returns come from the backend."""
        return self.inner.on_link(listener)

    def report_link(self, up: bool, reason: str) -> None:
        """Link news reaches the backend's listeners."""
        self.inner.report_link(up, reason)


def innermost(actuator: Actuator) -> Actuator:
    """The backend at the end of a chain of wrappers."""
    while isinstance(actuator, ActuatorWrapper):
        actuator = actuator.inner
    return actuator
