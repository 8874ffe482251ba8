"""Band link figures: command-to-actuator latency and band-side playback edge error.

Prints, for
  * the virtual band on a real pty (serial backend, pyserial, same process),
  * the real firmware under the MicroPython unix port on a pty (PWM seen by the fake machine),
  * the virtual band over bumble's simulated BLE link (bleak backend),
the latency from ``set_level()`` being called to the actuator output changing (p50, p99), and
the edge error of a PLAY queue played on the band's clock against the timeline, next to the
same edges timed by the host with SETs.

Run: ``python bench/band_latency.py [--count N]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import tty
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pc6_device import protocol as p  # noqa: E402
from pc6_sim.band import MemoryLink, PtyBand, VirtualBand  # noqa: E402
from pc6_sim.bumble_backend import BumbleWorld, bumble_security_check  # noqa: E402

from firmware_host.drive.band.ble import BleLink  # noqa: E402
from firmware_host.drive.band.link import BandLink  # noqa: E402
from firmware_host.drive.band.serial import SerialLink  # noqa: E402

KEY = bytes(range(32))
EDGE_MS = 100
EDGES = 15  # 2 steps each + a final 0: fits the band queue (32)


def run_virtual(coro: Any) -> None:
    """Run on async-solipsism's virtual clock."""
    import async_solipsism

    loop = async_solipsism.EventLoop()
    try:
        loop.run_until_complete(coro)
    finally:
        loop.close()


def pct(values: list[float], q: float) -> float:
    """The q-quantile (0–1) of values."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summary(name: str, values_ms: list[float]) -> None:
    """One line: p50, p99, max in ms."""
    print(
        f"  {name:44} p50 {pct(values_ms, 0.5):7.3f} ms   p99 {pct(values_ms, 0.99):7.3f} ms"
        f"   max {max(values_ms):7.3f} ms   (n={len(values_ms)})"
    )


class Watched:
    """Timestamps (perf_counter, or ``clock``) of every output change of a VirtualBand."""

    def __init__(self, band: VirtualBand, clock: Callable[[], float] = time.perf_counter) -> None:
        self.changes: list[tuple[float, int]] = []
        original = band.board.set_output

        def set_output(level: int) -> None:
            self.changes.append((clock(), level))
            original(level)

        band.board.set_output = set_output  # type: ignore[method-assign]


async def latency(
    link: BandLink,
    changes: Callable[[], list[tuple[float, int]]],
    count: int,
    clock: Callable[[], float] = time.perf_counter,
) -> list[float]:
    """set_level → output change, ms, alternating between two levels."""
    out = []
    for i in range(count):
        level = 0.3 if i % 2 else 0.7
        before = len(changes())
        t0 = clock()
        await link.set_level(level, lease_s=2.0)
        while len(changes()) == before:
            await asyncio.sleep(0)
        out.append((changes()[before][0] - t0) * 1000)
    await link.off()
    return out


def steps() -> list[tuple[float, float]]:
    """A square wave of EDGES edges, EDGE_MS apart: (duration_s, level) ramps."""
    out: list[tuple[float, float]] = []
    for i in range(EDGES):
        out += [(0.0, 0.8 if i % 2 == 0 else 0.2), (EDGE_MS / 1000, 0.8 if i % 2 == 0 else 0.2)]
    return [*out, (0.0, 0.0)]


def edge_errors(times_s: list[float]) -> list[float]:
    """|actual − intended| for each edge, relative to the first edge, ms."""
    return [abs((t - times_s[0]) * 1000 - i * EDGE_MS) for i, t in enumerate(times_s)]


async def play_edges(link: BandLink, changes: Callable[[], list[tuple[float, int]]]) -> list[float]:
    """Edges of a PLAY queue, timed by the band's clock."""
    before = len(changes())
    queue = steps()
    await link.play(queue[:8], lease_s=2.0)
    for i in range(8, len(queue), 8):
        await link.play(queue[i : i + 8], lease_s=2.0, append=True)
    while len(changes()) < before + EDGES + 1:
        await asyncio.sleep(0.01)
    await link.keep(lease_s=2.0)
    return [t for t, _ in changes()[before : before + EDGES]]


