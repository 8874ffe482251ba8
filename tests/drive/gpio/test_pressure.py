"""The servo pad on mock pins: closed-loop step response against the pad model, each
injected fault releasing the pad in time with a reason a person understands."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from gpio_testlib import run_session, timeline_of
from pc6_sim.gpio_pins import GpioSim

from firmware_host.drive.gpio.backend import GpioPressure, create
from firmware_host.errors import ActuatorError, SafetyTrip
from firmware_host.guard.limits import limits_for

TICK = 0.002  # observation step of the tests (the controller runs at its own 200 Hz)


def pad_backend(**options: object) -> GpioPressure:
    actuator = create("pressure", sim_pins=True, sensor_channel=0, **options)
    assert isinstance(actuator, GpioPressure)
    return actuator


def pressure(sim: GpioSim) -> float:
    """True contact pressure, as a fraction of the level-1 press (6 kPa)."""
    assert sim.pad is not None
    return sim.pad.output(sim.factory.now())


async def record(sim: GpioSim, seconds: float) -> list[tuple[float, float]]:
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    rows = []
    while loop.time() - t0 < seconds - 1e-9:
        await asyncio.sleep(TICK)
        rows.append((loop.time() - t0, pressure(sim)))
    return rows


def settling(rows: list[tuple[float, float]], target: float, band: float = 0.05) -> float:
    """Time after which the pressure stays within ±band of the target."""
    outside = [t for t, p in rows if abs(p - target) > band * target]
    return max(outside, default=0.0)


@pytest.mark.parametrize(
    ("start", "target"),
    [
        (0.0, 0.2),
        (0.0, 0.5),
        (0.0, 0.8),
        (0.0, 1.0),
        (0.3, 0.5),
        (0.5, 0.6),
        (0.8, 0.3),
        (0.5, 0.4),
    ],
)
async def test_step_settles_within_300ms_without_overshoot(start: float, target: float) -> None:
    pad = pad_backend()
    await pad.open()
    if start:
        await pad.set_level(start, lease_s=3.0)
        await record(pad.sim, 0.5)
    await pad.set_level(target, lease_s=3.0)
    rows = await record(pad.sim, 1.0)
    assert settling(rows, target) <= 0.3, rows[::20]
    if target > start:  # overshoot presses into the wearer: at most 10 % of the step
        assert max(p for _, p in rows) - target <= 0.10 * (target - start)
    else:  # a brief dip on the way down is harmless; never back above the target
        assert target - min(p for _, p in rows) <= 0.10 * target
        assert max(p for t, p in rows if t > 0.3) <= target * 1.05
    await pad.close()


@pytest.mark.parametrize(("contact", "max_kpa"), [(0.27, 6.0), (0.33, 6.0), (0.3, 5.4), (0.3, 6.5)])
async def test_step_on_a_wrist_unlike_the_calibration(contact: float, max_kpa: float) -> None:
    """The feed-forward is off by up to ±10 %; the loop closes the gap without overshoot."""
    pad = pad_backend()
    assert pad.sim.pad is not None
    pad.sim.pad.contact, pad.sim.pad.max_kpa = contact, max_kpa
    pad.sim.sensor.full_kpa *= 1.0  # the sensor still reads true kPa
    await pad.open()
    await pad.set_level(0.5, lease_s=3.0)
    rows = await record(pad.sim, 1.0)
    # The wrist's level-1 pressure differs, but the sensor calibration defines the target:
    target_kpa = 0.5 * 6.0
    kpa = [(t, p * max_kpa) for t, p in rows]
    assert settling(kpa, target_kpa) <= 0.3, kpa[::20]
    assert max(p for _, p in kpa) <= target_kpa * 1.10
    await pad.close()


async def test_level_zero_releases_and_stops_the_loop() -> None:
    pad = pad_backend()
    await pad.open()
    await pad.set_level(0.6, lease_s=3.0)
    await record(pad.sim, 0.5)
    reads = pad.sim.factory.adc.reads
    await pad.set_level(0.0, lease_s=0.0)
    rows = await record(pad.sim, 0.5)
    assert rows[-1][1] == 0.0 and pad.sim.pad.travel == pytest.approx(0.0)
    assert settling(rows, 0.0, band=0) <= 0.15  # servo slew from 0.8 travel to contact
    assert pad.sim.factory.adc.reads == reads  # the loop is not running at rest
    await pad.close()


FAULTS: dict[str, tuple[Callable[[GpioSim], None], str]] = {
    "unplugged": (lambda sim: sim.unplug_sensor(), "reads 0 V: unplugged"),
    "stuck": (lambda sim: sim.stick_sensor(), "has not changed"),
    "slipped": (lambda sim: sim.slip_pad(), "no contact"),
    "pressed": (lambda sim: sim.press_wrist(5.0), "above the 125% ceiling"),
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
async def test_fault_releases_the_pad_within_100ms(fault: str) -> None:
    inject, reason = FAULTS[fault]
    pad = pad_backend()
    loop = asyncio.get_running_loop()
    faults: list[tuple[float, str]] = []
    pad.on_fault(lambda why: faults.append((loop.time(), why)))
    await pad.open()
    await pad.set_level(0.5, lease_s=3.0)
    await record(pad.sim, 1.0)
    t_fault = loop.time()
    inject(pad.sim)
    rows = await record(pad.sim, 0.3)
    assert len(faults) == 1 and reason in faults[0][1]
    assert faults[0][0] - t_fault <= 0.1  # detected, released (servo commanded) in time
    servo = pad.sim.pin(18)
    release_duty = 0.05  # 1 ms pulse in a 20 ms frame
    assert servo.history[-1][1] == pytest.approx(release_duty)
    # The pad leaves the skin once the servo has slewed back past the contact point.
    if fault in ("unplugged", "stuck"):
        assert settling(rows, 0.0, band=0) <= 0.1 + 0.45 / 6.0
    assert pad.level == 0.0
    await pad.close()


async def test_unplugged_sensor_refuses_to_open() -> None:
    pad = pad_backend()
    pad.sim.unplug_sensor()
    with pytest.raises(ActuatorError, match="unplugged"):
        await pad.open()
    assert pad.sim.pin(18).state == 0


async def test_fault_trips_the_gate_and_is_journaled() -> None:
    pad = pad_backend()
    timeline = timeline_of(
        '[[steps]]\nramp = 0.5\nover = "1s"\n[[steps]]\nhold = "20s"\n'
        '[[steps]]\nramp = 0.0\nover = "1s"\n',
        '["pressure"]',
    )

    async def slip(engine: object, gate: object, clock: object) -> None:
        await asyncio.sleep(5.0)
        pad.sim.slip_pad()

    session = await run_session(pad, timeline, during=slip)
    assert session.result is not None and session.result.reason == "tripped"
    assert "no contact" in session.result.detail
    assert ("trip", {"reason": session.result.detail}) in session.events
    assert pad.sim.pin(18).state == 0 and pad.sim.pad.travel == pytest.approx(0.0)
    with pytest.raises(SafetyTrip):
        await session.gate.command(0.5)


async def test_gate_rests_release_the_pad() -> None:
    """The gate duty-cycles pressure; during its forced rest the pad is off the wrist."""
    pad = pad_backend()
    limits = limits_for(pad.kind, {"max_continuous_on_s": 10.0})
    timeline = timeline_of(
        '[[steps]]\nramp = 0.5\nover = "1s"\n[[steps]]\nhold = "100s"\n'
        '[[steps]]\nramp = 0.0\nover = "1s"\n',
        '["pressure"]',
    )
    seen: list[tuple[float, float]] = []

    async def watch(engine: object, gate: object, clock: object) -> None:
        while True:
            await asyncio.sleep(0.5)
            seen.append((asyncio.get_running_loop().time(), pressure(pad.sim)))

    session = await run_session(pad, timeline, limits=limits, during=watch)
    assert session.result is not None
    t0 = seen[0][0] - 0.5
    pressing = [t - t0 for t, p in seen if p > 0.01]
    # Pressed from ~0.1 s to the 10 s cut-off, then at rest at least as long (60 s minimum).
    assert pressing and max(t for t in pressing if t < 30) <= 10.5
    assert not [t for t in pressing if 10.5 < t < 70.0]
    assert pad.sim.pin(18).state == 0


async def test_open_loop_pad_follows_the_calibration() -> None:
    pad = create("pressure", sim_pins=True, deadman_pin=24)
    assert isinstance(pad, GpioPressure)
    await pad.open()
    heartbeat = pad.sim.pin(24)
    await pad.set_level(0.5, lease_s=3.0)
    rows = await record(pad.sim, 0.5)
    assert rows[-1][1] == pytest.approx(0.5, rel=1e-6)  # the model matches the default fit
    toggles = len(heartbeat.history)
    assert toggles >= 0.5 * 50 - 2  # 50 Hz heartbeat for the hardware dead-man
    await pad.set_level(0.0, lease_s=0.0)
    await record(pad.sim, 0.5)
    assert len(heartbeat.history) <= toggles + 1 and heartbeat.state == 0
    await pad.close()
