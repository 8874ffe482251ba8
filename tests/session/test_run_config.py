"""``pc6 run`` as a builder uses it: the daemon's config, the budget, the dose, the trace file.

Each test here failed on the code before the session assembly (commit 254a9b3):
``pc6 run`` ignored the config, journaled the night's cumulative on-time as each run's own,
left the final ramp-down out of the dose, journaled ``--fast`` runs hours in the future and
charged them, and died with a traceback on a trace file it could not write.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

PC6 = [sys.executable, "-m", "firmware_host.cli.main"]
CONFIG = """
[calibration.vibration]
felt = 0.2
comfortable = 0.5
[limits.vibration]
max_level = 0.6
"""
FULL = """name = "full"
description = "full level for a second, then off"
kinds = ["vibration"]
[[steps]]
set = 1.0
for = "1s"
[[steps]]
set = 0
for = "100ms"
"""


def _env(tmp: Path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "PC6_STATE_DIR": str(tmp / "state"),
        "PC6_CONFIG_DIR": str(tmp / "cfg"),
        "PYTHONUNBUFFERED": "1",
        **extra,
    }


def _pc6(tmp: Path, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*PC6, *args], capture_output=True, text=True, env=_env(tmp, **extra), timeout=120
    )


def _rows(path: Path) -> list[tuple[float, float]]:
    lines = path.read_text().splitlines()
    assert lines[0] == "t_s,level"
    return [(float(a), float(b)) for a, b in (line.split(",") for line in lines[1:])]


def _integral(rows: list[tuple[float, float]]) -> float:
    return sum(
        (v0 + v1) / 2 * (t1 - t0) for (t0, v0), (t1, v1) in zip(rows, rows[1:], strict=False)
    )


def _max_duty(pins_log: Path, pin: str = "GPIO13") -> float:
    values = [
        float(v)
        for _, name, v, _ in (line.split() for line in pins_log.read_text().splitlines())
        if name == pin
    ]
    return max(values)


def _setup(tmp: Path, config: str = CONFIG) -> Path:
    (tmp / "cfg").mkdir(exist_ok=True)
    (tmp / "full.toml").write_text(FULL)
    path = tmp / "cfg" / "pc6band.toml"
    path.write_text(config)
    return path


def _gpio_run(tmp: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return _pc6(
        tmp,
        "run",
        str(tmp / "full.toml"),
        "--backend",
        "gpio",
        "--sim-pins",
        "--fast",
        "--trace",
        str(tmp / "t.csv"),
        *extra,
        PC6_SIM_PINS_LOG=str(tmp / "pins.log"),
    )


def test_run_applies_the_config_at_the_default_location(tmp_path: Path) -> None:
    """The wearer's calibration and lowered limit reach the pin, as under the daemon."""
    config = _setup(tmp_path)
    run = _gpio_run(tmp_path)
    assert run.returncode == 0, run.stderr
    assert f"config: {config}" in run.stdout
    assert max(v for _, v in _rows(tmp_path / "t.csv")) == pytest.approx(0.6)  # the limit
    # Level 0.6 of the wearer's range 0.2–0.5 is output 0.38; the motor's duty 0.25–1.0.
    assert _max_duty(tmp_path / "pins.log") == pytest.approx(0.25 + 0.75 * 0.38, abs=1e-4)


def test_run_reads_the_config_given_and_a_flag_only_lowers_a_limit(tmp_path: Path) -> None:
    _setup(tmp_path)
    other = tmp_path / "other.toml"
    other.write_text(CONFIG.replace("max_level = 0.6", "max_level = 0.8"))
    run = _gpio_run(tmp_path, "--config", str(other), "--max-level", "0.9")
    assert run.returncode == 0, run.stderr
    assert f"config: {other}" in run.stdout
    assert "--max-level 0.9 is above the config's limit (0.8)" in run.stdout
    assert max(v for _, v in _rows(tmp_path / "t.csv")) == pytest.approx(0.8)
    lower = _gpio_run(tmp_path, "--config", str(other), "--max-level", "0.3")
    assert lower.returncode == 0, lower.stderr
    assert max(v for _, v in _rows(tmp_path / "t.csv")) == pytest.approx(0.3)


def test_an_explicit_config_that_does_not_exist_is_refused(tmp_path: Path) -> None:
    _setup(tmp_path)
    run = _gpio_run(tmp_path, "--config", str(tmp_path / "nope.toml"))
    assert run.returncode == 2
    assert run.stderr.count("\n") == 1 and "Traceback" not in run.stderr
    assert "nope.toml: no such config file" in run.stderr
    assert not (tmp_path / "pins.log").exists()  # nothing was even created


def test_an_invalid_config_is_refused_naming_the_line(tmp_path: Path) -> None:
    _setup(tmp_path, CONFIG.replace("max_level = 0.6", "max_level = 3"))
    run = _gpio_run(tmp_path)
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert "pc6band.toml:6: limits.vibration.max_level" in run.stderr