async def set_edges(link: BandLink, changes: Callable[[], list[tuple[float, int]]]) -> list[float]:
    """The same edges, timed by the host: a SET at each absolute deadline."""
    before = len(changes())
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.05
    for i in range(EDGES):
        delay = start + i * EDGE_MS / 1000 - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        await link.set_level(0.8 if i % 2 == 0 else 0.2, lease_s=2.0)
    while len(changes()) < before + EDGES:
        await asyncio.sleep(0.01)
    await link.off()
    return [t for t, _ in changes()[before : before + EDGES]]


async def report(
    name: str,
    link: BandLink,
    changes: Callable[[], list[tuple[float, int]]],
    count: int,
    clock: Callable[[], float] = time.perf_counter,
) -> None:
    """All three figures for one link."""
    print(name)
    summary("command → actuator latency", await latency(link, changes, count, clock))
    summary(
        "PLAY edges on the band clock vs timeline", edge_errors(await play_edges(link, changes))
    )
    summary("SET edges timed by the host vs timeline", edge_errors(await set_edges(link, changes)))


async def bench_pty(count: int) -> None:
    band = VirtualBand("vibration", key=KEY, plant=None)
    pty = PtyBand(band)
    watched = Watched(band)
    async with SerialLink(pty.start(), key=KEY) as link:
        await report("virtual band on a pty (serial backend)", link, lambda: watched.changes, count)
    pty.close()


async def bench_micropython(count: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        fs = Path(tmp)
        (fs / "pc6_config.json").write_text(json.dumps({"kind": "vibration"}))
        (fs / "pc6_key.bin").write_bytes(KEY)
        pwm = fs / "pwm.csv"
        master, slave = os.openpty()
        tty.setraw(slave)
        env = dict(
            os.environ,
            MICROPYPATH=f"{ROOT / 'device' / 'unix'}:{ROOT / 'device'}",
            PC6_FAKE_PWM_TRACE=str(pwm),
        )
        binary = Path(sys.executable).parent / "micropython"
        proc = subprocess.Popen(
            [str(binary), str(ROOT / "device" / "main.py")],
            stdin=master,
            stdout=master,
            cwd=fs,
            env=env,
        )
        os.close(master)
        offset = time.perf_counter() - time.time()  # PWM rows carry wall-clock ns

        def changes() -> list[tuple[float, int]]:
            rows = []
            if pwm.exists():
                for line in pwm.read_text().splitlines()[2:]:  # two rows at boot
                    t, _method, value = line.split(",")
                    rows.append((int(t) / 1e9 + offset, int(value)))
            return rows

        try:
            async with SerialLink(os.ttyname(slave), key=KEY) as link:
                await report(
                    "MicroPython firmware (unix port) on a pty", link, changes, max(50, count // 4)
                )
        finally:
            proc.kill()
            proc.wait()
            os.close(slave)


async def bench_ble(count: int) -> None:
    world = BumbleWorld()
    band = VirtualBand("vibration", key=KEY, plant=None)
    peripheral = await world.add_band(band)
    watched = Watched(band)
    link = BleLink(
        peripheral.address,
        backend=world.client_backend,
        security_check=bumble_security_check,
        key=KEY,
    )
    async with link:
        await report(
            "virtual band over simulated BLE (bleak on bumble)",
            link,
            lambda: watched.changes,
            count,
        )


async def bench_jittery_link(count: int) -> None:
    loop = asyncio.get_running_loop()
    band = VirtualBand("vibration", key=KEY, plant=None)
    watched = Watched(band, loop.time)
    link = MemoryLink(band, key=KEY, latency_s=0.03, jitter_s=0.10, seed=1, reply_timeout_s=2.0)
    async with link:
        await report(
            "virtual time, Pi-like BLE timing (30–130 ms per message, in order)",
            link,
            lambda: watched.changes,
            count,
            loop.time,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=400, help="latency samples per link")
    args = parser.parse_args()
    print(
        f"pc6band band links, {args.count} latency samples, PLAY of {EDGES} edges "
        f"{EDGE_MS} ms apart; protocol v{p.VERSION}"
    )
    asyncio.run(bench_pty(args.count))
    asyncio.run(bench_micropython(args.count))
    asyncio.run(bench_ble(args.count))
    run_virtual(bench_jittery_link(args.count))
    print(
        "note: bumble's in-process link has no radio timing; the last block adds Pi-like "
        "BLE write timing (FINDINGS.md: 80–130 ms per write with response) on virtual time."
    )


if __name__ == "__main__":
    main()
