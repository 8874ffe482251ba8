"""A host that stalls longer than its lease (SIGSTOP, a slow SD-card write) comes back softly.

While the host is frozen the band's lease runs out and it turns itself off. Before the fix the
gate still believed the output was at its level and, on waking, re-commanded it as a *step*
from 0 (0 → 0.6 on a pressure band, no soft start). Once a lease has lapsed the output is 0 as
far as the gate is concerned, so the way back up is the soft-start ramp.

The stall is modelled on the virtual clock: the process is frozen while monotonic time runs
on, which is a clock that jumps ahead under the sleeping session.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from core_testlib import run_virtual
from pc6_sim.actuator import SimActuator

from firmware_host.clock import LoopClock
from firmware_host.drive.actuator import ActuatorKind
from firmware_host.drive.trace import TraceRecorder
from firmware_host.guard.gate import SafetyGate
from firmware_host.guard.limits import limits_for
from firmware_host.plan.profile import parse_profile
from firmware_host.plan.timeline import compile_profile
from firmware_host.play.engine import Engine

HOLD = compile_profile(
    parse_profile(
        'name = "hold"\ndescription = "d"\nkinds = ["pressure"]\n'
        '[[steps]]\nramp = 0.6\nover = "1s"\n[[steps]]\nhold = "60s"\n'
        '[[steps]]\nramp = 0\nover = "1s"\n'
    )
)


class StallingClock(LoopClock):
    """The loop's clock plus ``skew``: raising the skew is the process frozen for that long."""

    def __init__(self) -> None:
        super().__init__()
        self.skew = 0.0

    def now(self) -> float:
        return round(super().now() + self.skew, 6)

    async def sleep_until(self, deadline: float) -> None:
        await asyncio.sleep(max(0.0, deadline - self.now()))

    def call_at(self, deadline: float, callback: Callable[[], None]) -> asyncio.TimerHandle:
        loop = asyncio.get_running_loop()
        return loop.call_at(deadline - self.skew, callback)


def test_after_a_stall_longer_than_the_lease_the_output_ramps_back_up() -> None:
    async def scenario() -> list[tuple[float, float]]:
        clock = StallingClock()
        band = SimActuator("pressure", now=clock.now)  # a band: its lease runs on its clock
        limits = limits_for(band.kind)
        gate = SafetyGate(band, clock, limits)
        await gate.open(TraceRecorder(clock.now()))
        engine = Engine(HOLD, gate, clock)

        async def freeze() -> None:
            await asyncio.sleep(10.0)
            clock.skew += 3 * limits.lease_s  # frozen (SIGSTOP) for three leases

        side = asyncio.get_running_loop().create_task(freeze())
        try:
            await engine.run()
        finally:
            await gate.close()
            side.cancel()
        assert band.output is not None and band.lease_expiries == 1
        return band.output.rows

    rows = run_virtual(scenario)
    off = next(i for i, (t, v) in enumerate(rows) if t > 5 and v == 0)
    t_off = rows[off][0]
    back = [(t, v) for t, v in rows[off:] if v > 0]
    assert back, rows
    # Back up from 0 no faster than the soft start allows (pressure: 2 per second).
    rise = limits_for(ActuatorKind.PRESSURE).max_rise_per_s
    t_first = back[0][0]
    assert t_first > t_off
    start = max(t for t, v in rows[off:] if v == 0 and t <= t_first)
    peak_at = next(t for t, v in rows[off:] if v >= 0.6 - 1e-9)
    assert peak_at - start >= 0.6 / rise - 1e-6, rows[off - 2 : off + 6]
