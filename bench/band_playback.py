"""Band playback through the engine: edges as the band plays them, on its own clock.

Plays pulse trains through the real engine, safety gate, host link, codec and band core:

* over the Pi-like BLE link model (the in-memory link, 30–130 ms and 40–65 ms per message
  each way, in order; virtual time, so ten minutes take a second), and
* over a real pseudo-terminal (the serial backend and pyserial against the virtual band in
  this process; real time, so the 1 s / 4 s case takes ten minutes — ``--quick`` plays 12).

Edges are read from the band core's own output (its breakpoints, in the band's
milliseconds) and compared with the timeline anchored at the session's first edge there: a
constant start delay is not an error. Prints one line per case, then the worst over the BLE
cases. Also prints the messages per hour each case exchanged with the band.

Run: ``python bench/band_playback.py [--quick] [--no-pty]``
"""

from __future__ import annotations

import argparse
import asyncio
import sys
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
LEVEL = 0.8
LINKS = {"ble 30-130 ms": (0.030, 0.100), "ble 40-65 ms": (0.040, 0.025)}


def pulses(on_ms: int, off_ms: int, count: int) -> Timeline:
    """A pulse train as a profile."""
    return compile_profile(
        parse_profile(
            f'name = "bench"\ndescription = "pulses"\nkinds = ["vibration"]\n[[steps]]\n'
            f'pulses = {count}\nlevel = {LEVEL}\non = "{on_ms}ms"\noff = "{off_ms}ms"\n'
        )
    )


def errors(band: VirtualBand, on_ms: int, off_ms: int, count: int) -> tuple[float, float, int]:
    """Worst edge error and worst pulse-length error (ms) on the band's clock; edges seen."""
    rows = band.breakpoints
    steps = [
        (t0, v1 > v0)
        for (t0, v0), (t1, v1) in zip(rows, rows[1:], strict=False)
        if t0 == t1 and v0 != v1
    ]
    rises = [t for t, up in steps if up]
    falls = [t for t, up in steps if not up]
    if len(rises) != count or len(falls) != count:
        return float("inf"), float("inf"), len(rises) + len(falls)
    period = (on_ms + off_ms) / 1000
    first = rises[0]
    edge = 0.0
    for i, (r, f) in enumerate(zip(rises, falls, strict=True)):
        edge = max(edge, abs(r - first - i * period), abs(f - first - i * period - on_ms / 1000))
    length = max(abs(f - r - on_ms / 1000) for r, f in zip(rises, falls, strict=True))
    return edge * 1000, length * 1000, len(rises) + len(falls)


async def session(link: BandLink, clock: Any, timeline: Timeline) -> tuple[Any, float]:
    gate = SafetyGate(link, clock, limits_for(link.kind))
    await gate.open()
    start = clock.now()
    try:
        result = await Engine(timeline, gate, clock).run()
    finally:
        await gate.close()
    return result, clock.now() - start


async def over_memory(
    latency: tuple[float, float], on_ms: int, off_ms: int, count: int
) -> tuple[float, float, int, float, Any, BandLink]:
    band = VirtualBand("vibration", key=KEY, seed=1, plant=None)
    link = MemoryLink(band, key=KEY, latency_s=latency[0], jitter_s=latency[1], seed=2)
    result, took = await session(link, LoopClock(), pulses(on_ms, off_ms, count))
    return (*errors(band, on_ms, off_ms, count), took, result, link)


async def over_pty(
    on_ms: int, off_ms: int, count: int
) -> tuple[float, float, int, float, Any, BandLink]:
    band = VirtualBand("vibration", key=KEY, seed=1, plant=None)
    pty = PtyBand(band)
    port = pty.start()
    link = SerialLink(port, key=KEY)
    try:
        result, took = await session(link, RealClock(), pulses(on_ms, off_ms, count))
    finally:
        pty.close()
    return (*errors(band, on_ms, off_ms, count), took, result, link)


def run_virtual(coro: Any) -> Any:
    import async_solipsism

    loop = async_solipsism.EventLoop()
    try:
        return loop.run_until_complete(coro)
    finally:
        loop.close()


def line(name: str, figures: tuple[float, float, int, float, Any, BandLink]) -> None:
    edge, length, edges, took, result, link = figures
    per_hour = (link.messages["sent"] + link.messages["received"]) / took * 3600
    print(
        f"{name:34} edges {edges:4}  worst edge error {edge:6.2f} ms  worst pulse-length "
        f"error {length:6.2f} ms  session {took:7.1f} s  {per_hour:6.0f} msg/h "
        f"({link.messages['pings']} pings)  summary says {result.max_lateness_s * 1000:.2f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="12 slow pulses over the pty")
    parser.add_argument("--no-pty", action="store_true", help="only the BLE link model")
    args = parser.parse_args()
    cases = [(1000, 4000, 120), (100, 100, 100)]
    worst_edge = worst_length = 0.0
    for name, latency in LINKS.items():
        for on, off, count in cases:
            figures = run_virtual(over_memory(latency, on, off, count))
            line(f"{name}  {on}/{off} ms x {count}", figures)
            worst_edge = max(worst_edge, figures[0])
            worst_length = max(worst_length, figures[1])
    if not args.no_pty:
        for on, off, count in cases:
            count = 12 if args.quick and on == 1000 else count
            line(f"pty  {on}/{off} ms x {count}", asyncio.run(over_pty(on, off, count)))
    print(
        f"band_playback: worst edge error {worst_edge:.2f} ms, "
        f"worst pulse-length error {worst_length:.2f} ms"
    )


if __name__ == "__main__":
    main()
