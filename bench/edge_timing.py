"""Edge timing on the real clock: a 20 s pulse train with 100 edges a second.

Plays the same pattern four ways, side by side:
  pc6 RealClock    the engine on the real clock (a timerfd in the event loop)
  thread + spin    the clock before it (timer thread, then 0.4 ms spun on the loop)
  asyncio call_at  the same engine on asyncio's own timers (LoopClock on a real loop)
  gpiozero blink   gpiozero's PWMOutputDevice.blink() on its MockFactory (relative sleeps)

For each: the process's CPU (per cent of one core, over the run), p50, p99 and max
lateness of every edge against the ideal edge time, and the drift of the last edge.
Usage: python bench/edge_timing.py [--seconds 20] [--runs 1]
Goal (issue 10): p99 ≤ 1 ms on an idle machine at no more CPU than asyncio's call_at.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Callable

import numpy as np
from pc6_sim.actuator import SimActuator

from firmware_host.clock import LoopClock, RealClock, ThreadClock
from firmware_host.drive.trace import TraceRecorder
from firmware_host.guard.gate import SafetyGate
from firmware_host.guard.limits import limits_for
from firmware_host.plan.profile import parse_profile
from firmware_host.plan.timeline import Timeline, compile_profile
from firmware_host.play.engine import Engine

PERIOD_MS = 20  # 10 ms on, 10 ms off: 100 edges a second


def pulse_train(seconds: float) -> Timeline:
    text = (
        f'name = "bench"\ndescription = "edges"\nkinds = ["vibration"]\n[[steps]]\n'
        f'pulses = {int(seconds * 1000 / PERIOD_MS)}\nlevel = 1.0\non = "10ms"\n'
        f'off = "10ms"\n'
    )
    return compile_profile(parse_profile(text))


async def play(timeline: Timeline, clock: RealClock | ThreadClock | LoopClock) -> np.ndarray:
    act = SimActuator("vibration", now=time.monotonic)
    gate = SafetyGate(act, clock, limits_for(act.kind))
    await gate.open(TraceRecorder(clock.now()))
    late: list[float] = []
    await Engine(timeline, gate, clock, on_lateness=late.append).run()
    await gate.close()
    return np.array(late)


def gpiozero_blink(seconds: float) -> np.ndarray:
    from gpiozero import PWMOutputDevice
    from gpiozero.pins.mock import MockFactory, MockPWMPin

    factory = MockFactory(pin_class=MockPWMPin)
    device = PWMOutputDevice(17, pin_factory=factory)
    pin = factory.pin(17)
    pin.clear_states()
    n = int(seconds * 1000 / PERIOD_MS)
    device.blink(on_time=0.01, off_time=0.01, n=n, background=False)
    device.close()
    deltas = np.array([s.timestamp for s in pin.states[1:]])  # each is the delta since the last
    times = np.cumsum(deltas)
    times = times - times[0]
    ideal = np.arange(len(times)) * (PERIOD_MS / 2000)
    return times - ideal


def measured(run: Callable[[], np.ndarray]) -> tuple[np.ndarray, float]:
    """Lateness from ``run()`` and the CPU it took, per cent of one core."""
    wall, cpu = time.perf_counter(), time.process_time()
    late = run()
    return late, (time.process_time() - cpu) / (time.perf_counter() - wall) * 100


def report(name: str, late: np.ndarray, cpu: float) -> None:
    ms = late * 1000
    print(
        f"{name:<16} edges {len(ms):>5}  CPU {cpu:5.1f} %  p50 {np.percentile(ms, 50):7.3f} ms"
        f"  p99 {np.percentile(ms, 99):7.3f} ms  max {ms.max():7.3f} ms  drift at end "
        f"{ms[-1]:8.2f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    timeline = pulse_train(args.seconds)
    print(f"{args.seconds:g} s pulse train, {len(timeline)} breakpoints, 100 edges/s")
    clocks: dict[str, Callable[[], RealClock | ThreadClock | LoopClock]] = {
        "pc6 RealClock": RealClock,
        "thread + spin": ThreadClock,
        "asyncio call_at": lambda: LoopClock(simulated=False),
    }
    for _ in range(args.runs):
        for name, make in clocks.items():
            report(name, *measured(lambda make=make: asyncio.run(play(timeline, make()))))
    report("gpiozero blink", *measured(lambda: gpiozero_blink(args.seconds)))


if __name__ == "__main__":
    main()
