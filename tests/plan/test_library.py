"""The built-in library: present, valid, grounded, and played exactly on the simulator."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

from firmware_host.plan.library import library_names, load_builtin, resolve
from firmware_host.plan.timeline import compile_profile

EXPECTED = {
    "evening-pc6",
    "breathing-press",
    "wind-down-20",
    "sleep-onset",
    "night-gentle",
    "fitting-test",
}


def test_library_has_the_six_profiles_with_their_basis() -> None:
    assert set(library_names()) >= EXPECTED
    for name in library_names():
        profile = load_builtin(name)
        assert profile.name == name
        assert len(profile.description) > 40 and len(profile.basis) > 80


def test_profiles_match_what_they_promise() -> None:
    evening = compile_profile(load_builtin("evening-pc6")).stats()
    assert 60_000 <= evening.duration_ms <= 120_000  # a 1–2 minute self-massage
    assert compile_profile(load_builtin("wind-down-20")).stats().duration_ms <= 20 * 60_000
    onset = compile_profile(load_builtin("sleep-onset")).stats()
    assert onset.steepest_rise_per_s < 0.1  # never rises fast
    night = compile_profile(load_builtin("night-gentle")).stats()
    assert night.duration_ms > 7 * 3600_000 and night.duty < 0.1 and night.peak <= 0.3
    fitting = compile_profile(load_builtin("fitting-test")).stats()
    assert fitting.duration_ms < 60_000


def test_resolve_prefers_files(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_bytes((Path(__file__).parents[2] / "profiles" / "fitting-test.toml").read_bytes())
    assert resolve(str(path)).source == str(path)
    assert resolve("fitting-test").source == "profiles/fitting-test.toml"


def _run(args: list[str], tmp: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PC6_STATE_DIR": str(tmp / "state")}
    return subprocess.run(
        [sys.executable, "-m", "firmware_host.cli.main", "run", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def _read_trace(path: Path) -> list[tuple[float, float]]:
    with path.open() as f:
        reader = csv.reader(f)
        assert next(reader)[:2] == ["t_s", "level"]
        return [(float(r[0]), float(r[1])) for r in reader]


@pytest.mark.parametrize("kind", ["vibration", "pressure"])
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fast_run_trace_matches_timeline_exactly(name: str, kind: str, tmp_path: Path) -> None:
    trace = tmp_path / "trace.csv"
    run = _run([name, "--fast", "--kind", kind, "--trace", str(trace)], tmp_path)
    assert run.returncode == 0, run.stderr
    assert "SIMULATED" in run.stdout
    assert "session completed" in run.stdout
    rows = _read_trace(trace)
    expected = [(t / 1000, round(v, 6)) for t, v in compile_profile(load_builtin(name)).points()]
    assert rows == expected
    assert rows[-1][1] == 0


def test_max_level_clips_the_trace(tmp_path: Path) -> None:
    trace = tmp_path / "trace.csv"
    run = _run(["evening-pc6", "--fast", "--max-level", "0.4", "--trace", str(trace)], tmp_path)
    assert run.returncode == 0, run.stderr
    rows = _read_trace(trace)
    assert max(v for _, v in rows) == 0.4
    assert rows[-1][1] == 0
    # Clipping splits each ramp exactly where it crosses the ceiling.
    assert "peak 0.40" in run.stdout


def test_summary_line(tmp_path: Path) -> None:
    run = _run(["fitting-test", "--fast"], tmp_path)
    assert run.returncode == 0
    assert "duration 32.5s" in run.stdout and "largest timing error 0.000 ms" in run.stdout
    log = subprocess.run(
        [sys.executable, "-m", "firmware_host.cli.main", "log"],
        capture_output=True,
        text=True,
        env={**os.environ, "PC6_STATE_DIR": str(tmp_path / "state")},
    )
    assert "fitting-test" in log.stdout and "completed" in log.stdout and "SIM" in log.stdout
