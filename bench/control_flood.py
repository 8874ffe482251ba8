"""The control socket under a flood of idle clients: stop latency, daemon memory, log volume.

Starts `pc6 daemon` (simulated backend, the usual 1024 descriptors), connects CLIENTS
sockets that never write, holds them for HOLD_S seconds, and meanwhile runs
`pc6 ctl stop` (with a 30 s bound). Prints how long the stop took and how it ended, the
daemon's resident memory before and after, and how many bytes and lines it logged.

    .venv/bin/python bench/control_flood.py [CLIENTS] [HOLD_S] [SOURCE_TREE]

SOURCE_TREE runs the daemon and `pc6 ctl` from another checkout (e.g. a `git worktree` of
an older commit), to compare.
"""

from __future__ import annotations

import os
import resource
import socket
import struct
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


def rss_mib(pid: int) -> float:
    """Resident memory of ``pid`` in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def flood(path: str, clients: int) -> tuple[list[socket.socket], int]:
    """Connect up to ``clients`` idle sockets (each connect waits at most 2 s)."""
    crowd, failed = [], 0
    for _ in range(clients):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, struct.pack("ll", 2, 0))
        try:
            sock.connect(path)
            crowd.append(sock)
        except OSError as err:
            sock.close()
            failed += 1
            if failed == 1:
                print(f"first failed connect: {err}")
    return crowd, failed


def main() -> None:
    """Run the flood and print the figures."""
    clients = int(sys.argv[1]) if len(sys.argv) > 1 else 1030
    hold_s = float(sys.argv[2]) if len(sys.argv) > 2 else 10.0
    src = Path(sys.argv[3]).resolve() if len(sys.argv) > 3 else None
    pc6 = [sys.executable, "-m", "firmware_host.cli.main"] if src else [str(BIN / "pc6")]
    extra = {"PYTHONPATH": str(src)} if src else {}
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, clients + 500), hard))
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        (home / "pc6band.toml").write_text(CONFIG.format(home=home))
        log_path = home / "daemon.log"
        sock_path = home / "ctl.sock"
        with open(log_path, "w") as log:
            daemon = subprocess.Popen(
                [*pc6, "daemon", "--config", str(home / "pc6band.toml")],
                env=dict(os.environ, PC6_STATE_DIR=str(home), PC6_CONFIG_DIR=str(home), **extra),
                cwd=src,
                stdout=log,
                stderr=log,
                preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 1024)),
            )
        try:
            deadline = time.monotonic() + 60
            while not sock_path.exists():  # a bench, not a test: polling is fine here
                if time.monotonic() > deadline or daemon.poll() is not None:
                    raise SystemExit("the daemon did not start")
                time.sleep(0.05)
            rss_before = rss_mib(daemon.pid)
            start = time.monotonic()
            crowd, failed = flood(str(sock_path), clients)
            connected_s = time.monotonic() - start
            began = time.monotonic()
            try:
                stop = subprocess.run(
                    [*pc6, "ctl", "--socket", str(sock_path), "stop"],
                    env=dict(os.environ, **extra),
                    cwd=src,
                    capture_output=True,
                    text=True,
                    timeout=30,
                )
                outcome = f"exit {stop.returncode}: {(stop.stdout + stop.stderr).strip()[:100]}"
            except subprocess.TimeoutExpired:
                outcome = "no answer within 30 s"
            stop_s = time.monotonic() - began
            time.sleep(max(0.0, hold_s - (time.monotonic() - start)))
            rss_after = rss_mib(daemon.pid)
            for sock in crowd:
                sock.close()
        finally:
            daemon.terminate()
            daemon.wait(timeout=60)
        text = log_path.read_text(errors="replace")
        held = time.monotonic() - start
        print(f"{clients} idle clients ({len(crowd)} connected in {connected_s:.2f} s, "
              f"{failed} could not connect within 2 s); held {held:.1f} s")  # fmt: skip
        print(f"pc6 ctl stop under the flood: {stop_s * 1000:.0f} ms, {outcome}")
        print(f"daemon RSS: {rss_before:.1f} MiB before, {rss_after:.1f} MiB during the flood")
        print(f"daemon log: {len(text)} bytes, {len(text.splitlines())} lines "
              f"({text.count('accept')} mention accept)")  # fmt: skip


if __name__ == "__main__":
    main()
