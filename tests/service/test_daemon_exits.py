"""The real ``pc6 daemon`` as a child process: killed mid-session, and every signal it catches.

A session ended by SIGKILL (or a power cut, or the watchdog) used to record no on-time, so it
was never charged: with ``nightly_budget_s = 4``, four 3 s sessions with a SIGKILL each all
ran (12 s against 4 s). A running session now checkpoints its on-time in the journal, and the
next start closes it as "killed" with what it used. And SIGQUIT, SIGUSR1 and SIGUSR2 used to
kill the daemon with the motor on; they now stop it like SIGTERM.

Two more ways out: a bug (an exception) while a session plays, and the reader of the
daemon's stdout going away. Each is tested on mock gpio pins and on a paired band over a pty,
watched where the wearer feels it (the pin, the band's own output).
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from exit_testlib import (
    PC6,
    FifoWatch,
    buggy_pc6,
    journal_trace,
    paired_sim_band,
    pin_line,
)
from exit_testlib import child_env as _env
from exit_testlib import ctl_child as _ctl
from exit_testlib import daemon_child as _daemon

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
# On all the time but never still: a command every 0.5 s (where an injected bug can fire),
# and the output never at 0 until the end, so a 0 seen at the pin is the way out's own.
STAIRS = (
    'name = "stairs"\ndescription = "on for a minute, a step every half second"\n'
    'kinds = ["vibration"]\n'
    + "".join(f'[[steps]]\nset = {0.5 + 0.1 * (i % 2):g}\nfor = "500ms"\n' for i in range(120))
    + '[[steps]]\nset = 0\nfor = "200ms"\n'
)
GPIO = '[backend]\nname = "gpio"\nsim_pins = true\n'


def _home(tmp: Path, extra: str = "") -> Path:
    (tmp / "profiles").mkdir()
    (tmp / "profiles" / "three.toml").write_text(THREE)
    (tmp / "profiles" / "long.toml").write_text(LONG)
    (tmp / "profiles" / "stairs.toml").write_text(STAIRS)
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
def test_a_restarted_daemon_closes_the_session_a_crash_cut(tmp_path: Path) -> None:
    # The morning after a crash with no later session: the report must name the cut
    # session as killed, with its minutes, and count it (it stayed "running or killed").
    config = _home(tmp_path)
    daemon = _daemon(tmp_path, config)
    try:
        assert _ctl(tmp_path, config, "start", "long").returncode == 0
        deadline = time.monotonic() + 30
        while (_sessions(tmp_path)[-1][0] or 0) < 1.0:  # checkpointed on-time
            assert time.monotonic() < deadline, _sessions(tmp_path)
    finally:
        daemon.kill()  # SIGKILL: no clean-up of any kind
        daemon.wait()
    again = _daemon(tmp_path, config)
    try:
        assert _ctl(tmp_path, config, "status").returncode == 0  # up, nothing started
        on_s, ended, reason = _sessions(tmp_path)[-1]
        report = subprocess.run(
            [*PC6, "log", "--config", str(config), "--night", "last"],
            capture_output=True,
            text=True,
            env=_env(tmp_path),
            timeout=30,
        )
    finally:
        again.terminate()
        again.wait()
    assert len(_sessions(tmp_path)) == 1
    assert reason == "killed" and ended is not None and (on_s or 0) >= 1.0
    assert report.returncode == 0, report.stderr
    killed = [line for line in report.stdout.splitlines() if " killed " in line]
    assert len(killed) == 1 and "running or killed" not in report.stdout, report.stdout
    assert "interruptions: 1" in report.stdout, report.stdout


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


# -- a bug while a session plays ------------------------------------------------------------
#
# Where the bug is decides what the daemon can still vouch for:
# - in the session (the engine raises): the daemon's own loop is sound. The session ends
#   with the outputs off at once, journaled as a trip with what went wrong, and the daemon
#   stays up — its socket, status and watchdog keep working, so whoever looks in the
#   morning (or over SSH at once) sees why. The trip is latched, as every trip is: nothing
#   is understood about a bug, so nothing stimulates again tonight until a person has
#   looked (`pc6 ctl status`) and said so (`pc6 ctl reset`).
# - in the daemon's own loop: nothing it schedules can be trusted any more. It trips the
#   session off, latches the trip (kept in the journal, so systemd's Restart=on-failure
#   does not clear it), says so in one line and exits 1 for systemd to restart it.
BUG_IN = {
    "session": "firmware_host.play.engine:Engine._note_lateness",
    "daemon": "firmware_host.service.reloading:Settings.refresh",  # the periodic check
}
CHECK_EACH_SECOND = '[daemon]\ncheck_every = "1s"\n'  # the loop's periodic work, soon


def _status(tmp: Path, config: Path) -> dict[str, object]:
    reply = _ctl(tmp, config, "status", "--json")
    assert reply.returncode == 0, reply.stderr
    found: dict[str, object] = json.loads(reply.stdout)
    return found


def _until_tripped(tmp: Path, config: Path, daemon: subprocess.Popen[str]) -> dict[str, object]:
    """Ask the daemon until it shows a latched trip (each question paces the next)."""
    deadline = time.monotonic() + 60
    while not (status := _status(tmp, config)).get("trip"):
        assert daemon.poll() is None, daemon.communicate()
        assert time.monotonic() < deadline, status
    return status


def _bug_while_playing(
    tmp: Path, config: Path, where: str, watch: FifoWatch, output: str, **env: str
) -> tuple[int, str]:
    """Start ``stairs``, set the bug off once the output is on; returns (exit code, stderr)."""
    pc6 = buggy_pc6(sys.executable, BUG_IN[where])
    daemon = _daemon(tmp, config, pc6, PC6_TEST_BUG=str(tmp / "bug"), **env)
    try:
        assert _ctl(tmp, config, "start", "stairs").returncode == 0
        watch.wait_for(output, lambda v: v > 0)
        (tmp / "bug").touch()
        if where == "session":
            status = _until_tripped(tmp, config, daemon)
            assert "internal error" in str(status["trip"]), status
            refused = _ctl(tmp, config, "start", "stairs")  # latched: nothing starts again
            assert refused.returncode != 0 and "trip" in refused.stdout + refused.stderr
            daemon.send_signal(signal.SIGTERM)
        _, err = daemon.communicate(timeout=60)
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait()
    return daemon.returncode, err


def _check_bug_outcome(tmp: Path, where: str, code: int, err: str) -> None:
    assert code == (0 if where == "session" else 1), err
    assert "Traceback" not in err, err
    assert "internal error" in err and "injected bug" in err, err  # told, in one line
    on_s, ended, reason = _sessions(tmp)[-1]
    assert ended is not None and reason == "tripped" and (on_s or 0) > 0
    db = sqlite3.connect(tmp / "j.sqlite")
    try:
        sid, detail = db.execute("SELECT id, detail FROM sessions ORDER BY id DESC").fetchone()
        kept = db.execute("SELECT value FROM daemon_state WHERE key = 'trip'").fetchone()
    finally:
        db.close()
    assert "internal error" in detail and "injected bug" in detail, detail
    assert kept is not None and "injected bug" in kept[0]  # a restart keeps it latched
    rows = journal_trace(tmp / "j.sqlite", sid)
    assert rows[-1][1] == 0.0 and max(v for _, v in rows) > 0


@pytest.mark.realtime
@pytest.mark.parametrize("where", ["session", "daemon"])
def test_a_bug_while_a_session_plays_turns_the_pin_off(tmp_path: Path, where: str) -> None:
    config = _home(tmp_path, GPIO + CHECK_EACH_SECOND)
    watch = FifoWatch(tmp_path / "pins.fifo", pin_line)
    try:
        code, err = _bug_while_playing(
            tmp_path, config, where, watch, "GPIO13", PC6_SIM_PINS_LOG=str(tmp_path / "pins.fifo")
        )
        watch.drain()
    finally:
        watch.close()
    assert watch.last("GPIO13") == 0.0, watch.values["GPIO13"][-5:]
    _check_bug_outcome(tmp_path, where, code, err)


@pytest.mark.realtime
@pytest.mark.parametrize("where", ["session", "daemon"])
def test_a_bug_while_a_session_plays_turns_the_band_off(tmp_path: Path, where: str) -> None:
    with paired_sim_band(tmp_path, PC6, _env(tmp_path)) as (port, watch):
        backend = f'[backend]\nname = "serial"\nkind = "vibration"\nport = "{port}"\n'
        config = _home(tmp_path, backend + CHECK_EACH_SECOND)
        code, err = _bug_while_playing(tmp_path, config, where, watch, "band")
        # The host turned the band off itself: its own lease would end it only after 5 s.
        watch.wait_for("band", lambda v: v == 0.0, timeout=1.0)
    _check_bug_outcome(tmp_path, where, code, err)


# -- the reader of stdout goes away ---------------------------------------------------------
#
# `pc6 daemon --config … | head -1` over SSH, and the SSH session drops: the pipe's reader is
# gone and the daemon gets SIGHUP. A dropped terminal is no reason to end the wearer's night
# (the daemon is the night: `pc6 run` is the one that stops when its terminal goes), and
# SIGHUP is the daemon's "read the config again", by design. So the session plays on, the
# config is read again, nothing sprays tracebacks (a failed write, or logging's handleError,
# would print them to stderr), and the outputs go off only when a person stops it.


def _events(tmp: Path, kind: str) -> list[str]:
    db = sqlite3.connect(tmp / "j.sqlite")
    try:
        rows = db.execute("SELECT detail FROM events WHERE kind = ? ORDER BY id", (kind,))
        return [detail for (detail,) in rows.fetchall()]
    finally:
        db.close()


def _reader_gone_then_sighup(
    tmp: Path, config: Path, watch: FifoWatch, output: str, **env: str
) -> tuple[int, str]:
    """Start ``long`` with stdout's reader gone, SIGHUP it; returns (exit code, stderr)."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader went away before the daemon wrote a word
    try:
        daemon = _daemon(tmp, config, stdout=write_end, **env)
    finally:
        os.close(write_end)
    try:
        assert _ctl(tmp, config, "start", "long").returncode == 0
        watch.wait_for(output, lambda v: v > 0)
        config.write_text(config.read_text() + "# edited before the SSH session dropped\n")
        daemon.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 30
        while not any(d.startswith("loaded") for d in _events(tmp, "config")):
            assert daemon.poll() is None, daemon.communicate()
            assert time.monotonic() < deadline, "SIGHUP did not reload the config"
            assert _status(tmp, config)["state"] == "running"  # (paces the next look)
        status = _status(tmp, config)
        assert status["state"] == "running", status  # the night goes on
        watch.drain()
        assert watch.last(output) > 0  # still on where the wearer feels it
        daemon.send_signal(signal.SIGTERM)  # the person stops it
        _, err = daemon.communicate(timeout=60)
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait()
    return daemon.returncode, err


