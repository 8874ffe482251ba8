"""The simulated actuator: a band-like output with a lease, driving a plant model.

It records two things: the level it was commanded (after the safety gate), and what the
wearer would feel (the plant's output). Like a real band it expires a non-zero output when
its lease runs out, so a test catches an engine that forgets to refresh.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from firmware_host.drive.actuator import Actuator, ActuatorKind, Capabilities
from firmware_host.drive.trace import TraceRecorder

from .plants import ErmPlant, PadPlant, make_plant

logger = logging.getLogger(__name__)


class SimActuator(Actuator):
    """A simulated vibration motor or pressure pad with band-style leases."""

    def __init__(
        self,
        kind: ActuatorKind | str = ActuatorKind.VIBRATION,
        *,
        now: Callable[[], float],
        lease_cap_s: float | None = None,
        resolution: int = 1000,
        can_ramp: bool = True,
        keep_trace: bool = True,
    ) -> None:
        super().__init__()
        kind = ActuatorKind(kind)
        cap = (
            lease_cap_s
            if lease_cap_s is not None
            else (3.0 if kind is ActuatorKind.PRESSURE else 5.0)
        )
        self.capabilities = Capabilities(
            kind=kind, can_ramp=can_ramp, resolution=resolution, max_lease_s=cap, simulated=True
        )
        self._now = now
        self.plant: ErmPlant | PadPlant = make_plant(kind.value)
        self.output: TraceRecorder | None = None
        self._keep_trace = keep_trace  # tests read output.rows; a long run must not keep them
        self.lease_expiries = 0
        self._lease_end: float | None = None
        self.is_open = False
        self.fail_next: str | None = None  # fault injection: the next set_level raises
        self.commands = 0  # how many set_level calls reached it (wake-ups that did work)

    def _expire_lease(self, t: float) -> None:
        if self._lease_end is not None and self._lease_end <= t and self.output is not None:
            if self.output.level_at(self._lease_end) > 0:
                self.lease_expiries += 1
                logger.warning("simulated band: lease expired, output off")
                self.output.record(self._lease_end, 0.0)
                self.plant.command(self._lease_end, 0.0)
            self._lease_end = None

    async def open(self) -> None:
        """Start with the output off."""
        t = self._now()
        self.output = TraceRecorder(t, keep_rows=self._keep_trace)
        self.plant.command(t, 0.0)
        self.is_open = True

    async def set_level(self, level: float, *, lease_s: float, ramp_s: float = 0.0) -> None:
        """Move to ``level`` (over ``ramp_s``) for at most ``lease_s`` without a refresh."""
        from firmware_host.errors import ActuatorError

        if not self.is_open or self.output is None:
            raise ActuatorError("simulated actuator is not open")
        if self.fail_next:
            reason, self.fail_next = self.fail_next, None
            raise ActuatorError(reason)
        if not 0.0 <= level <= 1.0:
            raise ActuatorError(f"level {level!r} out of range")
        self.commands += 1
        t = self._now()
        self._expire_lease(t)
        lease = min(lease_s, self.capabilities.max_lease_s)
        self.output.record(t, level, ramp_s)
        self.plant.command(t, level, ramp_s)
        self._lease_end = t + lease if level > 0 or ramp_s > 0 else None

    async def off(self) -> None:
        """Output to zero now."""
        if self.output is None:
            return
        t = self._now()
        self._expire_lease(t)
        self.output.record(t, 0.0)
        self.plant.command(t, 0.0)
        self._lease_end = None

    async def close(self) -> None:
        """Off, and close the trace."""
        if not self.is_open:
            return
        await self.off()
        if self.output is not None:
            self.output.finish(self._now())
        self.is_open = False

    def felt(self, t: float | None = None) -> float:
        """What the wearer feels now (or at ``t``), 0–1."""
        return self.plant.output(self._now() if t is None else t)
