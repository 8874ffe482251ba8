"""Host and band clocks over a night: a band crystal ±50 ppm off, through the whole stack.

Plays 1 s on / 4 s off for eight virtual hours through the engine, gate, host link, codec
and band core over the Pi-like BLE link model (30–130 ms per message each way), with the
band's clock running fast or slow. Edges are taken from the band core's output and put on
true (host) time; the error is against the host's timeline anchored at the first edge.

Run: ``python bench/band_drift.py [--hours 8]``
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pc6_sim.band import MemoryLink, VirtualBand  # noqa: E402

from firmware_host.clock import LoopClock  # noqa: E402
from firmware_host.guard.gate import SafetyGate  # noqa: E402
from firmware_host.guard.limits import limits_for  # noqa: E402
from firmware_host.plan.profile import parse_profile  # noqa: E402
from firmware_host.plan.timeline import compile_profile  # noqa: E402
from firmware_host.play.engine import Engine  # noqa: E402

KEY = bytes(range(32))


async def night(hours: float, ppm: float) -> tuple[list[float], float]:
    count = int(hours * 3600 / 5)
    timeline = compile_profile(
        parse_profile(
            f'name = "drift"\ndescription = "d"\nkinds = ["vibration"]\n[[steps]]\n'
            f'pulses = {count}\nlevel = 0.8\non = "1s"\noff = "4s"\n'
        )
    )
    band = VirtualBand("vibration", key=KEY, seed=1, plant=None, drift_ppm=ppm)
    link = MemoryLink(band, key=KEY, latency_s=0.03, jitter_s=0.1, seed=2)
    clock = LoopClock()
    gate = SafetyGate(link, clock, limits_for(link.kind))
    await gate.open()
    try:
        await Engine(timeline, gate, clock).run()
    finally:
        await gate.close()
    rows = band.breakpoints
    rises = [
        t0 / band.rate  # the band's seconds on true time
        for (t0, v0), (t1, v1) in zip(rows, rows[1:], strict=False)
        if t0 == t1 and v1 > v0
    ]
    errors = [abs(t - rises[0] - 5.0 * i) * 1000 for i, t in enumerate(rises)]
    return errors, link.clock_sync.ppm()


def main() -> None:
    import async_solipsism

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--hours", type=float, default=8.0)
    args = parser.parse_args()
    for ppm in (50.0, -50.0, 0.0):
        started = time.perf_counter()
        loop = async_solipsism.EventLoop()
        try:
            errors, estimate = loop.run_until_complete(night(args.hours, ppm))
        finally:
            loop.close()
        worst = max(errors)
        at_h = errors.index(worst) * 5 / 3600
        uncorrected = abs(ppm) * 1e-6 * args.hours * 3600 * 1000
        print(
            f"band clock {ppm:+5.0f} ppm: edge error after {args.hours:g} h {errors[-1]:5.2f} ms "
            f"(uncorrected {uncorrected:6.0f} ms), worst {worst:5.2f} ms at {at_h:4.2f} h, "
            f"rate measured {estimate:+7.3f} ppm  [{time.perf_counter() - started:.0f} s]"
        )


if __name__ == "__main__":
    main()
