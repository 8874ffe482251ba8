"""docs/adding-a-backend.md, done as a builder would: its module and its one entry point,
installed beside pc6band, then a profile played on it through ``pc6 run``.

The module and the entry point are taken verbatim from the document's code blocks, so the
document cannot drift from what works. "Installed" is a ``.dist-info`` folder next to the
module on ``PYTHONPATH``: what ``pip install`` of the example's distribution leaves, and
what ``importlib.metadata`` reads for the registry. The sysfs PWM channel is a folder of
files standing in for ``/sys/class/pwm/pwmchip0`` (no kernel PWM here); its
``duty_cycle`` is a FIFO, so the test sees every duty the backend writes, as the pin would.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from daemon_testlib import write_config
from pwm_testlib import install_example

PC6 = str(Path(sys.executable).with_name("pc6"))
PROFILE = """name = "pwm-test"
description = "a short swell"
kinds = ["vibration"]
[[steps]]
ramp = 0.5
over = "1s"
[[steps]]
hold = "500ms"
[[steps]]
ramp = 0.0
over = "1s"
"""


class DutyWatch:
    """Every value written to a FIFO ``duty_cycle``, in order (a reader thread)."""

    def __init__(self, path: Path) -> None:
        os.mkfifo(path)
        self.path = path
        self.values: list[int] = []
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        while True:
            with open(self.path) as fifo:  # blocks until the backend opens it to write
                for line in fifo.read().split():
                    if line == "END":
                        return
                    self.values.append(int(line))

    def close(self) -> list[int]:
        with open(self.path, "w") as fifo:  # the reader is waiting in open(): wake it
            fifo.write("END\n")
        self.thread.join(timeout=10)
        return self.values


@pytest.mark.realtime
def test_the_documented_backend_plays_a_profile_through_pc6_run(tmp_path: Path, home: Path) -> None:
    install_example(tmp_path / "site")
    chip = tmp_path / "pwm" / "pwmchip0"
    (chip / "pwm0").mkdir(parents=True)
    for name in ("export", "pwm0/period", "pwm0/enable"):
        (chip / name).write_text("")
    duty = DutyWatch(chip / "pwm0" / "duty_cycle")
    profile = tmp_path / "pwm-test.toml"
    profile.write_text(PROFILE)
    env = dict(os.environ, PYTHONPATH=str(tmp_path / "site"))
    trace = tmp_path / "trace.csv"
    command = [PC6, "run", str(profile), "--backend", "sysfs-pwm", "-o", f"root={tmp_path / 'pwm'}"]
    run = subprocess.run(
        [*command, "--trace", str(trace), "--journal", str(tmp_path / "j.db")],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    written = duty.close()
    assert run.returncode == 0, run.stderr
    assert "SIMULATED" not in run.stdout  # it drives a real output; the registry says so
    # At the "pin": off before anything, up to half the period, and 0 at the end.
    assert written[0] == 0 and written[-1] == 0
    assert max(written) == 20_000  # level 0.5 of the 40 µs default period
    assert (chip / "pwm0" / "period").read_text() == "40000\n"
    assert (chip / "pwm0" / "enable").read_text() == "0\n"
    rows = [tuple(map(float, line.split(","))) for line in trace.read_text().splitlines()[1:]]
    assert max(level for _, level in rows) == pytest.approx(0.5) and rows[-1][1] == 0.0

    # The config file knows the new backend and its option schema, with no change in pc6band.
    good = write_config(home, f'[backend]\nname = "sysfs-pwm"\nroot = "{tmp_path / "pwm"}"\n')
    check = subprocess.run(
        [PC6, "config", "check", str(good)], capture_output=True, text=True, env=env
    )
    assert check.returncode == 0, check.stderr
    assert "backend sysfs-pwm/vibration" in check.stdout and "SIMULATED" not in check.stdout
    bad = write_config(home, '[backend]\nname = "sysfs-pwm"\nchanel = 1\n')
    check = subprocess.run(
        [PC6, "config", "check", str(bad)], capture_output=True, text=True, env=env
    )
    assert check.returncode == 2
    assert (
        "backend.chanel: not an option of the sysfs-pwm backend; did you mean 'channel'?"
        in check.stderr
    )
