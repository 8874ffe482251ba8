"""``pc6 run --backend gpio --sim-pins`` as a person runs it: the trace, and SIGTERM.

The pins of the child process are watched through ``PC6_SIM_PINS_LOG`` pointed at a FIFO:
every pin change arrives as a line the moment it happens, so the test waits on the pipe,
never on a sleep.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from firmware_host.cli import main as cli

PROFILE = """name = "gpio-term"
description = "long enough to be killed in the middle"
kinds = ["vibration", "pressure"]
[[steps]]
ramp = 0.5
over = "200ms"
[[steps]]
hold = "60s"
[[steps]]
ramp = 0.0
over = "200ms"
"""
SHORT = PROFILE.replace('"60s"', '"2s"')
PC6 = [
    sys.executable,
    "-c",
    "import sys; from firmware_host.cli.main import main; sys.exit(main())",
]


def test_trace_works_for_the_gpio_backend(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    profile = tmp_path / "short.toml"
    profile.write_text(SHORT)
    trace = tmp_path / "trace.csv"
    code = cli.main(
        [
            "run",
            str(profile),
            "--backend",
            "gpio",
            "--sim-pins",
            "--fast",
            "--trace",
            str(trace),
            "--journal",
            str(tmp_path / "j.db"),
        ]
    )
    assert code == 0
    assert "SIMULATED" in capsys.readouterr().out
    lines = trace.read_text().splitlines()
    assert lines[0] == "t_s,level"
    rows = [tuple(map(float, line.split(","))) for line in lines[1:]]
    assert rows[0] == (0.0, 0.0) and rows[-1][1] == 0.0
    assert max(level for _, level in rows) == pytest.approx(0.5)


class PinWatch:
    """Lines ``t pin value frequency`` from a child's PC6_SIM_PINS_LOG FIFO."""

    def __init__(self, path: Path) -> None:
        os.mkfifo(path)
        self.fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        self.buffer = b""
        self.states: dict[str, list[float]] = {}

    def read(self, until: float) -> bool:
        """Read what is there, waiting up to ``until``; False at end of file."""
        ready, _, _ = select.select([self.fd], [], [], max(0.0, until - time.monotonic()))
        if not ready:
            raise TimeoutError("no pin change from the child in time")
        chunk = os.read(self.fd, 65536)
        self.buffer += chunk
        *lines, self.buffer = self.buffer.split(b"\n")
        for line in lines:
            _, name, value, _ = line.decode().split()
            self.states.setdefault(name, []).append(float(value))
        return bool(chunk)

    def last(self, name: str) -> float:
        return self.states.get(name, [0.0])[-1]


@pytest.mark.parametrize(("kind", "pin"), [("vibration", "GPIO13"), ("pressure", "GPIO18")])
def test_sigterm_leaves_the_pin_at_zero(tmp_path: Path, kind: str, pin: str) -> None:
    profile = tmp_path / "term.toml"
    profile.write_text(PROFILE)
    watch = PinWatch(tmp_path / "pins.fifo")
    env = {
        **os.environ,
        "PC6_SIM_PINS_LOG": str(tmp_path / "pins.fifo"),
        "XDG_STATE_HOME": str(tmp_path),
    }
    child = subprocess.Popen(
        [
            *PC6,
            "run",
            str(profile),
            "--backend",
            "gpio",
            "--sim-pins",
            "--kind",
            kind,
            "--journal",
            str(tmp_path / "j.db"),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30.0
        # Wait for the output to be driven (vibration: duty; servo: a pressing pulse).
        while not watch.last(pin) > (0.06 if kind == "pressure" else 0.0):
            assert watch.read(deadline), child.communicate()
        child.send_signal(signal.SIGTERM)
        while watch.read(deadline):
            pass
        out, err = child.communicate(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        os.close(watch.fd)
    assert child.returncode == 0, err.decode()
    assert b"SIMULATED" in out
    assert watch.last(pin) == 0.0, watch.states[pin][-5:]
