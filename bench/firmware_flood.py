"""The real firmware playing a PLAY window, quiet and under a flood of hostile frames.

For each round, the band firmware (``device/main.py`` under the MicroPython unix port, on
a pty) is given the 32-ramp window of ``tests/device/test_micropython_play.py``; in the
flood rounds, generated hostile frames are written as fast as the firmware reads them from
the window's start until its lease has cut it. Prints, per case, the flood rate, the error
of the window's steps on the pin (the fake ``machine`` module's PWM trace, against the
window worked out from its steps) and how late the lease cut the output.

Run: ``python bench/firmware_flood.py [--rounds N]``
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "helpers")]

from band_testlib import MicroBand  # noqa: E402
from firmware_wire import (  # noqa: E402
    LEASE_MS,
    Window,
    Wire,
    flood_for,
    hostile_stream,
    pin_errors,
)
from pc6_device import protocol as p  # noqa: E402


def one_round(flood: bool) -> tuple[float, list[float]]:
    """One window on a fresh firmware; the flood rate (B/s, 0 when quiet) and step errors."""
    with tempfile.TemporaryDirectory() as tmp:
        band = MicroBand(Path(tmp))
        try:
            wire = Wire(band.slave)
            window = Window(wire)
            rate = 0.0
            if flood:
                seconds = (window.lease_end_ms - window.start_ms) / 1000 + 0.3
                rate = flood_for(wire, hostile_stream(window), seconds)
            wire.until(lambda m: m.type == p.FAULT, "lease expiry", LEASE_MS / 1000 + 2)
            return rate, pin_errors(window.path, band.rows(), window.start_ms)
        finally:
            band.close()


def pct(values: list[float], q: float) -> float:
    """The q-quantile (0–1) of values."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    """Print one line per case."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="windows per case (default 5)")
    args = parser.parse_args()
    for name, flood in (("quiet", False), ("flood", True)):
        rates, steps, cuts = [], [], []
        for _ in range(args.rounds):
            rate, errors = one_round(flood)
            rates.append(rate)
            steps += [abs(e) for e in errors[:-1]]
            cuts.append(errors[-1])
        rate = f"{min(rates) / 1000:.0f}-{max(rates) / 1000:.0f} kB/s" if flood else "none"
        print(
            f"{name}: {args.rounds} windows, hostile bytes {rate}; "
            f"step error on the pin p50 {pct(steps, 0.5):.1f} ms, max {max(steps):.1f} ms; "
            f"lease cut late by {min(cuts):.1f}..{max(cuts):.1f} ms"
        )


if __name__ == "__main__":
    main()
