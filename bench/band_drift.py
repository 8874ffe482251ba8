"""Host and band clocks over a night: a band crystal ±50 ppm off, through the whole stack.

Plays 1 s on / 4 s off through the engine, gate, host link, codec and band core with the
band's clock running fast, slow or true:

* over the Pi-like BLE link models (the in-memory link, 30–130 ms and 40–65 ms per message
  each way, in order) for eight virtual hours (virtual time: a few seconds each), and
* over a real pseudo-terminal (the serial backend and pyserial against the virtual band in
  this process) in real time, so only the first ``--pty-minutes`` (10) are played; the three
  bands play side by side.

Edges (rises and falls) are taken from the band core's output and put on true (host) time;
the error is against the host's timeline anchored at the session's first edge (a constant
start delay is not an error). Prints, per case, the worst error in the first 10 minutes,
the worst over the whole run and where it was, the error at the end, and the rate the host
measured; last, the worst of all cases.

Run: ``python bench/band_drift.py [--hours 8] [--pty-minutes 10 | --no-pty] [--seed 2]``
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pc6_sim.band import MemoryLink, PtyBand, VirtualBand  # noqa: E402

from firmware_host.clock import LoopClock, RealClock  # noqa: E402
from firmware_host.drive.band.link import BandLink  # noqa: E402
from firmware_host.drive.band.serial import SerialLink  # noqa: E402
from firmware_host.guard.gate import SafetyGate  # noqa: E402
from firmware_host.guard.limits import limits_for  # noqa: E402
from firmware_host.plan.profile import parse_profile  # noqa: E402
from firmware_host.plan.timeline import Timeline, compile_profile  # noqa: E402
from firmware_host.play.engine import Engine  # noqa: E402

KEY = bytes(range(32))
LINKS = {"ble 30-130 ms": (0.030, 0.100), "ble 40-65 ms": (0.040, 0.025)}
DRIFTS = (50.0, -50.0, 0.0)
PERIOD_S, ON_S = 5.0, 1.0
EARLY_S = 600.0  # "the first 10 minutes"


@dataclass
class Night:
    """Edge errors (ms) of one run, by host time since the first edge (s)."""

    at: list[float]
    errors: list[float]
    ppm: float

    def worst(self, until: float = float("inf")) -> tuple[float, float]:
        """The worst error up to ``until`` seconds, and when it happened (s)."""
        pairs = [(e, t) for t, e in zip(self.at, self.errors, strict=True) if t <= until]
        return max(pairs) if pairs else (float("nan"), 0.0)


def pulses(count: int) -> Timeline:
    """1 s on / 4 s off, ``count`` times."""
    return compile_profile(
        parse_profile(
            f'name = "drift"\ndescription = "d"\nkinds = ["vibration"]\n[[steps]]\n'
            f'pulses = {count}\nlevel = 0.8\non = "1s"\noff = "4s"\n'
        )
    )


def measure(band: VirtualBand, link: BandLink) -> Night:
    """Every edge the band played, on true time, against the host's timeline."""
    rows = band.breakpoints
    steps = [
        (t0 / band.rate, v1 > v0)  # the band's seconds on true time
        for (t0, v0), (t1, v1) in zip(rows, rows[1:], strict=False)
        if t0 == t1 and v0 != v1
    ]
    rises = [t for t, up in steps if up]
    falls = [t for t, up in steps if not up]
    at: list[float] = []
    errors: list[float] = []
    for i, (r, f) in enumerate(zip(rises, falls, strict=False)):
        for t, ideal in ((r, i * PERIOD_S), (f, i * PERIOD_S + ON_S)):
            at.append(t - rises[0])
            errors.append(abs(t - rises[0] - ideal) * 1000)
    return Night(at, errors, link.clock_sync.ppm())


async def session(link: BandLink, clock: Any, timeline: Timeline) -> None:
    gate = SafetyGate(link, clock, limits_for(link.kind))
    await gate.open()
    try:
        await Engine(timeline, gate, clock).run()
    finally:
        await gate.close()


async def over_memory(latency: tuple[float, float], ppm: float, hours: float, seed: int) -> Night:
    band = VirtualBand("vibration", key=KEY, seed=1, plant=None, drift_ppm=ppm)
    link = MemoryLink(band, key=KEY, latency_s=latency[0], jitter_s=latency[1], seed=seed)
    await session(link, LoopClock(), pulses(int(hours * 3600 / PERIOD_S)))
    return measure(band, link)


async def over_pty(ppm: float, minutes: float) -> Night:
    band = VirtualBand("vibration", key=KEY, seed=1, plant=None, drift_ppm=ppm)
    pty = PtyBand(band)
    link = SerialLink(pty.start(), key=KEY)
    try:
        await session(link, RealClock(), pulses(int(minutes * 60 / PERIOD_S)))
    finally:
        pty.close()
    return measure(band, link)


async def pty_cases(minutes: float) -> list[Night]:
    return list(await asyncio.gather(*(over_pty(ppm, minutes) for ppm in DRIFTS)))


def run_virtual(coro: Any) -> Any:
    import async_solipsism

    loop = async_solipsism.EventLoop()
    try:
        return loop.run_until_complete(coro)
    finally:
        loop.close()


def line(name: str, ppm: float, night: Night, took: float) -> tuple[float, float]:
    """Print one case; return its worst in the first 10 minutes and over the whole run."""
    early, _ = night.worst(EARLY_S)
    worst, when = night.worst()
    hours = night.at[-1] / 3600
    uncorrected = abs(ppm) * 1e-6 * night.at[-1] * 1000
    print(
        f"{name:14} band {ppm:+3.0f} ppm: worst edge error first 10 min {early:5.2f} ms, "
        f"over {hours:4.2f} h {worst:5.2f} ms (at {when / 3600:4.2f} h), at the end "
        f"{night.errors[-1]:5.2f} ms (uncorrected {uncorrected:6.0f} ms), rate measured "
        f"{night.ppm:+7.3f} ppm  [{took:.0f} s]",
        flush=True,
    )
    return early, worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--hours", type=float, default=8.0, help="virtual hours per BLE case")
    parser.add_argument("--pty-minutes", type=float, default=10.0, help="real minutes, pty")
    parser.add_argument("--no-pty", action="store_true", help="only the BLE link models")
    parser.add_argument("--seed", type=int, default=2, help="seeds the link's latency")
    args = parser.parse_args()
    early = worst = 0.0
    for name, latency in LINKS.items():
        for ppm in DRIFTS:
            started = time.perf_counter()
            night = run_virtual(over_memory(latency, ppm, args.hours, args.seed))
            e, w = line(name, ppm, night, time.perf_counter() - started)
            early, worst = max(early, e), max(worst, w)
    if not args.no_pty:
        started = time.perf_counter()
        nights = asyncio.run(pty_cases(args.pty_minutes))
        for ppm, night in zip(DRIFTS, nights, strict=True):
            e, w = line("pty", ppm, night, time.perf_counter() - started)
            early, worst = max(early, e), max(worst, w)
    print(
        f"band_drift: worst edge error in the first 10 min {early:.2f} ms, "
        f"over the whole run {worst:.2f} ms ({args.hours:g} h BLE"
        + ("" if args.no_pty else f", {args.pty_minutes:g} min pty")
        + ")"
    )


if __name__ == "__main__":
    main()
