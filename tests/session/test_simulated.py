""" "Is this simulated?" has one answer: the backend's own, the same before and during a session.

The daemon's banner and ``ctl status`` ask the registry (no actuator exists yet); a session
asks its actuator's capabilities. Before, four places answered it four ways, and ``gpio``
with ``sim_pins`` showed SIMULATED in ``ctl status`` but got no banner from ``pc6 daemon``
(that banner is checked on the real daemon in tests/service/test_daemon_exits.py).
"""

from __future__ import annotations

from typing import Any

import pytest

from firmware_host.drive.actuator import ActuatorKind, backend_is_simulated
from firmware_host.session.assembly import Overrides, Session, resolve
from firmware_host.session.config import Config

CASES: list[tuple[str, dict[str, Any], bool]] = [
    ("sim", {}, True),
    ("gpio", {"sim_pins": True}, True),
    ("gpio-sim", {}, True),
    ("gpio", {}, False),
]


@pytest.mark.parametrize(("name", "options", "simulated"), CASES)
async def test_the_registry_and_the_session_give_the_same_answer(
    name: str, options: dict[str, Any], simulated: bool
) -> None:
    from firmware_host.clock import LoopClock
    from firmware_host.plan.library import load_builtin
    from firmware_host.plan.timeline import compile_profile

    profile = load_builtin("fitting-test")
    setup = resolve(Config(), Overrides(backend=name, kind="vibration", backend_options=options))
    session = Session(setup, profile, compile_profile(profile), clock=LoopClock())
    assert session.simulated is simulated
    assert backend_is_simulated(name, options) is simulated
    assert session.backend.kind is ActuatorKind.VIBRATION
