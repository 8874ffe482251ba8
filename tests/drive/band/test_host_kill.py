"""SIGKILL the host mid-session: the band's output is 0 within its lease, by itself."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from band_testlib import KEY, ROOT, MicroBand, until_sync

pytestmark = pytest.mark.realtime

LEASE_S = 0.6
SLACK_S = 0.25  # polling and process scheduling on a loaded 2-core CI machine


def start_host(port: str, *mode: str) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONPATH=f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    host = subprocess.Popen(
        [
            sys.executable,
            str(Path(__file__).with_name("band_host_session.py")),
            port,
            KEY.hex(),
            str(LEASE_S),
            *mode,
        ],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert host.stdout is not None
    assert host.stdout.readline().strip() == "on"
    return host


def kill(host: subprocess.Popen[str]) -> tuple[float, int]:
    """SIGKILL the host after two lease refreshes; return when (monotonic s, wall ns)."""
    assert host.stdout is not None
    for _ in range(2):
        assert host.stdout.readline().strip() == "refreshed"
    t_kill, wall_ns = time.monotonic(), time.time_ns()
    host.send_signal(signal.SIGKILL)
    host.wait()
    return t_kill, wall_ns


def test_virtual_band_on_pty_goes_quiet_after_host_sigkill(tmp_path: Path) -> None:
    trace = tmp_path / "trace.csv"
    key_file = tmp_path / "band.key"
    key_file.write_text(KEY.hex())
    env = dict(os.environ, PYTHONPATH=f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    band = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "firmware_host.cli.main",  # `pc6 sim band`, as a person runs it
            "sim",
            "band",
            "--serial",
            "--trace",
            str(trace),
            "--key-file",
            str(key_file),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    try:
        assert band.stdout is not None
        port = band.stdout.readline().strip()
        host = start_host(port)

        def rows() -> list[tuple[float, float]]:
            lines = trace.read_text().splitlines()
            assert lines[0] == "t_s,level"
            return [(float(t), float(v)) for t, v in (line.split(",") for line in lines[1:])]

        assert rows()[-1][1] == 1.0
        t_kill, _ = kill(host)
        until_sync(lambda: rows()[-1][1] == 0.0, LEASE_S + 1.0, "band output 0")
        took = time.monotonic() - t_kill
        t_on = [t for t, v in rows() if v == 1.0]
        assert took <= LEASE_S + SLACK_S
        assert rows()[-1][0] - t_on[0] > LEASE_S  # it was refreshed before the kill
    finally:
        band.send_signal(signal.SIGTERM)
        assert band.wait(timeout=5) == 0


def test_micropython_firmware_goes_quiet_after_host_sigkill(tmp_path: Path) -> None:
    band = MicroBand(tmp_path)
    try:
        host = start_host(band.path)
        until_sync(lambda: band.level() == 1.0, 1.0, "band on")
        _, wall_kill_ns = kill(host)
        until_sync(lambda: band.level() == 0.0, LEASE_S + 1.0, "band output 0")
        off_ns = band.rows()[-1][0]
        assert (off_ns - wall_kill_ns) / 1e9 <= LEASE_S + SLACK_S
    finally:
        band.close()


def test_micropython_firmware_goes_quiet_with_a_full_play_window_queued(tmp_path: Path) -> None:
    # The engine streams PLAY windows (a profile that never goes to 0 by itself): when the
    # host dies, the band still holds most of a lease of queued ramps, and cuts at its lease.
    band = MicroBand(tmp_path)
    try:
        host = start_host(band.path, "stream")
        until_sync(lambda: band.level() > 0.85, 2.0, "band on")
        _, wall_kill_ns = kill(host)
        until_sync(lambda: band.level() == 0.0, LEASE_S + 1.0, "band output 0")
        rows = band.rows()
        off_ns = rows[-1][0]
        assert (off_ns - wall_kill_ns) / 1e9 <= LEASE_S + SLACK_S
        on_ns = next(t for t, d in rows if d > 0)
        assert all(d > 0 for t, d in rows if on_ns <= t < off_ns)  # never off before the cut
    finally:
        band.close()
