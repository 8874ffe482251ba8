"""Modulation: a curve over a step's whole length, played as a wearer gets it."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from firmware_host.errors import ProfileError
from firmware_host.plan.profile import parse_profile
from firmware_host.plan.timeline import compile_profile

PC6 = [sys.executable, "-m", "firmware_host.cli.main"]

TAPER = """\
name = "taper"
description = "0.5 to 0.1 over 240 pulses in 20 minutes."
kinds = ["vibration", "pressure"]

[[steps]]
pulses = 240
level = 0.5
on = "2s"
off = "3s"
modulate.level = [1.0, 0.2]
"""


def _pulses(rows: list[tuple[float, float]]) -> list[tuple[float, float, float]]:
    """(start s, end s, level) of each pulse in a trace of step edges."""
    out: list[tuple[float, float, float]] = []
    start: tuple[float, float] | None = None
    for (_, v0), (t1, v1) in zip(rows, rows[1:], strict=False):
        if start is None and v0 == 0 and v1 > 0:
            start = (t1, v1)
        elif start is not None and v0 > 0 and v1 == 0:
            out.append((start[0], t1, start[1]))
            start = None
    return out


def test_the_240_pulse_taper_plays_every_pulse_at_its_hand_computed_level_and_time(
    tmp_path: Path,
) -> None:
    profile = tmp_path / "taper.toml"
    profile.write_text(TAPER)
    trace = tmp_path / "taper.csv"
    env = {**os.environ, "PC6_STATE_DIR": str(tmp_path / "state")}
    run = subprocess.run(
        [*PC6, "run", str(profile), "--fast", "--trace", str(trace), "--kind", "vibration"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    with trace.open() as f:
        rows = [(float(t), float(v)) for t, v in list(csv.reader(f))[1:]]
    pulses = _pulses(rows)
    assert len(pulses) == 240
    for k, (start, end, level) in enumerate(pulses):
        # Pulse k starts at 5k s; the curve runs from ×1.0 at 0 to ×0.2 at 1200 s.
        expected = 0.5 * (1.0 - 0.8 * (5 * k) / 1200)
        assert start == pytest.approx(5 * k, abs=1e-6), k
        assert end == pytest.approx(5 * k + 2, abs=1e-6), k
        assert level == pytest.approx(expected, abs=1e-6), k
    assert pulses[-1][2] == pytest.approx(
        0.1 + 0.4 * 5 / 1200, abs=1e-6
    )  # the last pulse, 1195 s in
    assert rows[-1] == (1200.0, 0.0)


def test_a_modulated_repeat_with_soft_edges_keeps_its_shape_and_ends_at_0() -> None:
    timeline = compile_profile(
        parse_profile(
            TAPER.replace("pulses = 240", "pulses = 4").replace(
                'off = "3s"', 'off = "3s"\nrise = "1s"\nfall = "1s"'
            )
        )
    )
    # Each pulse: ramp up 1 s (its top scaled where it is reached), fall 1 s, rest 3 s.
    factor = [1.0 - 0.8 * t / 20 for t in (1, 6, 11, 16)]
    tops = [v for v in timeline.levels if v > 0]
    assert tops == pytest.approx([0.5 * f for f in factor])
    assert timeline.duration_ms == 20_000 and timeline.levels[-1] == 0


def test_pace_stretches_durations_along_the_curve() -> None:
    text = TAPER.replace("pulses = 240", "pulses = 3").replace(
        "modulate.level = [1.0, 0.2]", "modulate.pace = [1.0, 2.0]"
    )
    timeline = compile_profile(parse_profile(text))
    # Unpaced pulses start at 0, 5, 10 s of 15 s; each span × (1 + position).
    starts = [
        t
        for t, v, (_, prev) in zip(
            timeline.times_ms, timeline.levels, [(0, 0.0), *timeline.points()], strict=False
        )
        if v > 0 and prev == 0
    ]
    assert starts[0] == 0
    on0 = 2000
    off0 = round(3000 * (1 + 2 / 15))
    assert starts[1] == on0 + off0
    assert max(timeline.levels) == 0.5


def test_modulation_composes_with_repeats_and_seeded_jitter() -> None:
    text = """\
