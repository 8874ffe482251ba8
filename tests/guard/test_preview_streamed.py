"""The preview ``pc6 run`` prints, found as the rows pass, says what the full gate view says.

``pc6 run`` no longer keeps the delivered rows to word what the gate changes
(``gate_preview``); ``pc6 profile show --kind`` still keeps them (``gate_view``). Both must
tell a wearer the same thing.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_host.drive.actuator import ActuatorKind
from firmware_host.guard.changes import Change, ChangeFinder
from firmware_host.guard.limits import limits_for
from firmware_host.guard.preview import _changes as reference_changes
from firmware_host.guard.preview import gate_preview, gate_view
from firmware_host.plan.library import library_names, load_builtin
from firmware_host.plan.profile import parse_profile
from firmware_host.plan.timeline import Timeline, compile_profile

PC6 = [sys.executable, "-m", "firmware_host.cli.main"]
PRESSURE = ActuatorKind.PRESSURE

# On pressure with --max-level 0.6: the presses rise slowed by the soft start, the second
# comes after too short a rest (held back), the ramp to 0.9 is cut at 0.6 (cut short), and
# the last press runs into the 120 s continuous limit (a limit event; the rest of it is held
# back).
ALL_CHANGES = """\
name = "all-changes"
description = "Every kind of change the gate makes, and a limit."
kinds = ["pressure", "vibration"]
[[steps]]
set = 0.5
for = "1m"
[[steps]]
rest = "10s"
[[steps]]
set = 0.5
for = "20s"
[[steps]]
rest = "2m"
[[steps]]
ramp = 0.9
over = "9s"
[[steps]]
ramp = 0
over = "1s"
[[steps]]
rest = "4m"
[[steps]]
set = 0.5
for = "3m"
[[steps]]
rest = "10s"
"""


def _both(timeline: Timeline, kind: ActuatorKind, max_level: float | None) -> list[str]:
    """The preview's lines, after checking they are the full view's."""
    limits = limits_for(kind)
    full = gate_view(timeline, kind, limits, max_level=max_level)
    streamed = gate_preview(timeline, kind, limits, max_level=max_level)
    assert streamed.summary() == full.summary()
    assert streamed.changed == full.changed
    return full.summary()


def test_a_profile_with_every_kind_of_change_is_worded_the_same() -> None:
    timeline = compile_profile(parse_profile(ALL_CHANGES))
    lines = _both(timeline, PRESSURE, 0.6)
    assert lines == [
        "pressure: 2 rises slowed by the soft-start limit, first at 0ms",
        "pressure: 2 presses held back (rest at least as long as the press before), first at 1m10s",
        "pressure: 1 stretches cut short or reshaped, first at 3m38s",
        "pressure: at 9m40s continuous on-time limit (120 s): resting 120 s",
    ]


@pytest.mark.parametrize("max_level", [None, 0.35])
@pytest.mark.parametrize("name", library_names())
def test_every_library_profile_is_worded_the_same(name: str, max_level: float | None) -> None:
    profile = load_builtin(name)
    timeline = compile_profile(profile)
    for kind in map(ActuatorKind, profile.kinds):
        _both(timeline, kind, max_level)


def test_the_stretches_found_as_rows_pass_are_those_of_the_whole_timelines() -> None:
    """Each change, not only the counts: fed the full view's rows one by one."""
    timeline = compile_profile(parse_profile(ALL_CHANGES))
    for max_level in (None, 0.6, 0.2):
        view = gate_view(timeline, PRESSURE, limits_for(PRESSURE), max_level=max_level)
        found: list[Change] = []
        finder = ChangeFinder(timeline, found.append)
        for t_ms, level in view.delivered.points():
            finder(t_ms / 1000, level)  # a trace sink: rows in seconds
        finder.close()
        assert found == list(view.changes), max_level
        assert len(found) >= 3


def test_pc6_run_prints_and_journals_the_full_views_lines(tmp_path: Path) -> None:
    profile = tmp_path / "all.toml"
    profile.write_text(ALL_CHANGES)
    env = {**os.environ, "PC6_STATE_DIR": str(tmp_path / "state")}
    run = subprocess.run(
        [*PC6, "run", str(profile), "--fast", "--kind", "pressure", "--max-level", "0.6"],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    prefix = "  the safety gate changes it — "
    printed = [line[len(prefix) :] for line in run.stdout.splitlines() if line.startswith(prefix)]
    timeline = compile_profile(parse_profile(ALL_CHANGES))
    expected = gate_view(timeline, PRESSURE, limits_for(PRESSURE), max_level=0.6).summary()
    assert printed == expected and len(expected) == 4
    db = sqlite3.connect(tmp_path / "state" / "journal.sqlite")
    journaled = [d for (d,) in db.execute("SELECT detail FROM events WHERE kind = 'gate change'")]
    assert journaled == expected


def _rows(draw: st.DrawFn, level: st.SearchStrategy[float]) -> list[tuple[int, float]]:
    """Breakpoints from 0 at 0: gaps of 0 (a step) to 3 ms, so stretches meet at every ms."""
    rows, t = [(0, 0.0)], 0
    for _ in range(draw(st.integers(1, 40))):
        t += draw(st.integers(0, 3))
        rows.append((t, draw(level)))
    return rows


@st.composite
def _pair(draw: st.DrawFn) -> tuple[Timeline, list[tuple[float, float]]]:
    levels = st.sampled_from([0.0, 0.3, 0.5, 1.0])
    req = _rows(draw, levels)
    req.append((req[-1][0] + draw(st.integers(1, 3)), 0.0))
    # Delivered rows in seconds, as the trace writes them: some fall between whole ms.
    got: list[tuple[float, float]] = []
    for t, v in _rows(draw, st.sampled_from([0.0, 0.3, 0.3005, 0.5, 1.0])):
        t_s = t / 1000 + draw(st.sampled_from([0, 0, 0.0004, 0.0006])) if got else 0.0
        got.append((max(t_s, got[-1][0]) if got else t_s, v))  # in time order, as a trace
    requested = Timeline(tuple(t for t, _ in req), tuple(v for _, v in req))
    return requested, got


@settings(max_examples=400, deadline=None)
@given(_pair())
def test_any_rows_give_the_stretches_of_the_whole_timelines(
    pair: tuple[Timeline, list[tuple[float, float]]],
) -> None:
    """Steps, ramps and rows between whole ms: the window never reads a level too soon."""
    requested, rows = pair
    found: list[Change] = []
    finder = ChangeFinder(requested, found.append)
    for t_s, level in rows:
        finder(t_s, level)
    finder.close()
    delivered = Timeline(tuple(round(t * 1000) for t, _ in rows), tuple(v for _, v in rows))
    assert found == reference_changes(requested, delivered)
