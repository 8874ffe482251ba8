"""Every way out of ``pc6 calibrate`` that Python can catch turns the output off, at once.

SIGINT once and twice, SIGTERM, SIGHUP (an SSH drop; during calibration the service is
stopped, so its ExecStopPost=pc6-gpio-off does not run), SIGQUIT, SIGUSR1/2, the end of
stdin and the reader of stdout going away: each must leave the pin at duty 0, print one
line, exit promptly with a clean code and no traceback, without waiting for an Enter that
never comes (stdin stays open), and never save levels from an interrupted procedure.

Before, SIGTERM and SIGHUP killed it with the motor on (exit -15 / -1), and Ctrl-C gave a
KeyboardInterrupt traceback, the process ending only once stdin reached its end.

The real ``pc6 calibrate`` runs as a child on the gpio backend over mock pins; the pins
come through a FIFO (``PC6_SIM_PINS_LOG``), so the test waits on pipes, never on sleeps.
Saving is checked on the documented sysfs-pwm backend, the one here that is not simulated
(a simulated backend never saves at all).
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from daemon_testlib import write_config
from exit_testlib import FifoWatch, pin_line
from pwm_testlib import install_example, pwm_chip

PC6 = [sys.executable, "-m", "firmware_host.cli.main"]
SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2"]
WAYS = [*SIGNALS, "SIGINT-twice", "stdin-end", "stdout-closed"]
PIN = "GPIO13"  # the motor's PWM
REAL_LEVELS = "[calibration.vibration]\nfelt = 0.15\ncomfortable = 0.8\n"
# Waiting for a child that should be gone at once; only a hang reaches it.
HANG_S = 60.0


def _env(tmp: Path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "PC6_STATE_DIR": str(tmp / "state"),
        "PC6_CONFIG_DIR": str(tmp / "cfg"),
        "PYTHONUNBUFFERED": "1",
        **extra,
    }


def _expected(way: str) -> tuple[int, str]:
    """Exit code and the one line on stderr."""
    if way == "stdin-end":
        return 2, "pc6: error: calibration needs answers on a terminal (stdin closed)"
    why = {
        "SIGINT-twice": "SIGINT",
        "SIGHUP": "SIGHUP (the terminal or SSH session went away)",
        "stdout-closed": "stdout closed by its reader",
    }.get(way, way)
    return 1, f"pc6 calibrate: stopped: {why}; the output is off and nothing was saved"


def _act(child: subprocess.Popen[bytes], way: str, watch: FifoWatch, deadline: float) -> None:
    if way in SIGNALS:
        child.send_signal(getattr(signal, way))
    elif way == "SIGINT-twice":
        child.send_signal(signal.SIGINT)
        # The kernel merges a signal still pending: wait until the first one was acted on.
        watch.wait_for(PIN, lambda v: v == 0.0, timeout=deadline - time.monotonic())
        with contextlib.suppress(ProcessLookupError):  # gone already, as it should be soon
            child.send_signal(signal.SIGINT)
    elif way == "stdin-end":
        assert child.stdin is not None
        child.stdin.close()
        child.stdin = None
    elif way == "stdout-closed":
        assert child.stdout is not None
        child.stdout.close()  # the reader goes away (`pc6 calibrate | head -1`)
        child.stdout = None


def _finish(child: subprocess.Popen[bytes], watch: FifoWatch, deadline: float) -> str:
    """Wait for the child to end, reading the pins meanwhile; returns its stderr."""
    try:
        while child.poll() is None:
            try:
                watch.read(min(deadline, time.monotonic() + 0.5))
            except TimeoutError:
                if time.monotonic() > deadline:
                    raise AssertionError("pc6 calibrate did not exit") from None
        assert child.stderr is not None
        err = child.stderr.read().decode()
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        for stream in (child.stdin, child.stdout, child.stderr):
            if stream is not None:
                stream.close()
    watch.drain()
    return err


@pytest.mark.realtime
@pytest.mark.parametrize("way", WAYS)
def test_every_way_out_turns_the_pin_off(tmp_path: Path, home: Path, way: str) -> None:
    config = write_config(home, f'[backend]\nname = "gpio"\nsim_pins = true\n{REAL_LEVELS}')
    watch = FifoWatch(tmp_path / "pins.fifo", pin_line)
    child = subprocess.Popen(
        [*PC6, "calibrate", "--config", str(config)],
        env=_env(tmp_path, PC6_SIM_PINS_LOG=str(tmp_path / "pins.fifo")),
        stdin=subprocess.PIPE,  # open, and nobody ever presses Enter
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + HANG_S
    try:
        watch.wait_for(PIN, lambda v: v > 0.0)  # the first level is on the motor
        _act(child, way, watch, deadline)
        err = _finish(child, watch, deadline)
    finally:
        watch.close()
    assert watch.last(PIN) == 0.0, watch.values[PIN][-5:]
    code, line = _expected(way)
    assert "Traceback" not in err, err
    assert err.strip().splitlines()[-1:] == [line], err
    assert child.returncode == code, err


def _read_until(child: subprocess.Popen[bytes], text: str, seen: list[str]) -> None:
    """Read the child's stdout until a new line holds ``text``; lines go to ``seen``."""
    assert child.stdout is not None
    fd = child.stdout.fileno()
    deadline = time.monotonic() + HANG_S
    buffer = b""
    start = len(seen)
    while not any(text in line for line in seen[start:]):
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        assert ready, f"no {text!r} from pc6 calibrate: {seen}"
        chunk = os.read(fd, 4096)
        assert chunk, f"pc6 calibrate ended before {text!r}: {seen}"
        buffer += chunk
        *lines, buffer = buffer.split(b"\n")
        seen += [line.decode() for line in lines]


@pytest.mark.realtime
@pytest.mark.parametrize("way", ["SIGTERM", "SIGHUP", "SIGINT"])
def test_an_interrupted_calibration_saves_nothing(tmp_path: Path, home: Path, way: str) -> None:
    install_example(tmp_path / "site")
    channel = pwm_chip(tmp_path / "pwm")
    config = write_config(
        home, f'[backend]\nname = "sysfs-pwm"\nroot = "{tmp_path / "pwm"}"\n{REAL_LEVELS}'
    )
    before = config.read_bytes()
    child = subprocess.Popen(
        [*PC6, "calibrate", "--config", str(config)],
        env=_env(tmp_path, PYTHONPATH=str(tmp_path / "site")),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert child.stdin is not None
    seen: list[str] = []
    try:
        # Part 1 done (felt at the first level, not at the half step below), then the
        # procedure is cut in part 2, with a felt level already found and not yet saved.
        _read_until(child, "level 0.050", seen)
        child.stdin.write(b"\n")
        child.stdin.flush()
        _read_until(child, "Part 2", seen)
        _read_until(child, "level ", seen)  # part 2's first level, on
        child.send_signal(getattr(signal, way))
        child.wait(timeout=HANG_S)  # stdin stays open: nobody answers any more
        assert child.stderr is not None
        err = child.stderr.read()
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        for stream in (child.stdin, child.stdout, child.stderr):
            if stream is not None:
                stream.close()
    assert child.returncode == 1, err
    assert "Traceback" not in err.decode()
    assert "nothing was saved" in err.decode()
    assert config.read_bytes() == before
    assert (channel / "duty_cycle").read_text() == "0\n"
    assert (channel / "enable").read_text() == "0\n"
