"""What a profile compiles to, and the figures a wearer reads before wearing it."""

from __future__ import annotations

import pytest

from firmware_host.plan.profile import parse_profile
from firmware_host.plan.timeline import compile_profile

HEAD = 'name = "t"\ndescription = "d"\nkinds = ["vibration"]\n'


def timeline(body: str, head: str = HEAD):
    return compile_profile(parse_profile(head + body))


def test_pulse_train_edges_on_integer_milliseconds() -> None:
    tl = timeline('[[steps]]\npulses = 3\nlevel = 0.5\non = "100ms"\noff = "233ms"\n')
    assert list(tl.points()) == [
        (0, 0.0),
        (0, 0.5),
        (100, 0.5),
        (100, 0.0),
        (333, 0.0),
        (333, 0.5),
        (433, 0.5),
        (433, 0.0),
        (666, 0.0),
        (666, 0.5),
        (766, 0.5),
        (766, 0.0),
        (999, 0.0),
    ]


def test_pulses_for_a_total_time_fit_whole_periods() -> None:
    tl = timeline('[[steps]]\npulses = "10s"\nlevel = 0.5\non = "1s"\noff = "2s"\n')
    assert tl.duration_ms == 9000  # three whole periods; a fourth would overrun
    assert tl.stats().on_ms == 3000


def test_ramps_holds_rests_and_eased_ramps() -> None:
    tl = timeline(
        '[[steps]]\nramp = 0.8\nover = "2s"\n[[steps]]\nhold = "1s"\n'
        '[[steps]]\nramp = 0\nover = "1s"\nease = "in-out"\n[[steps]]\nrest = "2s"\n'
    )
    assert tl.level_at(1000) == pytest.approx(0.4)
    assert tl.level_at(2500) == 0.8
    assert tl.level_at(3500) == pytest.approx(0.4, abs=0.01)  # smoothstep midpoint
    assert 0.75 < tl.level_at(3100) < 0.8  # eased: leaves the hold gently
    assert tl.duration_ms == 6000 and tl.levels[-1] == 0


def test_breathing_presses_on_the_exhale() -> None:
    tl = timeline(
        '[[steps]]\nbreathe = 2\ninhale = "4s"\nexhale = "6s"\nlevel = 0.5\n'
        'rise = "1s"\nfall = "1s"\n'
    )
    assert tl.level_at(2000) == 0  # inhaling
    assert tl.level_at(7000) == 0.5  # middle of the exhale
    assert tl.level_at(12000) == 0  # next inhale
    assert tl.duration_ms == 20_000


def test_envelope_points_interpolated_and_repeated() -> None:
    tl = timeline('[[steps]]\nenvelope = [[0, 0.0], ["1s", 0.6], ["2s", 0.0]]\ntimes = 3\n')
    assert tl.duration_ms == 6000
    assert tl.level_at(500) == pytest.approx(0.3)
    assert tl.level_at(3000) == pytest.approx(0.6)
    stepwise = timeline(
        '[[steps]]\nenvelope = [[0, 0.2], ["1s", 0.6], ["2s", 0.0]]\ninterpolate = "step"\n'
    )
    assert stepwise.level_at(999) == 0.2 and stepwise.level_at(1000) == 0.6


def test_nested_repeats_multiply() -> None:
    tl = timeline(
        "[[steps]]\nrepeat = 3\n[[steps.steps]]\nrepeat = 2\n"
        '[[steps.steps.steps]]\npulses = 2\nlevel = 0.4\non = "1s"\noff = "1s"\n'
        '[[steps.steps]]\nrest = "5s"\n'
    )
    assert tl.stats().on_ms == 3 * 2 * 2 * 1000
    assert tl.duration_ms == 3 * (2 * 4000 + 5000)


def test_jitter_is_bounded_and_the_same_file_compiles_the_same() -> None:
    body = '[[steps]]\npulses = 50\nlevel = 0.5\non = "1s"\noff = "1s"\n'
    a = timeline("[jitter]\ntime = 0.2\nlevel = 0.1\nseed = 4\n" + body)
    b = timeline("[jitter]\ntime = 0.2\nlevel = 0.1\nseed = 4\n" + body)
    c = timeline("[jitter]\ntime = 0.2\nlevel = 0.1\nseed = 5\n" + body)
    plain = timeline(body)
    assert a == b
    assert a != c
    assert a != plain
    levels = {v for v in a.levels if v > 0}
    assert len(levels) > 10 and all(0.45 <= v <= 0.55 for v in levels)
    gaps = [t1 - t0 for t0, t1 in zip(a.times_ms, a.times_ms[1:], strict=False) if t1 > t0]
    assert min(gaps) >= 800 and max(gaps) <= 1200


def test_stats() -> None:
    tl = timeline(
        '[[steps]]\nramp = 1.0\nover = "1s"\n[[steps]]\nhold = "2s"\n'
        '[[steps]]\nset = 0\nfor = "7s"\n'
    )
    s = tl.stats()
    assert s.duration_ms == 10_000
    assert s.on_ms == 3000 and s.duty == pytest.approx(0.3)
    assert s.dose == pytest.approx(0.5 + 2.0)
    assert s.peak == 1.0 and s.longest_on_ms == 3000
    assert s.steepest_rise_per_s == pytest.approx(1.0)
    assert sum(s.time_at_level_ms) == 3000 and s.time_at_level_ms[9] == 2100


def test_redundant_breakpoints_are_merged() -> None:
    tl = timeline(
        '[[steps]]\nramp = 0.5\nover = "1s"\n[[steps]]\nramp = 1.0\nover = "1s"\n'
        '[[steps]]\nhold = "1s"\n[[steps]]\nhold = "1s"\n[[steps]]\nset = 0\n'
        'for = "1s"\n'
    )
    assert list(tl.points()) == [(0, 0.0), (2000, 1.0), (4000, 1.0), (4000, 0.0), (5000, 0.0)]
