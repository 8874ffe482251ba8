"""A small declarative option schema, for backends whose options are a few typed keys.

A backend with richer rules (the gpio backend's pins and calibration) writes its own
``check_options``; the simulator and the band links describe theirs with :func:`schema`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from difflib import get_close_matches
from typing import Any

from firmware_host.drive.actuator import ActuatorKind, OptionsCheck
from firmware_host.errors import ConfigError

Types = type | tuple[type, ...]
#: A number of seconds (or a count): finite and above 0.
POSITIVE = (int, float)


def schema(
    backend: str, types: Mapping[str, Types], *, required: tuple[str, ...] = ()
) -> OptionsCheck:
    """A ``check_options`` that accepts exactly ``types`` (key → Python type(s)).

    Numbers must be finite and above 0; booleans are never numbers; each key in
    ``required`` must be present and non-empty.
    """

    def check(kind: ActuatorKind, options: Mapping[str, Any]) -> dict[str, Any]:
        for key, value in options.items():
            if key not in types:
                hint = get_close_matches(key, list(types), n=1)
                extra = f"; did you mean {hint[0]!r}?" if hint else ""
                raise ConfigError(f"{key}: not an option of the {backend} backend{extra}")
            if isinstance(value, bool) or not isinstance(value, types[key]):
                raise ConfigError(f"{key}: wrong type, got {value!r}")
            if isinstance(value, int | float) and not (value > 0 and math.isfinite(value)):
                raise ConfigError(f"{key}: must be a number above 0, got {value!r}")
        for key in required:
            if not options.get(key):
                raise ConfigError(f"{key}: the {backend} backend needs it")
        return dict(options)

    return check
