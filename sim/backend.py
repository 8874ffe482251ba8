"""Entry point of the ``sim`` backend (registered under ``pc6band.backends``)."""

from __future__ import annotations

import asyncio
from typing import Any

from firmware_host.drive.actuator import Backend
from firmware_host.drive.options import schema

from .actuator import SimActuator


def create(kind: str = "vibration", **options: Any) -> SimActuator:
    """A simulated actuator of ``kind`` on the running loop's clock.

    Its own record of what it was told is not kept row by row: a session's trace is the
    tap's, and a night of breakpoints must not pile up in memory.
    """
    options.setdefault("keep_trace", False)
    return SimActuator(kind, now=lambda: asyncio.get_running_loop().time(), **options)


#: What the ``sim`` entry point names: no options in a config file; always simulated.
BACKEND = Backend(
    create=create,
    check_options=schema("sim", {}),
    simulated=lambda options: True,
    summary="the simulator: plant models on the loop's clock; nothing physical moves",
)
