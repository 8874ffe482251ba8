"""Numbers too large for what they count, and Ctrl-C: one line, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PC6 = str(Path(sys.executable).parent / "pc6")


def _env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "HOME": str(tmp_path), "PC6_STATE_DIR": str(tmp_path / "state")}


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("log", "-n", "99999999999999999999"), "argument -n: must be from 1 to 1000000"),
        (("sim", "experiment", "--runs", "99999999999"), "--runs: must be from 1 to 100000"),
        (
            ("sim", "experiment", "--runs", "100000", "--nights", "3650"),
            "--runs × --nights: at most 20,000,000 simulated nights",
        ),
    ],
)
def test_a_huge_count_is_one_line_exit_2(
    tmp_path: Path, argv: tuple[str, ...], message: str
) -> None:
    run = subprocess.run(
        [PC6, *argv], capture_output=True, text=True, timeout=120, env=_env(tmp_path)
    )
    assert run.returncode == 2, run.stderr
    assert message in run.stderr and "Traceback" not in run.stderr
