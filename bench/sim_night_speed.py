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
from firmware_host.plan.library import resolve as load
from firmware_host.plan.profile import Profile
from firmware_host.plan.timeline import Timeline, compile_profile
from firmware_host.session.assembly import Overrides, Session, resolve
from firmware_host.session.config import Config


async def night(profile: Profile, timeline: Timeline, kind: str) -> tuple[float, int, float]:
    clock = LoopClock()
    act = SimActuator(kind, now=clock.now, keep_trace=False)
    setup = resolve(Config(), Overrides(kind=kind))  # the one session assembly
    result = await Session(setup, profile, timeline, clock=clock, factory=lambda *_: act).run()
    felt = act.felt(clock.now())  # the plant has been driven by every command
    return result.duration_s, act.commands, felt


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("profile", nargs="?", default="night-gentle")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    start = time.perf_counter()
    profile = load(args.profile)
    timeline = compile_profile(profile)
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
            virtual_s, commands, _ = loop.run_until_complete(night(profile, timeline, kind))
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
