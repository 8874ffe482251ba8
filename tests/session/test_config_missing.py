"""A ``--config FILE`` that does not exist is an error for every command, never the defaults."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

PC6 = [sys.executable, "-m", "firmware_host.cli.main"]

COMMANDS = [
    ["doctor", "--config", "typo.toml"],
    ["log", "--config", "typo.toml"],
    ["schedule", "--config", "typo.toml"],
    ["calibrate", "--config", "typo.toml", "--dry-run"],
    ["ctl", "--config", "typo.toml", "status"],
    ["daemon", "--config", "typo.toml"],
    ["sim", "night", "--config", "typo.toml"],
    ["config", "check", "typo.toml"],
    ["config", "show", "typo.toml"],
]


@pytest.mark.parametrize("argv", COMMANDS, ids=lambda a: " ".join(a[:2]))
def test_a_missing_explicit_config_is_one_line_and_exit_2(argv: list[str], tmp_path: Path) -> None:
    env = {
        **os.environ,
        "PC6_STATE_DIR": str(tmp_path / "state"),
        "XDG_CONFIG_HOME": str(tmp_path / "xdg"),
    }
    run = subprocess.run(
        [*PC6, *argv], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=60,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert run.returncode == 2, (run.stdout, run.stderr)
    assert run.stderr == "pc6: error: typo.toml: no such config file\n"
    assert "defaults" not in run.stdout and not (tmp_path / "state" / "journal.sqlite").exists()


def test_the_default_location_may_be_missing(tmp_path: Path) -> None:
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "xdg"), "PC6_STATE_DIR": str(tmp_path)}
    run = subprocess.run([*PC6, "schedule"], capture_output=True, text=True, env=env, timeout=60)
    assert run.returncode == 0 and "nothing scheduled" in run.stdout
