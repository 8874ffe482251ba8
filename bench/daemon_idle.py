"""The daemon between sessions: idle CPU, wake-ups, RSS, and control-API round-trip latency.

Starts a real ``pc6 daemon`` (simulated backend, one session scheduled far from now, the
systemd watchdog on through a notify socket this script binds), lets it settle, then
measures over a window:

- CPU: utime + stime of the whole process from /proc (goal ≤ 0.05 % of one core);
- wake-ups: context switches of all its threads (voluntary + involuntary; goal ≤ 1/s);
- RSS: VmRSS (goal ≤ 45 MiB);
- latency: ``status`` round trips over one connection, then over a new connection each.

    python bench/daemon_idle.py [--seconds 30] [--requests 500]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CONFIG = """
timezone = "UTC"
require_clock_sync = false
[[schedule]]
at = "{at}"
profile = "fitting-test"
[journal]
path = "{tmp}/journal.sqlite"
[control]
socket = "{tmp}/ctl.sock"
"""


def proc_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks  # utime, stime


def switches(pid: int) -> int:
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        for line in (task / "status").read_text().splitlines():
            if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                total += int(line.split()[1])
    return total


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def wait_ready(notify: socket.socket, timeout: float = 30.0) -> None:
    notify.settimeout(timeout)
    while True:
        if notify.recv(4096).startswith(b"READY=1"):
            return


def round_trips(path: str, n: int, *, reconnect: bool) -> list[float]:
    times = []
    sock = None
    for _ in range(n):
        t0 = time.perf_counter()
        if sock is None:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.connect(path)
        sock.sendall(b'{"cmd": "status"}\n')
        data = b""
        while not data.endswith(b"\n"):
            data += sock.recv(65536)
        times.append(time.perf_counter() - t0)
        assert json.loads(data)["ok"]
        if reconnect:
            sock.close()
            sock = None
    if sock is not None:
        sock.close()
    return times


def summary(name: str, times: list[float]) -> str:
    ms = sorted(t * 1000 for t in times)
    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    return f"{name}: p50 {statistics.median(ms):.3f} ms, p99 {p99:.3f} ms, max {ms[-1]:.3f} ms"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="idle window")
    parser.add_argument("--requests", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pc6-bench-") as tmp:
        at = time.strftime("%H:%M", time.gmtime(time.time() + 6 * 3600))
        config = Path(tmp) / "pc6band.toml"
        config.write_text(CONFIG.format(at=at, tmp=tmp))
        notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        notify.bind(f"{tmp}/notify.sock")
        env = {
            **os.environ,
            "NOTIFY_SOCKET": f"{tmp}/notify.sock",
            "WATCHDOG_USEC": "60000000",
            "PC6_STATE_DIR": tmp,
        }
        daemon = subprocess.Popen(
            [sys.executable, "-m", "firmware_host.cli.main", "daemon", "--config", str(config)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_ready(notify)
            time.sleep(2.0)  # let start-up work (imports, first journal writes) finish
            cpu0, sw0, t0 = proc_cpu_s(daemon.pid), switches(daemon.pid), time.monotonic()
            time.sleep(args.seconds)
            cpu1, sw1, t1 = proc_cpu_s(daemon.pid), switches(daemon.pid), time.monotonic()
            rss = rss_mib(daemon.pid)
            span = t1 - t0
            print(
                f"pc6 daemon idle between sessions, {span:.0f} s window "
                f"(watchdog 60 s → ping every 30 s; config checked every 30 s)"
            )
            print(
                f"  CPU      {100 * (cpu1 - cpu0) / span:.4f} % of one core "
                f"(goal ≤ 0.05 %; /proc tick resolution {1000 / os.sysconf('SC_CLK_TCK'):.0f} ms)"
            )
            print(f"  wake-ups {(sw1 - sw0) / span:.3f} per second, all threads (goal ≤ 1)")
            print(f"  RSS      {rss:.1f} MiB (goal ≤ 45 MiB)")
            sock = f"{tmp}/ctl.sock"
            print(
                "  API "
                + summary(
                    "status, one connection", round_trips(sock, args.requests, reconnect=False)
                )
            )
            print(
                "  API "
                + summary(
                    "status, new connection each", round_trips(sock, args.requests, reconnect=True)
                )
            )
            print(f"  RSS after the API burst {rss_mib(daemon.pid):.1f} MiB")
        finally:
            daemon.send_signal(signal.SIGTERM)
            daemon.wait(timeout=30)
            notify.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
