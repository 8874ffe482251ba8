"""Timing of the gpio backend's pressure control loop on the real clock.

Presses the simulated pad (gpiozero mock pins, mock-SPI MCP3008) at a level for a few
seconds with each clock and prints the loop's achieved rate, the lateness of its wake-ups
against the absolute deadlines (p50/p99/max), and the CPU it costs per second of pressing.
The mock SPI is bit-banged in Python; a Pi reads the MCP3008 over hardware SPI, so the
"controller only" line is the better guide to the loop's own cost there.

Usage: python bench/gpio_control_loop.py [--seconds 5] [--rate 200]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from firmware_host.clock import Clock, LoopClock, RealClock
from firmware_host.drive.gpio.backend import GpioPressure, create
from firmware_host.drive.gpio.pressure import PressureController


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def press(
    clock: Clock, seconds: float, rate: float
) -> tuple[list[tuple[float, float]], float, float]:
    pad = create("pressure", sim_pins=True, sensor_channel=0, rate_hz=rate, clock=clock)
    assert isinstance(pad, GpioPressure)
    await pad.open()
    pad.keep_ticks = True
    cpu0, wall0 = time.process_time(), time.monotonic()
    end = wall0 + seconds
    while time.monotonic() < end:  # refresh the lease like the gate would, at 75 %
        await pad.set_level(0.5, lease_s=2.0)
        await clock.sleep_until(min(end, clock.now() + 1.5))
    cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
    await pad.set_level(0.0, lease_s=0.0)
    await pad.close()
    return pad.ticks, cpu, wall


def report(
    name: str, ticks: list[tuple[float, float]], cpu: float, wall: float, rate: float
) -> None:
    late_ms = [(woke - deadline) * 1000 for deadline, woke in ticks]
    woken = [woke for _, woke in ticks]
    intervals = [b - a for a, b in zip(woken, woken[1:], strict=False)]
    achieved = 1.0 / statistics.mean(intervals)
    print(
        f"{name:<26} rate {achieved:7.1f} Hz   late p50 {percentile(late_ms, 0.5):5.2f} ms"
        f"  p99 {percentile(late_ms, 0.99):5.2f} ms  max {max(late_ms):5.2f} ms"
        f"   CPU {cpu / wall * 100:5.1f} % per second pressing"
    )


def controller_cost(rate: float) -> None:
    from firmware_host.drive.gpio.options import PressureConfig

    config = PressureConfig(sensor_channel=0, rate_hz=rate)
    ctl = PressureController(config.pad, config.sensor, config.control)
    ctl.set_target(0.5)
    n = 20000
    t0 = time.process_time()
    for k in range(n):
        ctl.step(k / rate, 0.4 + 0.001 * (k % 7))
    per_step = (time.process_time() - t0) / n
    print(
        f"{'controller only':<26} {per_step * 1e6:6.1f} µs per step = "
        f"{per_step * rate * 100:5.2f} % CPU at {rate:g} Hz"
    )


async def adc_cost(rate: float) -> None:
    pad = create("pressure", sim_pins=True, sensor_channel=0)
    assert isinstance(pad, GpioPressure)
    await pad.open()
    adc = pad._adc
    assert adc is not None
    n = 2000
    t0 = time.process_time()
    for _ in range(n):
        adc.value  # noqa: B018 - the read is what is measured
    per_read = (time.process_time() - t0) / n
    await pad.close()
    print(
        f"{'mock MCP3008 read':<26} {per_read * 1e6:6.1f} µs per read = "
        f"{per_read * rate * 100:5.2f} % CPU at {rate:g} Hz (bit-banged mock SPI)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rate", type=float, default=200.0)
    args = parser.parse_args()
    print(f"pressing at level 0.5 for {args.seconds:g} s per clock, loop at {args.rate:g} Hz")
    for name, clock in (
        ("LoopClock (asyncio timers)", LoopClock(simulated=False)),
        ("RealClock (timerfd)", RealClock()),
    ):
        ticks, cpu, wall = asyncio.run(press(clock, args.seconds, args.rate))
        report(name, ticks, cpu, wall, args.rate)
    controller_cost(args.rate)
    asyncio.run(adc_cost(args.rate))


if __name__ == "__main__":
    main()
