"""The gate's view: what ``pc6 profile show --kind`` says is what ``pc6 run`` delivers."""

from __future__ import annotations

import csv
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from firmware_host.plan.library import library_names, load_builtin

PC6 = [sys.executable, "-m", "firmware_host.cli.main"]

PRESS_1HZ = """\
name = "press-1hz"
description = "Presses once a second for 108 s."
kinds = ["pressure", "vibration"]
[[steps]]
pulses = 108
level = 0.5
on = "500ms"
off = "500ms"
"""

INHALE_4_PRESS_6 = """\
name = "inhale-4-press-6"
description = "Breathe in 4 s, press for the 6 s exhale."
kinds = ["pressure", "vibration"]
[[steps]]
breathe = 10
inhale = "4s"
exhale = "6s"
level = 0.5
"""

HOLD_9H = """\
name = "hold-9h"
description = "A 9-hour continuous press."
kinds = ["pressure"]
[[steps]]
ramp = 0.5
over = "2s"
[[steps]]
hold = "9h"
[[steps]]
ramp = 0
over = "2s"
"""

CASES = [(name, kind) for name in library_names() for kind in ("vibration", "pressure")]


def _pc6(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PC6_STATE_DIR": str(tmp / "state")}
    return subprocess.run(
        [*PC6, *args], capture_output=True, text=True, env=env, timeout=180, check=False
    )


def _shown(out: str) -> dict[str, str]:
    """The 'delivered on KIND' column of ``profile show --kind``."""
    figures: dict[str, str] = {}
    for label in ("duration", "on-time", "dose", "peak"):
        m = re.search(rf"^  {label}\s+(.+?)\s{{2,}}(\S.*?)(?:   ← changed)?$", out, re.M)
        assert m, (label, out)
        figures[label] = m.group(2)
    return figures


def _trace(path: Path) -> list[tuple[float, float]]:
    with path.open() as f:
        return [(float(t), float(v)) for t, v in list(csv.reader(f))[1:]]


def _compare(tmp: Path, profile: str, kind: str) -> tuple[float, float]:
    """Run both; returns (dose shown as delivered, dose in the trace) after the checks."""
    show = _pc6(tmp, "profile", "show", profile, "--kind", kind)
    assert show.returncode == 0, show.stderr
    shown = _shown(show.stdout)
    trace = tmp / f"{kind}.csv"
    run = _pc6(tmp, "run", profile, "--fast", "--kind", kind, "--trace", str(trace))
    assert run.returncode == 0, run.stderr
    rows = _trace(trace)
    dose = sum(
        (v0 + v1) / 2 * (t1 - t0) for (t0, v0), (t1, v1) in zip(rows, rows[1:], strict=False)
    )
    shown_dose = float(shown["dose"].split()[0])
    assert shown_dose == pytest.approx(dose, rel=1e-3, abs=0.006), (profile, kind)
    assert float(shown["peak"]) == pytest.approx(max(v for _, v in rows), abs=0.006)
    duration_line = re.search(r"duration (\S+)", run.stdout)
    assert duration_line and shown["duration"] == duration_line.group(1)
    return shown_dose, dose


@pytest.mark.parametrize(("name", "kind"), CASES)
def test_show_kind_delivered_figures_equal_what_run_delivers(
    name: str, kind: str, tmp_path: Path
) -> None:
    if kind not in load_builtin(name).kinds:
        pytest.fail(f"{name} does not list {kind}")  # every library profile suits both
    _compare(tmp_path, name, kind)


@pytest.mark.parametrize(
    ("text", "requested", "delivered"),
    [(PRESS_1HZ, 27.0, 20.25), (INHALE_4_PRESS_6, 25.0, 20.9)],
)
def test_patterns_the_gate_reshapes_on_pressure_are_shown_as_delivered(
    text: str, requested: float, delivered: float, tmp_path: Path
) -> None:
    profile = tmp_path / "p.toml"
    profile.write_text(text)
    shown, _ = _compare(tmp_path, str(profile), "pressure")
    assert shown == pytest.approx(delivered, abs=0.05)
    show = _pc6(tmp_path, "profile", "show", str(profile), "--kind", "pressure").stdout
    assert re.search(rf"^  dose\s+{requested:.2f} level·s\s+\S+ level·s   ← changed$", show, re.M)
    assert "the safety gate changes it on pressure" in show
    assert "\ngate  " in show and "▲" in show  # the changes are marked on the plot
    # Without --kind the requested figures come with a pointer to the delivered ones.
    plain = _pc6(tmp_path, "profile", "show", str(profile)).stdout
    assert f"on pressure the safety gate changes it (dose {requested:.2f} →" in plain
    assert "on vibration: delivered as requested" in plain


def test_run_prints_the_gate_changes_before_it_starts_and_journals_them(
    tmp_path: Path,
) -> None:
    profile = tmp_path / "p.toml"
    profile.write_text(INHALE_4_PRESS_6)
    run = _pc6(tmp_path, "run", str(profile), "--fast", "--kind", "pressure")
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    changes = [i for i, line in enumerate(lines) if "the safety gate changes it" in line]
    started = next(i for i, line in enumerate(lines) if line.startswith("session "))
    assert changes and max(changes) < started
    assert any("presses held back" in lines[i] for i in changes)
    db = sqlite3.connect(tmp_path / "state" / "journal.sqlite")
    details = [d for (d,) in db.execute("SELECT detail FROM events WHERE kind = 'gate change'")]
    assert details and any("presses held back" in d for d in details)


def test_continuous_pressure_beyond_the_hard_ceiling_is_refused_before_anything_moves(
    tmp_path: Path,
) -> None:
    profile = tmp_path / "hold.toml"
    profile.write_text(HOLD_9H)
    trace = tmp_path / "t.csv"
    run = _pc6(tmp_path, "run", str(profile), "--fast", "--trace", str(trace))
    assert run.returncode == 2
    assert run.stderr.count("\n") == 1 and "Traceback" not in run.stderr
    assert f"{profile}: steps[1]: asks for 9h00m04s of continuous pressure" in run.stderr
    assert "hard ceiling of 5m" in run.stderr
    assert not trace.exists() and "SIMULATED" not in run.stdout  # nothing started
    assert not (tmp_path / "state" / "journal.sqlite").exists()
    check = _pc6(tmp_path, "profile", "check", str(profile))
    assert check.returncode == 2 and check.stdout.startswith("FAIL ")
    show = _pc6(tmp_path, "profile", "show", str(profile), "--kind", "pressure")
    assert show.returncode == 2 and "hard ceiling" in show.stderr
