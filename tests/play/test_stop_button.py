"""The stop button: a press stops with a soft ramp, a long press trips everything off."""

from __future__ import annotations

import asyncio
from typing import Any

from gpio_testlib import run_session, timeline_of
from gpiozero.pins.mock import MockFactory

from firmware_host.drive.gpio.backend import create
from firmware_host.guard.gate import SafetyGate
from firmware_host.play.engine import Engine
from firmware_host.play.stop_button import attach_stop_button

PROFILE = (
    '[[steps]]\nramp = 0.8\nover = "1s"\n[[steps]]\nhold = "60s"\n'
    '[[steps]]\nramp = 0.0\nover = "1s"\n'
)
BUTTON = 17


async def test_press_stops_with_a_soft_ramp() -> None:
    buttons = MockFactory()
    vib = create("vibration", sim_pins=True, resolution=100)
    detached: list[Any] = []

    async def press(engine: Engine, gate: SafetyGate, clock: Any) -> None:
        detach = attach_stop_button(engine, gate, BUTTON, pin_factory=buttons)
        detached.append(detach)
        await asyncio.sleep(10.0)
        buttons.pin(BUTTON).drive_low()
        await asyncio.sleep(0.2)
        buttons.pin(BUTTON).drive_high()

    session = await run_session(vib, timeline_of(PROFILE), during=press)
    assert session.result is not None
    assert (session.result.reason, session.result.detail) == ("stopped", "stop button")
    assert session.gate.tripped is None
    # Soft stop: from 0.8 down over 0.8 × soft_stop_s (2 s) in steps, not a cut.
    pin = vib.sim.pin(13)
    t_press = pin.history[0][0] + 10.0
    ramp = [(t - t_press, d) for t, d in pin.history if t >= t_press - 1e-9]
    assert len(ramp) > 10 and ramp[-1][1] == 0.0
    assert 1.5 <= ramp[-1][0] <= 1.7
    detached[0]()
    detached[0]()  # twice is harmless
    assert buttons.pin(BUTTON).when_changed is None


async def test_long_press_trips_the_gate() -> None:
    buttons = MockFactory()
    pad = create("pressure", sim_pins=True, sensor_channel=0)

    loop = asyncio.get_running_loop()
    pressed_at: list[float] = []

    async def hold(engine: Engine, gate: SafetyGate, clock: Any) -> None:
        attach_stop_button(engine, gate, BUTTON, pin_factory=buttons, long_press_s=2.0)
        await asyncio.sleep(5.0)
        pressed_at.append(loop.time())
        buttons.pin(BUTTON).drive_low()  # and keeps holding it

    session = await run_session(pad, timeline_of(PROFILE, '["pressure"]'), during=hold)
    assert session.result is not None and session.result.detail == "stop button"
    # The press already stopped the session; holding on latches a trip.
    await asyncio.sleep(pressed_at[0] + 2.0 - loop.time() + 1e-3)
    assert session.gate.tripped == "stop button held"
    assert ("trip", {"reason": "stop button held"}) in session.events
    assert pad.sim.pin(18).state == 0 and pad.sim.pad.travel == 0.0


async def test_short_press_does_not_trip() -> None:
    buttons = MockFactory()
    vib = create("vibration", sim_pins=True)
    presses: list[int] = []

    async def tap(engine: Engine, gate: SafetyGate, clock: Any) -> None:
        attach_stop_button(engine, gate, BUTTON, pin_factory=buttons, long_press_s=2.0)
        await asyncio.sleep(5.0)
        buttons.pin(BUTTON).drive_low()
        await asyncio.sleep(1.9)
        buttons.pin(BUTTON).drive_high()
        await asyncio.sleep(5.0)
        presses.append(1)

    session = await run_session(vib, timeline_of(PROFILE), during=tap)
    assert session.gate.tripped is None
    assert session.result is not None and session.result.reason == "stopped"
