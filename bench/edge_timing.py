"""Edge timing on the real clock: 100 edges a second through the engine, and 200 Hz pressure.

Three clocks, side by side, interleaved run by run so they share the machine's load:
  call_at          the engine on asyncio's own timers (LoopClock on a real loop)
  thread+spin      the old RealClock (a timer thread wakes the loop 0.4 ms early, the loop
                   spins out the rest), kept as ThreadClock
  RealClock        the clock today: a timerfd armed to each absolute deadline, in the loop

Each run plays a pulse train of 10 ms on / 10 ms off through the engine and the safety gate
onto a simulated actuator, and times every edge where it reaches the actuator against its
ideal time (the timeline anchored at the engine's start). Then the gpio pressure backend
runs its 200 Hz control loop on simulated pins and mock SPI, timing each tick against its
absolute deadline. A last line per run is the floor: a bare timerfd read in a plain loop
(no asyncio, no Python work), what the kernel gives this process at the same rate.

Every line says what else the machine was doing while it ran: "others" is the CPU the rest
of the machine used (cores, from /proc/stat minus this process), "runq" how long this
process waited for a CPU after becoming runnable (ms per second, /proc/self/schedstat),
"gc" the time spent in the garbage collector. On a shared machine the p99 and max columns
mostly measure the others; read them with those columns.

Usage: python bench/edge_timing.py [--seconds 10] [--runs 3] [--pressure-seconds 5] [--blink]
Goal (issue 10): p99 ≤ 1 ms on an idle machine at no more CPU than asyncio's call_at.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
from pc6_sim.actuator import SimActuator

from firmware_host.clock import Clock, LoopClock, RealClock, ThreadClock
from firmware_host.drive.gpio.backend import GpioPressure, create
from firmware_host.drive.trace import TraceRecorder
from firmware_host.guard.gate import SafetyGate
from firmware_host.guard.limits import limits_for
from firmware_host.plan.profile import parse_profile
from firmware_host.plan.timeline import Timeline, compile_profile
from firmware_host.play.engine import Engine
from firmware_host.timerfd import Timerfd

PERIOD_MS = 20  # 10 ms on, 10 ms off: 100 edges a second
CLOCKS: dict[str, Callable[[], Clock]] = {
    "call_at": lambda: LoopClock(simulated=False),
    "thread+spin": ThreadClock,
    "RealClock": RealClock,
}


@dataclass
class Load:
    """What the machine and this process did during one measurement."""

    cpu_pct: float = 0.0  # this process, per cent of one core
    others_cores: float = 0.0
    runq_ms_per_s: float = 0.0
    gc_ms: float = 0.0


@dataclass
class Result:
    name: str
    late_s: np.ndarray
    load: Load = field(default_factory=Load)


def _machine_busy_s() -> float:
    with open("/proc/stat") as f:
        ticks = [int(x) for x in f.readline().split()[1:9]]
    idle, iowait = ticks[3], ticks[4]
    return (sum(ticks) - idle - iowait) / os.sysconf("SC_CLK_TCK")


def _runq_wait_s() -> float:
    with open("/proc/self/schedstat") as f:
        return int(f.read().split()[1]) / 1e9


class _GcTimer:
    """Sums the time spent in the garbage collector (gc.callbacks)."""

    def __init__(self) -> None:
        self.total = 0.0
        self._start = 0.0

    def __call__(self, phase: str, _info: dict[str, int]) -> None:
        if phase == "start":
            self._start = time.perf_counter()
        else:
            self.total += time.perf_counter() - self._start


@contextmanager
def observed(load: Load) -> Iterator[None]:
    """Fill ``load`` with what happened on the machine while the block ran."""
    gc_timer = _GcTimer()
    gc.callbacks.append(gc_timer)
    wall, cpu, busy, runq = (
        time.perf_counter(),
        time.process_time(),
        _machine_busy_s(),
        _runq_wait_s(),
    )
    try:
        yield
    finally:
        wall = time.perf_counter() - wall
        cpu = time.process_time() - cpu
        gc.callbacks.remove(gc_timer)
        load.cpu_pct = cpu / wall * 100
        load.others_cores = max(0.0, (_machine_busy_s() - busy - cpu) / wall)
        load.runq_ms_per_s = (_runq_wait_s() - runq) / wall * 1000
        load.gc_ms = gc_timer.total * 1000


def pulse_train(seconds: float) -> Timeline:
    text = (
        f'name = "bench"\ndescription = "edges"\nkinds = ["vibration"]\n[[steps]]\n'
        f'pulses = {int(seconds * 1000 / PERIOD_MS)}\nlevel = 1.0\non = "10ms"\n'
        f'off = "10ms"\n'
    )
    return compile_profile(parse_profile(text))


class EdgeTap(SimActuator):
    """The simulated motor, noting the monotonic time of every change of level."""

    def __init__(self) -> None:
        super().__init__("vibration", now=time.monotonic, keep_trace=False)
        self.edges: list[float] = []
        self._level = 0.0

    async def set_level(self, level: float, *, lease_s: float, ramp_s: float = 0.0) -> None:
        if level != self._level:
            self.edges.append(time.monotonic())
            self._level = level
        await super().set_level(level, lease_s=lease_s, ramp_s=ramp_s)


async def play(timeline: Timeline, clock: Clock) -> np.ndarray:
    """Each edge's lateness at the actuator against the timeline anchored at the start."""
    act = EdgeTap()
    gate = SafetyGate(act, clock, limits_for(act.kind))
    await gate.open(TraceRecorder(clock.now()))
    anchor: list[float] = []

    def first_command(late: float) -> None:
        if not anchor:  # the engine's anchor: the first command's time less its lateness
            anchor.append(clock.now() - late)

    await Engine(timeline, gate, clock, on_lateness=first_command).run()
    await gate.close()
    ideal = anchor[0] + np.arange(len(act.edges)) * (PERIOD_MS / 2000)
    if isinstance(clock, RealClock):
        clock.close()
    return np.array(act.edges) - ideal


