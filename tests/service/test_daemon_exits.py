"""The real ``pc6 daemon`` as a child process: killed mid-session, and every signal it catches.

A session ended by SIGKILL (or a power cut, or the watchdog) used to record no on-time, so it
was never charged: with ``nightly_budget_s = 4``, four 3 s sessions with a SIGKILL each all
ran (12 s against 4 s). A running session now checkpoints its on-time in the journal, and the
next start closes it as "killed" with what it used. And SIGQUIT, SIGUSR1 and SIGUSR2 used to
kill the daemon with the motor on; they now stop it like SIGTERM.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from exit_testlib import FifoWatch, paired_sim_band, pin_line

PC6 = [sys.executable, "-m", "firmware_host.cli.main"]
THREE = """name = "three"
description = "three seconds on"
kinds = ["vibration"]
[[steps]]
set = 0.5
for = "3s"
[[steps]]
set = 0
for = "200ms"
"""
LONG = THREE.replace('"3s"', '"60s"').replace('"three"', '"long"')


def _home(tmp: Path, extra: str = "") -> Path:
    (tmp / "profiles").mkdir()
    (tmp / "profiles" / "three.toml").write_text(THREE)
    (tmp / "profiles" / "long.toml").write_text(LONG)
    config = tmp / "pc6band.toml"
    config.write_text(
        f"""require_clock_sync = false
{extra}
[profiles]
dirs = ["{tmp / "profiles"}"]
[journal]
path = "{tmp / "j.sqlite"}"
[control]
socket = "{tmp / "ctl.sock"}"
"""
    )
    return config


def _env(tmp: Path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "PC6_STATE_DIR": str(tmp / "state"),
        "PC6_CONFIG_DIR": str(tmp / "cfg"),
        "PYTHONUNBUFFERED": "1",
        **extra,
    }


def _daemon(tmp: Path, config: Path, **env: str) -> subprocess.Popen[str]:
    child = subprocess.Popen(
        [*PC6, "daemon", "--config", str(config)],
        env=_env(tmp, **env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while _ctl(tmp, config, "status").returncode != 0:  # until its socket answers
        assert child.poll() is None, child.communicate()
        assert time.monotonic() < deadline, "the daemon's socket never answered"
    return child


def _ctl(tmp: Path, config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*PC6, "ctl", "--config", str(config), *args],
        capture_output=True,
        text=True,
        env=_env(tmp),
        timeout=30,
    )


def _sessions(tmp: Path) -> list[tuple[float | None, float | None, str | None]]:
    db = sqlite3.connect(tmp / "j.sqlite")
    try:
        return db.execute("SELECT on_s, ended_at, reason FROM sessions ORDER BY id").fetchall()
    finally:
        db.close()


@pytest.mark.realtime
def test_a_killed_daemon_session_is_charged_and_reported_killed(tmp_path: Path) -> None:
    config = _home(tmp_path, "[limits.vibration]\nnightly_budget_s = 4\n")
    refused = 0
    for _ in range(4):
        daemon = _daemon(tmp_path, config)
        try:
            start = _ctl(tmp_path, config, "start", "three")
            if start.returncode != 0:
                assert "budget" in start.stdout + start.stderr, start
                refused += 1
                continue
            # Kill it once it has been on for 2 s (checkpointed), or once it ended by itself.
            deadline = time.monotonic() + 30
            while True:
                on_s, ended, _ = _sessions(tmp_path)[-1]
                if ended is not None or (on_s or 0) >= 2.0:
                    break
                assert time.monotonic() < deadline, _sessions(tmp_path)
        finally:
            daemon.kill()  # SIGKILL: no clean-up of any kind
            daemon.wait()
    sessions = _sessions(tmp_path)
    charged = sum(on or 0 for on, _, _ in sessions)
    assert refused >= 1  # before: all four ran
    assert charged <= 4.0 + 1.0  # at most one checkpoint interval beyond the budget
    # The next start closed the killed ones: the morning report names them, with minutes.
    report = subprocess.run(
        [*PC6, "log", "--config", str(config), "--night", "last"],
        capture_output=True,
        text=True,
        env=_env(tmp_path),
        timeout=30,
    )
    assert report.returncode == 0, report.stderr
    killed = [line for line in report.stdout.splitlines() if " killed " in line]
    assert killed and all("on      0s" not in line for line in killed), report.stdout


@pytest.mark.realtime
@pytest.mark.parametrize("sig", ["SIGTERM", "SIGINT", "SIGQUIT", "SIGUSR1", "SIGUSR2"])
def test_every_stop_signal_turns_the_daemons_output_off(tmp_path: Path, sig: str) -> None:
    config = _home(tmp_path, '[backend]\nname = "gpio"\nsim_pins = true\n')
    watch = FifoWatch(tmp_path / "pins.fifo", pin_line)
    daemon = _daemon(tmp_path, config, PC6_SIM_PINS_LOG=str(tmp_path / "pins.fifo"))
    try:
        assert daemon.stdout is not None
        assert "SIMULATED" in daemon.stdout.readline()  # gpio on mock pins says so too
        assert _ctl(tmp_path, config, "start", "long").returncode == 0
        watch.wait_for("GPIO13", lambda v: v > 0)
        daemon.send_signal(getattr(signal, sig))
        _, err = daemon.communicate(timeout=60)
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait()
        watch.drain()
        watch.close()
    assert daemon.returncode == 0, err
    assert "Traceback" not in err
    assert watch.last("GPIO13") == 0.0
    on_s, ended, reason = _sessions(tmp_path)[-1]
    assert ended is not None and reason == "stopped" and (on_s or 0) > 0


@pytest.mark.realtime
@pytest.mark.parametrize("sig", ["SIGTERM", "SIGINT", "SIGQUIT", "SIGUSR1", "SIGUSR2"])
def test_every_stop_signal_turns_a_bands_output_off(tmp_path: Path, sig: str) -> None:
    """The same over a band on a pty: the host turns the band off itself, not its lease."""
    with paired_sim_band(tmp_path, PC6, _env(tmp_path)) as (port, watch):
        config = _home(
            tmp_path, f'[backend]\nname = "serial"\nkind = "vibration"\nport = "{port}"\n'
        )
        daemon = _daemon(tmp_path, config)
        try:
            assert _ctl(tmp_path, config, "start", "long").returncode == 0
            watch.wait_for("band", lambda v: v > 0)
            daemon.send_signal(getattr(signal, sig))
            _, err = daemon.communicate(timeout=60)
        finally:
            if daemon.poll() is None:
                daemon.kill()
                daemon.wait()
        # Within a second: the band's own lease would end it only after 5 s.
        watch.wait_for("band", lambda v: v == 0.0, timeout=1.0)
    assert daemon.returncode == 0, err
    assert "Traceback" not in err
    on_s, ended, reason = _sessions(tmp_path)[-1]
    assert ended is not None and reason == "stopped" and (on_s or 0) > 0
