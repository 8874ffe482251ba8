"""A step kind the reader knows but the compiler does not must fail loudly, not vanish."""

from __future__ import annotations

import dataclasses

import pytest

from firmware_host.plan.profile import parse_profile
from firmware_host.plan.timeline import compile_profile

PROFILE = """\
name = "t"
description = "test"
kinds = ["vibration"]
[[steps]]
ramp = 0.5
over = "5s"
[[steps]]
ramp = 0.0
over = "5s"
"""


@dataclasses.dataclass(frozen=True)
class Wobble:
    """A step kind a reader might grow before the compiler learns it."""

    level: float = 0.5


def test_an_unknown_step_kind_is_an_error_naming_it() -> None:
    profile = parse_profile(PROFILE)
    ramp_up, ramp_down = profile.steps
    # Straight into the compiler: the reader refuses kinds it does not know.
    odd = dataclasses.replace(profile, steps=(ramp_up, Wobble(), ramp_down))  # type: ignore[arg-type]
    with pytest.raises(AssertionError, match="Wobble"):
        compile_profile(odd)


def test_every_known_step_still_compiles() -> None:
    assert compile_profile(parse_profile(PROFILE)).duration_ms == 10_000
