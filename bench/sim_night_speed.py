"""How fast an 8-hour night runs end to end on virtual time (engine, gate, plant, trace).

Usage: python bench/sim_night_speed.py [PROFILE] [--repeat N]
Goal (issue 2): an 8-hour profile in ≤ 1 s of wall time.
"""

from __future__ import annotations

import argparse
import statistics
import time

import async_solipsism
from pc6_sim.actuator import SimActuator

from firmware_host.clock import LoopClock
from firmware_host.drive.trace import TraceRecorder
from firmware_host.guard.gate import SafetyGate
from firmware_host.guard.limits import limits_for
from firmware_host.plan.library import resolve
from firmware_host.plan.timeline import compile_profile
from firmware_host.play.engine import Engine


async def night(timeline, kind: str) -> tuple[float, int, float]:
    clock = LoopClock()
    act = SimActuator(kind, now=clock.now)
    gate = SafetyGate(act, clock, limits_for(act.kind))
    await gate.open(TraceRecorder(clock.now()))
    result = await Engine(timeline, gate, clock).run()
    await gate.close()
    felt = act.felt(clock.now())  # the plant has been driven by every command
    return result.duration_s, act.commands, felt


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("profile", nargs="?", default="night-gentle")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    start = time.perf_counter()
    timeline = compile_profile(resolve(args.profile))
    compile_s = time.perf_counter() - start
    print(
        f"profile {args.profile}: {timeline.duration_ms / 3.6e6:.2f} h, {len(timeline)} "
        f"breakpoints, compiled in {compile_s * 1000:.1f} ms"
    )
    for kind in ("vibration", "pressure"):
        walls = []
        for _ in range(args.repeat):
            loop = async_solipsism.EventLoop()
            t0 = time.perf_counter()
            virtual_s, commands, _ = loop.run_until_complete(night(timeline, kind))
            walls.append(time.perf_counter() - t0)
            loop.close()
        best, median = min(walls), statistics.median(walls)
        print(
            f"{kind:<9} {virtual_s / 3600:.2f} virtual h in {median:.3f} s wall (best "
            f"{best:.3f} s), {commands} actuator commands, speed-up "
            f"{virtual_s / median:,.0f}x"
        )


if __name__ == "__main__":
    main()
