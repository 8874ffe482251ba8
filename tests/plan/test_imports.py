"""``pc6 profile import``: phone haptic patterns become profiles that play the same shape."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from firmware_host.plan.profile import load_profile
from firmware_host.plan.timeline import compile_profile

PC6 = [sys.executable, "-m", "firmware_host.cli.main"]


def _param(pid: str, value: float) -> dict[str, Any]:
    return {"ParameterID": pid, "ParameterValue": value}


AHAP = {
    "Version": 1.0,
    "Pattern": [
        {
            "Event": {
                "Time": 0.0,
                "EventType": "HapticTransient",
                "EventParameters": [
                    _param("HapticIntensity", 0.8),
                    _param("HapticSharpness", 0.4),
                ],
            }
        },
        {
            "Event": {
                "Time": 0.5,
                "EventType": "HapticContinuous",
                "EventDuration": 2.0,
                "EventParameters": [_param("HapticIntensity", 0.6)],
            }
        },
        {
            "ParameterCurve": {
                "ParameterID": "HapticIntensityControl",
                "Time": 0.5,
                "ParameterCurveControlPoints": [
                    {"Time": 0.0, "ParameterValue": 1.0},
                    {"Time": 1.0, "ParameterValue": 0.5},
                    {"Time": 2.0, "ParameterValue": 1.0},
                ],
            }
        },
        {"Event": {"Time": 3.0, "EventType": "HapticContinuous", "EventDuration": 40.0}},
    ],
}
AHAP_POINTS = [
    (0, 0.0), (0, 0.8), (100, 0.8), (100, 0.0),  # the transient: a 100 ms pulse
    (500, 0.0), (500, 0.6), (1500, 0.3), (2500, 0.6), (2500, 0.0),  # 0.6 × the curve
    (3000, 0.0), (3000, 1.0), (33000, 1.0), (33000, 0.0),  # 40 s clamped to 30 s
]  # fmt: skip

ANDROID = {"timings": [0, 200, 100, 300], "amplitudes": [0, 255, 0, 128], "repeat": -1}
ANDROID_POINTS = [
    (0, 0.0), (0, 1.0), (200, 1.0), (200, 0.0), (300, 0.0), (300, 0.502), (600, 0.502),
    (600, 0.0),
]  # fmt: skip

LOFELT = {
    "version": {"major": 1, "minor": 0, "patch": 0},
    "metadata": {"author": "test"},
    "signals": {
        "continuous": {
            "envelopes": {
                "amplitude": [
                    {"time": 0.0, "amplitude": 0.2},
                    {"time": 0.1, "amplitude": 0.3},
                    {
                        "time": 0.2,
                        "amplitude": 0.2,
                        "emphasis": {"amplitude": 0.6, "frequency": 0.7},
                    },
                    {"time": 0.3, "amplitude": 0.5},
                    {"time": 1.0, "amplitude": 0.5},
                ],
                "frequency": [
                    {"time": 0.0, "frequency": 0.5},
                    {"time": 0.5, "frequency": 0.9},
                    {"time": 1.0, "frequency": 0.2},
                ],
            }
        }
    },
}
LOFELT_POINTS = [
    (0, 0.0), (0, 0.2), (100, 0.3), (200, 0.2), (300, 0.5), (1000, 0.5), (1000, 0.0),
]  # fmt: skip

CASES = {
    "ahap": ("pattern.ahap", AHAP, AHAP_POINTS, ["HapticSharpness", "clamped to 30 s", "100 ms"]),
    "android": ("buzz.json", ANDROID, ANDROID_POINTS, []),
    "lofelt": ("clip.haptic", LOFELT, LOFELT_POINTS, ["1 emphasis", "frequency envelope (3"]),
}


def _pc6(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PC6_STATE_DIR": str(cwd / "state")}
    return subprocess.run(
        [*PC6, *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=120
    )


def _same(got: list[tuple[int, float]], want: list[tuple[int, float]]) -> bool:
    """Point by point: the same times, levels within a millionth (the trace's resolution)."""
    assert len(got) == len(want), (got, want)
    for (tg, vg), (tw, vw) in zip(got, want, strict=True):
        assert tg == tw and vg == pytest.approx(vw, abs=1e-6), (got, want)
    return True


@pytest.mark.parametrize("fmt", sorted(CASES))
def test_import_plays_the_same_shape_point_by_point(fmt: str, tmp_path: Path) -> None:
    filename, doc, points, unmapped = CASES[fmt]
    (tmp_path / filename).write_text(json.dumps(doc))
    run = _pc6(tmp_path, "profile", "import", filename, "-o", "out.toml")
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("wrote out.toml")
    for what in unmapped:  # named on the terminal and in the file, never dropped silently
        assert what in run.stderr
        assert what in (tmp_path / "out.toml").read_text()
    timeline = compile_profile(load_profile(tmp_path / "out.toml"))
    assert _same(list(timeline.points()), points)
    assert timeline.levels[-1] == 0
    assert _pc6(tmp_path, "profile", "check", "out.toml").returncode == 0
    # Played: the trace at the actuator has the same breakpoints.
    trace = tmp_path / "trace.csv"
    played = _pc6(tmp_path, "run", "out.toml", "--fast", "--trace", str(trace))
    assert played.returncode == 0, played.stderr
    with trace.open() as f:
        rows = [(round(float(t) * 1000), float(v)) for t, v in list(csv.reader(f))[1:]]
    assert _same(rows, points)


def test_android_repeat_index_loops_for_a_bounded_time_and_ends_at_0(tmp_path: Path) -> None:
    (tmp_path / "loop.json").write_text(json.dumps({**ANDROID, "repeat": 2}))
    run = _pc6(tmp_path, "profile", "import", "loop.json", "-o", "loop.toml")
    assert run.returncode == 0, run.stderr
    assert "loops from entry 2 forever on Android; imported as repeats for 1m" in run.stderr
    timeline = compile_profile(load_profile(tmp_path / "loop.toml"))
    pts = list(timeline.points())
    assert pts[:4] == [(0, 0.0), (0, 1.0), (200, 1.0), (200, 0.0)]
    # Then 100 ms off, 300 ms at 128/255, 150 times: one minute of the loop.
    for k in range(150):
        start = 200 + 400 * k
        assert (start + 100, 0.502) in pts and (start + 400, 0.502) in pts
    assert timeline.duration_ms == 200 + 150 * 400 and timeline.levels[-1] == 0


def test_import_to_stdout_and_no_overwrite(tmp_path: Path) -> None:
    (tmp_path / "clip.haptic").write_text(json.dumps(LOFELT))
    run = _pc6(tmp_path, "profile", "import", "clip.haptic")
    assert run.returncode == 0 and run.stdout.startswith("# Imported by `pc6 profile import`")
    (tmp_path / "taken.toml").write_text("keep me")
    again = _pc6(tmp_path, "profile", "import", "clip.haptic", "-o", "taken.toml")
    assert again.returncode == 2 and "exists" in again.stderr
    assert (tmp_path / "taken.toml").read_text() == "keep me"


def _broken_ahap() -> dict[str, Any]:
    doc = json.loads(json.dumps(AHAP))
    doc["Pattern"][1]["Event"]["EventDuration"] = "long"
    return doc


def _broken_lofelt() -> dict[str, Any]:
    doc = json.loads(json.dumps(LOFELT))
    del doc["signals"]["continuous"]["envelopes"]["amplitude"][1]["amplitude"]
    return doc


@pytest.mark.parametrize(
    ("filename", "text", "message"),
    [
        ("bad.ahap", json.dumps(_broken_ahap()),
         "bad.ahap: Pattern[1].Event.EventDuration: must be a number, got 'long'"),
        ("bad.json", json.dumps({**ANDROID, "amplitudes": [0, 255]}),
         "bad.json: amplitudes: has 2 entries; timings has 4"),
        ("bad.json", json.dumps({**ANDROID, "amplitudes": [0, 300, 0, 1]}),
         "bad.json: amplitudes[1]: must be from 0 to 255, got 300"),
        ("bad.haptic", json.dumps(_broken_lofelt()),
         "bad.haptic: signals.continuous.envelopes.amplitude[1].amplitude: missing required"),
        ("bad.ahap", '{"Pattern": [\n  {"Event": }\n]}', "bad.ahap:2: not valid JSON"),
        ("bad.json", json.dumps({"hello": 1}), "bad.json: not a known haptic format"),
    ],
)  # fmt: skip
def test_a_malformed_file_names_the_field_exit_2(
    filename: str, text: str, message: str, tmp_path: Path
) -> None:
    (tmp_path / filename).write_text(text)
    run = _pc6(tmp_path, "profile", "import", filename, "-o", "out.toml")
    assert run.returncode == 2
    assert run.stderr.startswith(f"pc6: error: {message}"), run.stderr
    assert run.stderr.count("\n") == 1 and not (tmp_path / "out.toml").exists()