async def press(clock: Clock, seconds: float, rate: float) -> np.ndarray:
    """The pressure loop's lateness, tick by tick, while pressing at level 0.5."""
    pad = create("pressure", sim_pins=True, sensor_channel=0, rate_hz=rate, clock=clock)
    assert isinstance(pad, GpioPressure)
    await pad.open()
    pad.keep_ticks = True
    end = clock.now() + seconds
    while clock.now() < end:  # refresh the lease as the gate would, at 75 %
        await pad.set_level(0.5, lease_s=2.0)
        await clock.sleep_until(min(end, clock.now() + 1.5))
    await pad.set_level(0.0, lease_s=0.0)
    await pad.close()
    if isinstance(clock, RealClock):
        clock.close()
    return np.array([woke - deadline for deadline, woke in pad.ticks[1:]])


def floor(seconds: float, period_s: float) -> np.ndarray:
    """A bare blocking read of a timerfd armed to each deadline: the kernel's share."""
    timerfd = Timerfd()
    os.set_blocking(timerfd.fd, True)
    late = []
    deadline = time.monotonic() + period_s
    for _ in range(int(seconds / period_s)):
        timerfd.arm(deadline)
        os.read(timerfd.fd, 8)
        late.append(time.monotonic() - deadline)
        deadline += period_s
    timerfd.close()
    return np.array(late)


def gpiozero_blink(seconds: float) -> np.ndarray:
    from gpiozero import PWMOutputDevice
    from gpiozero.pins.mock import MockFactory, MockPWMPin

    factory = MockFactory(pin_class=MockPWMPin)
    device = PWMOutputDevice(17, pin_factory=factory)
    pin = factory.pin(17)
    pin.clear_states()
    device.blink(on_time=0.01, off_time=0.01, n=int(seconds * 1000 / PERIOD_MS), background=False)
    device.close()
    times = np.cumsum([s.timestamp for s in pin.states[1:]])  # deltas since the last change
    return (times - times[0]) - np.arange(len(times)) * (PERIOD_MS / 2000)


def measure(name: str, run: Callable[[], np.ndarray]) -> Result:
    result = Result(name, np.array([]))
    with observed(result.load):
        result.late_s = run()
    return result


def line(result: Result) -> str:
    ms, load = result.late_s * 1000, result.load
    return (
        f"  {result.name:<12} n {len(ms):>5}  CPU {load.cpu_pct:5.1f} %  p50 "
        f"{np.percentile(ms, 50):6.3f}  p99 {np.percentile(ms, 99):6.3f}  max {ms.max():7.3f} ms"
        f"  | others {load.others_cores:4.2f} cores  runq {load.runq_ms_per_s:5.1f} ms/s"
        f"  gc {load.gc_ms:4.1f} ms"
    )


def summary(title: str, results: list[Result]) -> None:
    print(title)
    for name in dict.fromkeys(r.name for r in results):
        mine = [r for r in results if r.name == name]
        p99 = [float(np.percentile(r.late_s * 1000, 99)) for r in mine]
        cpu = [r.load.cpu_pct for r in mine]
        print(
            f"  {name:<12} p99 median {statistics.median(p99):6.3f} ms (range "
            f"{min(p99):.3f}–{max(p99):.3f})  CPU median {statistics.median(cpu):5.1f} % "
            f"(range {min(cpu):.1f}–{max(cpu):.1f})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="pulse train per clock")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--pressure-seconds", type=float, default=5.0, help="0 to skip")
    parser.add_argument("--rate", type=float, default=200.0, help="pressure loop, Hz")
    parser.add_argument("--blink", action="store_true", help="also gpiozero's blink()")
    args = parser.parse_args()
    timeline = pulse_train(args.seconds)
    print(
        f"edges: {args.seconds:g} s pulse train per clock, 100 edges/s; pressure: "
        f"{args.pressure_seconds:g} s at {args.rate:g} Hz; lateness in ms; "
        f"load average {os.getloadavg()[0]:.2f} at the start"
    )
    edges: list[Result] = []
    pressure: list[Result] = []
    for run in range(1, args.runs + 1):
        print(f"run {run} (load average {os.getloadavg()[0]:.2f})")
        for name, make in CLOCKS.items():
            edges.append(measure(name, lambda make=make: asyncio.run(play(timeline, make()))))
            print(f"  edges   {line(edges[-1])[2:]}", flush=True)
        if args.pressure_seconds > 0:
            for name, make in CLOCKS.items():
                pressure.append(
                    measure(
                        name,
                        lambda make=make: asyncio.run(
                            press(make(), args.pressure_seconds, args.rate)
                        ),
                    )
                )
                print(f"  200 Hz  {line(pressure[-1])[2:]}", flush=True)
        bare = measure("timerfd read", lambda: floor(min(5.0, args.seconds), PERIOD_MS / 2000))
        print(f"  floor   {line(bare)[2:]}", flush=True)
    if args.blink:
        print(f"  blink   {line(measure('gpiozero', lambda: gpiozero_blink(args.seconds)))[2:]}")
    summary(f"edges at 100/s over {args.runs} runs:", edges)
    if pressure:
        summary(f"pressure loop at {args.rate:g} Hz over {args.runs} runs:", pressure)


if __name__ == "__main__":
    main()
