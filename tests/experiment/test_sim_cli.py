"""``pc6 sim experiment``: the analysis checked against a known truth (the issue's targets)."""

from __future__ import annotations

import shlex
import subprocess
import sys

from firmware_host.experiment.simulate import Model, simulate

PC6 = [sys.executable, "-m", "firmware_host.cli.main"]


def _last(args: list[str]) -> tuple[float, float]:
    out = subprocess.run(PC6 + args, capture_output=True, text=True, check=True).stdout
    words = out.strip().splitlines()[-1].split()
    assert words[0] == "coverage" and words[2] == "rejection", out
    return float(words[1]), float(words[3])


def test_no_effect_keeps_coverage_and_the_false_alarm_rate() -> None:
    c, r = _last(shlex.split("sim experiment --runs 400 --nights 56 --effect 0 --sd 20 --seed 1"))
    assert 0.92 <= c <= 0.98
    assert r <= 0.075


def test_one_sd_effect_is_found_at_56_nights() -> None:
    c, r = _last(shlex.split("sim experiment --runs 400 --nights 56 --effect 20 --sd 20 --seed 1"))
    assert 0.92 <= c <= 0.98
    assert r >= 0.7


def test_autocorrelated_nights_keep_the_interval_honest() -> None:
    for effect, check in ((0, lambda r: r <= 0.075), (20, lambda r: r >= 0.7)):
        s = simulate(Model(effect=effect, sd=20, autocorr=0.3), runs=400, nights=56, seed=1)
        assert 0.92 <= s.coverage <= 0.98
        assert check(s.rejection)


def test_bad_simulation_options_exit_2() -> None:
    proc = subprocess.run(
        PC6 + shlex.split("sim experiment --nights 7"), capture_output=True, text=True
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "pc6: error: --nights: must be a positive multiple of 2"
    ]


def test_end_to_end_goes_through_the_daemon_journal_diary_and_analysis() -> None:
    args = shlex.split("sim experiment --runs 40 --nights 24 --effect 20 --sd 20 --end-to-end")
    proc = subprocess.run(PC6 + args, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "SIMULATED end to end: 24 sessions on virtual time, unblinding verified" in out
    assert "as delivered 24/24 sessions of the allocated arm ran to their end" in out
    assert "Difference (active − control)" in out
    assert out.strip().splitlines()[-1].startswith("coverage ")
