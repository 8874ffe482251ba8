"""``pc6 profile check`` tells where the gate would reshape a valid profile."""

from __future__ import annotations

from firmware_host.drive.actuator import ActuatorKind
from firmware_host.guard.limits import limits_for
from firmware_host.guard.preview import gate_warnings
from firmware_host.plan.library import library_names, load_builtin
from firmware_host.plan.profile import parse_profile
from firmware_host.plan.timeline import compile_profile

HARSH = (
    'name = "harsh"\ndescription = "d"\nkinds = ["pressure", "vibration"]\n'
    '[[steps]]\nset = 0.8\nfor = "3m"\n[[steps]]\nrest = "10s"\n'
    '[[steps]]\nset = 0.5\nfor = "20s"\n[[steps]]\nrest = "5s"\n'
)


def test_harsh_pressure_profile_gets_three_warnings() -> None:
    tl = compile_profile(parse_profile(HARSH))
    notes = gate_warnings(tl, ActuatorKind.PRESSURE, limits_for(ActuatorKind.PRESSURE))
    assert len(notes) == 3
    assert "rises faster than 2/s" in notes[0]
    assert "over the 120 s continuous limit" in notes[1]
    assert "rest at 3m (10s) is shorter than the press before it (3m)" in notes[2]
    # Vibration has no rise limit, a 10-minute continuous limit and no rest rule.
    assert gate_warnings(tl, ActuatorKind.VIBRATION, limits_for(ActuatorKind.VIBRATION)) == []


def test_library_profiles_play_unchanged_by_the_gate() -> None:
    for name in library_names():
        profile = load_builtin(name)
        tl = compile_profile(profile)
        for kind in map(ActuatorKind, profile.kinds):
            assert gate_warnings(tl, kind, limits_for(kind)) == [], (name, kind)
