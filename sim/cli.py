"""The simulator's own commands under ``pc6 sim``: ``pc6 sim band`` (a virtual band on a pty).

Registered under the ``pc6band.sim_commands`` entry-point group, so the ``pc6`` command line
finds them without importing the simulator. Each entry point names a :class:`SimCommand`:
a one-line help and a ``main(argv) -> exit code`` that parses its own options (0 success,
1 the simulated part failed, 2 invalid input). Keep this module cheap to import.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from firmware_host.errors import InvalidInput, PC6Error


@dataclass(frozen=True)
class SimCommand:
    """One ``pc6 sim NAME`` command: its help line and its entry function."""

    help: str
    main: Callable[[list[str]], int]


class _Parser(argparse.ArgumentParser):
    """argparse that raises InvalidInput instead of exiting, so callers get exit code 2."""

    def error(self, message: str) -> Any:
        raise InvalidInput(f"{self.prog}: {message}")


def sim_band_main(argv: list[str]) -> int:
    """``pc6 sim band --serial [--kind K] [--trace FILE.csv] [--link PATH] [--key-file F]``.

    Prints the pty path alone on the first line, then serves until SIGTERM or SIGINT.
    """
    parser = _Parser(prog="pc6 sim band", description="a simulated band on a pseudo-terminal")
    parser.add_argument("--serial", action="store_true", help="serve on a pseudo-terminal")
    parser.add_argument("--kind", choices=["vibration", "pressure"], default="vibration")
    parser.add_argument("--trace", type=Path, help="CSV of the band's output (t_s,level)")
    parser.add_argument("--link", type=Path, help="also make a symlink to the pty here")
    parser.add_argument(
        "--key-file", type=Path, help="where the band keeps its pairing key (default: in memory)"
    )
    parser.add_argument("--ceiling", type=float, default=1.0, help="the band's own ceiling")
    try:
        args = parser.parse_args(argv)
        if not args.serial:
            raise InvalidInput(
                "pc6 sim band: only --serial is available here; the BLE band "
                "runs in-process (sim.bumble_backend)"
            )
        if not 0 < args.ceiling <= 1:
            raise InvalidInput("pc6 sim band: --ceiling must be above 0 and at most 1")
    except InvalidInput as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    import asyncio

    try:
        asyncio.run(_serve_sim_band(args))
    except InvalidInput as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except (PC6Error, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


async def _serve_sim_band(args: argparse.Namespace) -> None:
    import asyncio
    import signal

    from .band import PtyBand, VirtualBand

    trace = open(args.trace, "w", buffering=1) if args.trace else None  # noqa: SIM115
    try:
        band = VirtualBand(args.kind, key_file=args.key_file, trace=trace, ceiling=args.ceiling)
        pty = PtyBand(band, link=args.link)
        print(pty.start(), flush=True)
        print(
            f"simulated {args.kind} band (nothing physical moves); Ctrl-C stops it",
            file=sys.stderr,
            flush=True,
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        pty.close()
    finally:
        if trace is not None:
            trace.close()


BAND = SimCommand("a simulated band on a pty (pc6 sim band --help)", sim_band_main)
