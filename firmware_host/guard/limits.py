"""Safety limits: hard ceilings in code, and the configurable limits that must stay below them.

The figures come from what is known about skin and nerves under load (FINDINGS.md):
capillaries close at about 32 mmHg, nerve blood flow suffers from 20–30 mmHg, tissue is
damaged after one to several hours of sustained load. So pressure is duty-cycled — a press
of at most a few minutes, a rest at least as long — and every non-zero output carries a
short lease (pressure ≤ 3 s, vibration ≤ 5 s) so that a dead host leaves the wrist quiet.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from typing import Any

from firmware_host.drive.actuator import ActuatorKind
from firmware_host.errors import ConfigError


@dataclass(frozen=True)
class Limits:
    """Per-actuator-kind limits the SafetyGate enforces.

    Attributes:
        max_level: ceiling on the output, 0–1 of the wearer's comfortable maximum.
        max_continuous_on_s: longest stretch of non-zero output before a forced rest.
        rest_ratio: after an on-stretch of T seconds, output stays 0 for ``rest_ratio * T``.
        max_rise_per_s: fastest allowed rise in level per second (soft start); inf = none.
        soft_stop_s: ramp-down time from full level when a person stops or pauses a session.
        max_session_s: longest session.
        nightly_budget_s: total non-zero output time per night.
        lease_s: lease attached to every non-zero command; refreshed at 75 %.
    """

    max_level: float
    max_continuous_on_s: float
    rest_ratio: float
    max_rise_per_s: float
    soft_stop_s: float
    max_session_s: float
    nightly_budget_s: float
    lease_s: float


#: Ceilings no configuration can raise. A config value above one is an error.
HARD_LIMITS: dict[ActuatorKind, Limits] = {
    ActuatorKind.PRESSURE: Limits(
        max_level=1.0,
        max_continuous_on_s=300.0,  # "a press of at most a few minutes"
        rest_ratio=1.0,  # a floor, not a ceiling: rest at least as long as the press
        max_rise_per_s=4.0,  # 0 → full press no faster than 0.25 s
        soft_stop_s=10.0,
        max_session_s=10 * 3600.0,
        nightly_budget_s=2 * 3600.0,
        lease_s=3.0,
    ),
    ActuatorKind.VIBRATION: Limits(
        max_level=1.0,
        max_continuous_on_s=3600.0,
        rest_ratio=0.0,
        max_rise_per_s=math.inf,  # the motor's own spin-up (50–180 ms) is the soft start
        soft_stop_s=10.0,
        max_session_s=10 * 3600.0,
        nightly_budget_s=8 * 3600.0,
        lease_s=5.0,
    ),
}

#: What a fresh install uses: well inside the ceilings.
DEFAULT_LIMITS: dict[ActuatorKind, Limits] = {
    ActuatorKind.PRESSURE: Limits(
        max_level=1.0,
        max_continuous_on_s=120.0,
        rest_ratio=1.0,
        max_rise_per_s=2.0,
        soft_stop_s=2.0,
        max_session_s=9 * 3600.0,
        nightly_budget_s=3600.0,
        lease_s=2.0,
    ),
    ActuatorKind.VIBRATION: Limits(
        max_level=1.0,
        max_continuous_on_s=600.0,
        rest_ratio=0.0,
        max_rise_per_s=math.inf,
        soft_stop_s=2.0,
        max_session_s=9 * 3600.0,
        nightly_budget_s=4 * 3600.0,
        lease_s=4.0,
    ),
}

# rest_ratio is the one limit whose hard value is a floor; the rest are ceilings.
_FLOORS = {"rest_ratio"}


def limits_for(
    kind: ActuatorKind, overrides: dict[str, Any] | None = None, *, section: str = "limits"
) -> Limits:
    """Defaults for ``kind`` with ``overrides`` applied and checked against the hard limits.

    Raises:
        ConfigError: an unknown key (with the likely intended one), a non-number, NaN, a
            negative value, or a value beyond the hard ceiling — naming ``section.key``.
    """
    base = DEFAULT_LIMITS[kind]
    if not overrides:
        return base
    known = {f.name for f in fields(Limits)}
    values: dict[str, float] = {}
    for key, raw in overrides.items():
        if key not in known:
            from difflib import get_close_matches

            hint = get_close_matches(key, known, n=1)
            extra = f"; did you mean {hint[0]!r}?" if hint else ""
            raise ConfigError(f"{section}.{key}: unknown limit{extra}")
        values[key] = _check_limit(kind, key, raw, section)
    return replace(base, **values)


def _check_limit(kind: ActuatorKind, key: str, raw: Any, section: str) -> float:
    name = f"{section}.{key}"
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise ConfigError(f"{name}: must be a number, got {raw!r}")
    value = float(raw)
    if math.isnan(value) or value < 0:
        raise ConfigError(f"{name}: must be a number ≥ 0, got {raw!r}")
    hard = getattr(HARD_LIMITS[kind], key)
    if key in _FLOORS:
        if value < hard:
            raise ConfigError(f"{name}: must be at least {hard:g} for {kind}, got {value:g}")
    elif value > hard:
        raise ConfigError(f"{name}: must be at most {hard:g} for {kind}, got {value:g}")
    if key in {"lease_s", "max_session_s", "max_continuous_on_s", "max_rise_per_s"} and value == 0:
        raise ConfigError(f"{name}: must be above 0")
    return value