def _check_reader_gone(tmp: Path, code: int, err: str) -> None:
    assert code == 0, err
    for spray in ("Traceback", "Logging error", "Exception ignored"):
        assert spray not in err, err
    on_s, ended, reason = _sessions(tmp)[-1]
    assert ended is not None and reason == "stopped" and (on_s or 0) > 0
    assert len(_sessions(tmp)) == 1  # one session, played on through the SIGHUP


@pytest.mark.realtime
def test_the_night_goes_on_when_stdout_s_reader_goes_away_on_gpio(tmp_path: Path) -> None:
    config = _home(tmp_path, GPIO)
    watch = FifoWatch(tmp_path / "pins.fifo", pin_line)
    try:
        code, err = _reader_gone_then_sighup(
            tmp_path, config, watch, "GPIO13", PC6_SIM_PINS_LOG=str(tmp_path / "pins.fifo")
        )
        watch.drain()
    finally:
        watch.close()
    assert watch.last("GPIO13") == 0.0
    assert "banner not shown" in err  # SIMULATED went to stderr instead
    _check_reader_gone(tmp_path, code, err)


@pytest.mark.realtime
def test_the_night_goes_on_when_stdout_s_reader_goes_away_on_a_band(tmp_path: Path) -> None:
    with paired_sim_band(tmp_path, PC6, _env(tmp_path)) as (port, watch):
        backend = f'[backend]\nname = "serial"\nkind = "vibration"\nport = "{port}"\n'
        config = _home(tmp_path, backend)
        code, err = _reader_gone_then_sighup(tmp_path, config, watch, "band")
        watch.wait_for("band", lambda v: v == 0.0, timeout=1.0)
    _check_reader_gone(tmp_path, code, err)