name = "swell"
description = "Nested, modulated twice, jittered."
kinds = ["vibration"]
[jitter]
time = 0.1
level = 0.05
seed = 3
[[steps]]
repeat = 4
modulate = { level = [[0, 0.4], [0.5, 1.0], [1, 0.4]], ease = "in-out" }
[[steps.steps]]
pulses = 3
level = 0.6
on = "1s"
off = "1s"
modulate.level = [1.0, 0.5]
"""
    a = compile_profile(parse_profile(text))
    b = compile_profile(parse_profile(text))
    assert a == b  # seeded: the same file plays the same way
    plain = compile_profile(
        parse_profile(
            text.replace(
                'modulate = { level = [[0, 0.4], [0.5, 1.0], [1, 0.4]], ease = "in-out" }', ""
            ).replace("modulate.level = [1.0, 0.5]", "")
        )
    )
    assert a.times_ms == plain.times_ms  # level curves move no edge
    assert max(a.levels) < max(plain.levels)  # and only ever lower a level
    assert all(x <= y + 1e-12 for x, y in zip(a.levels, plain.levels, strict=True))
    assert a.levels[-1] == 0


@pytest.mark.parametrize(
    ("modulate", "field", "reason"),
    [
        ("modulate.levle = [1.0, 0.2]", "steps[0].modulate.levle", "did you mean 'level'"),
        ("modulate.level = [1.0, 1.2]", "steps[0].modulate.level[1].factor", "from 0 to 1"),
        ("modulate.level = [1.0]", "steps[0].modulate.level", "[start, end]"),
        ("modulate.level = [[0, 1], [0.5, 0.2]]", "steps[0].modulate.level", "position 0"),
        ("modulate.pace = [1.0, 9]", "steps[0].modulate.pace[1].factor", "from 0.25 to 4"),
        (
            'modulate = { level = [1.0, 0.2], ease = "wobble" }',
            "steps[0].modulate.ease",
            "must be one of",
        ),
        ('modulate = "down"', "steps[0].modulate", "must be a table"),
    ],
)
def test_bad_modulation_names_file_line_field_and_reason(
    modulate: str, field: str, reason: str
) -> None:
    text = TAPER.replace("modulate.level = [1.0, 0.2]", modulate)
    with pytest.raises(ProfileError) as info:
        parse_profile(text, source="my.toml")
    err = info.value
    assert err.field == field and reason in err.reason
    assert err.line == 10 and str(err).startswith("my.toml:10: ")


def _nested(depth: int) -> str:
    lines = ['name = "deep"', 'description = "d"', 'kinds = ["vibration"]']
    for d in range(1, depth + 1):
        lines += ["[[" + ".".join(["steps"] * d) + "]]", "repeat = 2"]
    lines += ["[[" + ".".join(["steps"] * (depth + 1)) + "]]", 'rest = "1s"']
    return "\n".join(lines) + "\n"


def test_eight_nested_repeats_are_read_nine_are_refused() -> None:
    assert compile_profile(parse_profile(_nested(8))).duration_ms == 256_000
    with pytest.raises(ProfileError, match="nested 9 deep, more than the 8 allowed"):
        parse_profile(_nested(9))


def test_246_nested_repeats_exit_2_with_one_line_fast(tmp_path: Path) -> None:
    deep = tmp_path / "deep.toml"
    deep.write_text(_nested(246))
    started = time.perf_counter()
    run = subprocess.run([*PC6, "profile", "check", str(deep)], capture_output=True, text=True)
    assert run.returncode == 2
    assert run.stdout.strip().count("\n") == 0 and "Traceback" not in run.stderr
    assert f"{deep}:22: " in run.stdout and "more than the 8 allowed" in run.stdout
    # Refused before parsing: far below the seconds 100 levels used to take.
    assert time.perf_counter() - started < 10


def test_inline_nesting_too_deep_for_the_toml_parser_is_one_error() -> None:
    inner = "{rest = '1s'}"
    for _ in range(400):
        inner = "{repeat = 2, steps = [" + inner + "]}"
    text = 'name = "x"\ndescription = "d"\nkinds = ["vibration"]\nsteps = [' + inner + "]\n"
    with pytest.raises(ProfileError, match="nested"):
        parse_profile(text)
