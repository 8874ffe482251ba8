"""CPU, wake-ups and memory of a real-time ``pc6 run`` mid-session.

Starts ``pc6 run night-gentle`` (simulator, real time), lets it settle, then samples its
CPU time, context switches (a proxy for wake-ups) and RSS from /proc over a window.
Baseline side by side: a bare ``python -c 'import asyncio; asyncio.run(asyncio.sleep(1e9))'``.
Usage: python bench/run_idle.py [--window 20]
Goal (issue 2): RSS ≤ 45 MiB; idle CPU as close to 0 as the OS allows.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time


def sample(pid: int) -> tuple[float, int, float]:
    """(cpu seconds, voluntary context switches, RSS MiB) of a process."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) / ticks
    switches = rss = 0.0
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/status") as f:
            for line in f:
                if line.startswith("voluntary_ctxt_switches"):
                    switches += int(line.split()[1])
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS"):
                rss = int(line.split()[1]) / 1024
    return cpu, int(switches), rss


def measure(cmd: list[str], settle: float, window: float, env: dict[str, str]) -> None:
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        time.sleep(settle)  # a benchmark, not a test: let imports and start-up finish
        cpu0, sw0, _ = sample(proc.pid)
        t0 = time.monotonic()
        time.sleep(window)
        cpu1, sw1, rss = sample(proc.pid)
        elapsed = time.monotonic() - t0
        print(
            f"  CPU {100 * (cpu1 - cpu0) / elapsed:.3f} % of a core · "
            f"{(sw1 - sw0) / elapsed:.2f} wake-ups/s · RSS {rss:.1f} MiB"
        )
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--window", type=float, default=20.0)
    parser.add_argument("--settle", type=float, default=4.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as state:
        env = {**os.environ, "PC6_STATE_DIR": state}
        print("pc6 run night-gentle (simulator, real time, resting between pulse sets):")
        measure(
            [sys.executable, "-m", "firmware_host.cli.main", "run", "night-gentle"],
            args.settle,
            args.window,
            env,
        )
        print("pc6 run wind-down-20 (simulator, real time, pulsing every 5 s):")
        measure(
            [sys.executable, "-m", "firmware_host.cli.main", "run", "wind-down-20"],
            args.settle,
            args.window,
            env,
        )
        print("baseline: bare asyncio process sleeping:")
        measure(
            [sys.executable, "-c", "import asyncio; asyncio.run(asyncio.sleep(1e9))"],
            args.settle,
            args.window,
            env,
        )


if __name__ == "__main__":
    main()