def test_each_run_is_charged_its_own_on_time(tmp_path: Path) -> None:
    """Three runs of a 1 s profile: 1 s each, not the night's running total (1, 2, 4 s)."""
    _setup(tmp_path, "")
    for _ in range(3):
        run = _pc6(tmp_path, "run", str(tmp_path / "full.toml"))
        assert run.returncode == 0, run.stderr
    db = sqlite3.connect(tmp_path / "state" / "journal.sqlite")
    on = [v for (v,) in db.execute("SELECT on_s FROM sessions ORDER BY id")]
    assert on == [pytest.approx(1.0, abs=0.05)] * 3


def test_summary_and_journal_dose_equal_the_trace(tmp_path: Path) -> None:
    """The final ramp-down is in the dose (fitting-test: 4.475 left it out, 4.550 is true)."""
    trace = tmp_path / "t.csv"
    run = _pc6(
        tmp_path, "run", "fitting-test", "--kind", "vibration", "--fast", "--trace", str(trace)
    )
    assert run.returncode == 0, run.stderr
    integral = _integral(_rows(trace))
    said = float(re.search(r"dose ([0-9.]+) level·s", run.stdout).group(1))  # type: ignore[union-attr]
    assert said == pytest.approx(integral, abs=1e-3)
    db = sqlite3.connect(tmp_path / "state" / "journal.sqlite")
    (journaled,) = db.execute("SELECT dose FROM sessions").fetchone()
    assert journaled == pytest.approx(integral, abs=1e-6)


LONG_NIGHT = """name = "long-night"
description = "3 s on, then two quiet hours"
kinds = ["vibration"]
[[steps]]
set = 0.5
for = "3s"
[[steps]]
set = 0
for = "2h"
"""


def test_a_fast_run_is_not_a_night_and_not_charged(tmp_path: Path) -> None:
    """Two hours on virtual time: stamped now, not 2 h ahead; tonight's budget intact."""
    _setup(tmp_path, "[limits.vibration]\nnightly_budget_s = 4\n")
    (tmp_path / "long.toml").write_text(LONG_NIGHT)
    before = time.time()
    for _ in range(2):  # 6 s of output against a 4 s budget, were they charged
        fast = _pc6(tmp_path, "run", str(tmp_path / "long.toml"), "--fast")
        assert fast.returncode == 0, fast.stderr
    after = time.time()
    db = sqlite3.connect(tmp_path / "state" / "journal.sqlite")
    stamps = [at for (at,) in db.execute("SELECT at FROM events")]
    stamps += [t for row in db.execute("SELECT started_at, ended_at FROM sessions") for t in row]
    assert stamps and all(before - 1 <= t <= after + 1 for t in stamps)
    real = _pc6(tmp_path, "run", str(tmp_path / "full.toml"))
    assert real.returncode == 0, real.stderr  # not refused: the virtual night used nothing
    assert "session completed" in real.stdout
    report = _pc6(tmp_path, "log", "--night", "last")
    assert "long-night" not in report.stdout and "full" in report.stdout


@pytest.mark.parametrize("where", ["missing-folder", "dev-full", "read-only"])
def test_a_trace_that_cannot_be_written_is_refused_before_anything_moves(
    tmp_path: Path, where: str
) -> None:
    _setup(tmp_path, "")
    command = [*PC6, "run", str(tmp_path / "full.toml"), "--backend", "gpio", "--sim-pins"]
    if where == "missing-folder":
        target = tmp_path / "no" / "such" / "t.csv"
    elif where == "dev-full":
        target = Path("/dev/full")
    else:
        target = tmp_path / "ro" / "t.csv"
        (tmp_path / "ro").mkdir()
        # A real read-only filesystem, mounted in a private user and mount namespace.
        assert shutil.which("unshare"), "util-linux unshare is needed for this test"
        mount = f'mount -t tmpfs -o ro tmpfs {tmp_path / "ro"} && exec "$@"'
        command = ["unshare", "-rm", "sh", "-c", mount, "sh", *command]
    run = subprocess.run(
        [*command, "--trace", str(target)],
        capture_output=True,
        text=True,
        env=_env(tmp_path, PC6_SIM_PINS_LOG=str(tmp_path / "pins.log")),
        timeout=60,
    )
    assert run.returncode == 2, run.stderr
    assert run.stderr.count("\n") == 1 and "Traceback" not in run.stderr
    assert f"--trace {target}: cannot write" in run.stderr
    assert not (tmp_path / "pins.log").exists()  # no pin was claimed
    journal = tmp_path / "state" / "journal.sqlite"
    if journal.exists():
        db = sqlite3.connect(journal)
        assert db.execute("SELECT COUNT(*) FROM sessions").fetchone() == (0,)
