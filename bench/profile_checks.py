"""How long reading, refusing and previewing profiles takes (issue 11).

Prints: the time to refuse 100 and 246 nested repeats (they used to take seconds, or crash
with a RecursionError), to compile the 240-pulse modulated taper, and to compute the gate's
view (the real SafetyGate on virtual time) of every library profile on both kinds.
Run: ``.venv/bin/python bench/profile_checks.py``.
"""

from __future__ import annotations

import time

from firmware_host.drive.actuator import ActuatorKind
from firmware_host.errors import ProfileError
from firmware_host.guard.limits import limits_for
from firmware_host.guard.preview import gate_view
from firmware_host.plan.library import library_names, load_builtin
from firmware_host.plan.profile import parse_profile
from firmware_host.plan.timeline import compile_profile

TAPER = """name = "taper"
description = "0.5 to 0.1 over 240 pulses."
kinds = ["vibration"]
[[steps]]
pulses = 240
level = 0.5
on = "2s"
off = "3s"
modulate.level = [1.0, 0.2]
"""


def nested(depth: int) -> str:
    lines = ['name = "deep"', 'description = "d"', 'kinds = ["vibration"]']
    for d in range(1, depth + 1):
        lines += ["[[" + ".".join(["steps"] * d) + "]]", "repeat = 2"]
    lines += ["[[" + ".".join(["steps"] * (depth + 1)) + "]]", 'rest = "1s"']
    return "\n".join(lines) + "\n"


def best_ms(call, repeat: int = 5) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        call()
        times.append(time.perf_counter() - t)
    return min(times) * 1000


def refuse(text: str) -> None:
    try:
        parse_profile(text)
    except ProfileError:
        return
    raise AssertionError("not refused")


def main() -> None:
    for depth in (100, 246):
        text = nested(depth)
        took = best_ms(lambda t=text: refuse(t))
        print(f"refuse {depth} nested repeats ({len(text) / 1024:.0f} KiB): {took:.2f} ms")
    took = best_ms(lambda: compile_profile(parse_profile(TAPER)))
    print(f"compile the 240-pulse taper: {took:.1f} ms")
    for name in library_names():
        timeline = compile_profile(load_builtin(name))
        hours = timeline.duration_ms / 3.6e6
        for kind in ActuatorKind:
            took = best_ms(lambda k=kind, tl=timeline: gate_view(tl, k, limits_for(k)), repeat=3)
            print(f"gate view {name:<16} {kind:<9} {hours:5.2f} h: {took:7.1f} ms")


if __name__ == "__main__":
    main()
