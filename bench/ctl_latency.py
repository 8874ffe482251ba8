"""How long `pc6 ctl status` takes end to end, beside a bare `python -c pass`.

Starts a real `pc6 daemon` on the simulated backend in a temporary folder, then runs each
command RUNS times as a fresh process (as a person typing it over SSH would) and prints
the best and the median wall time. The difference between the two rows is what pc6band
itself costs; the daemon's own answer is timed separately over one open connection.

    .venv/bin/python bench/ctl_latency.py [RUNS] [SOURCE_TREE]

SOURCE_TREE times `pc6 ctl` of another checkout (e.g. a `git worktree` of an older commit)
against the same daemon, run as `python -m firmware_host.cli.main` from that tree.
"""

from __future__ import annotations

import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent
CONFIG = """\
timezone = "UTC"
require_clock_sync = false
[journal]
path = "{home}/journal.sqlite"
[control]
socket = "{home}/ctl.sock"
"""


CPU: dict[int, list[float]] = {}


def _cpu_ms() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (usage.ru_utime + usage.ru_stime) * 1000


def timed(command: list[str], runs: int, **kwargs: object) -> list[float]:
    """Wall milliseconds of ``runs`` fresh runs of ``command`` (each must exit 0).

    The CPU milliseconds of the same runs (user + system, which a busy machine inflates far
    less than wall time) are kept in :data:`CPU` under the returned list's id.
    """
    out, cpu = [], []
    for _ in range(runs):
        start, cpu0 = time.perf_counter(), _cpu_ms()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, **kwargs)  # type: ignore[call-overload]
        out.append((time.perf_counter() - start) * 1000)
        cpu.append(_cpu_ms() - cpu0)
    CPU[id(out)] = cpu
    return out


def timed_in(src: Path, command: list[str], runs: int) -> list[float]:
    """:func:`timed`, importing firmware_host from the source tree ``src``."""
    return timed(command, runs, cwd=src, env=dict(os.environ, PYTHONPATH=str(src)))


def answer_ms(path: Path, runs: int) -> list[float]:
    """The daemon's reply time to `status` over one connection (no process start-up)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.connect(str(path))
        reader = sock.makefile("rb")
        out = []
        for _ in range(runs):
            start = time.perf_counter()
            sock.sendall(b'{"cmd": "status"}\n')
            reader.readline()
            out.append((time.perf_counter() - start) * 1000)
    return out


def row(name: str, ms: list[float]) -> str:
    """One printed line: best and median wall time, and median CPU time when known."""
    line = f"{name:<34} best {min(ms):6.1f} ms  median {statistics.median(ms):6.1f} ms"
    cpu = CPU.get(id(ms))
    return line + (f"  CPU median {statistics.median(cpu):6.1f} ms" if cpu else "")


def main() -> None:
    """Start the daemon, time everything, print the table."""
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        (home / "pc6band.toml").write_text(CONFIG.format(home=home))
        sock_path = home / "ctl.sock"
        env = dict(os.environ, PC6_STATE_DIR=str(home), PC6_CONFIG_DIR=str(home))
        daemon = subprocess.Popen(
            [str(BIN / "pc6"), "daemon", "--config", str(home / "pc6band.toml")],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 60
            while not sock_path.exists():  # a bench, not a test: polling is fine here
                if time.monotonic() > deadline or daemon.poll() is not None:
                    raise SystemExit("the daemon did not start")
                time.sleep(0.05)
            ctl = [str(BIN / "pc6"), "ctl", "--socket", str(sock_path), "status"]
            bare = timed([sys.executable, "-c", "pass"], runs)
            other = None
            if len(sys.argv) > 2:
                src = Path(sys.argv[2]).resolve()
                module = [sys.executable, "-m", "firmware_host.cli.main"]
                other = timed_in(src, [*module, "ctl", "--socket", str(sock_path), "status"], runs)
            full = timed(ctl, runs)
            by_config = [str(BIN / "pc6"), "ctl", "--config", str(home / "pc6band.toml"), "status"]
            configured = timed(by_config, runs)
            print(f"{runs} runs each, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}")
            print(row("python -c pass", bare))
            print(row("pc6 ctl --socket S status", full))
            print(row("pc6 ctl --config C status", configured))
            if other is not None:
                print(row(f"{Path(sys.argv[2]).name}: ctl --socket S status", other))
            print(
                f"{'pc6band cost (difference)':<34} best {min(full) - min(bare):6.1f} ms  "
                f"median {statistics.median(full) - statistics.median(bare):6.1f} ms"
            )
            print(row("daemon answer (one connection)", answer_ms(sock_path, runs * 5)))
        finally:
            daemon.terminate()
            daemon.wait(timeout=60)


if __name__ == "__main__":
    main()
