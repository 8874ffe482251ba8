"""The vibration motor on mock pins: the duty history follows the timeline, and the motor
model follows the duty."""

from __future__ import annotations

import asyncio
from itertools import pairwise

import pytest
from gpio_testlib import run_session, timeline_of
from pc6_sim.gpio_pins import SimPinFactory

from firmware_host.drive.gpio.backend import GpioVibration, create
from firmware_host.errors import ActuatorError
from firmware_host.plan.timeline import Timeline

PROFILE = """
[[steps]]
ramp = 0.8
over = "1s"
[[steps]]
hold = "2s"
[[steps]]
ramp = 0.2
over = "600ms"
[[steps]]
rest = "1s"
[[steps]]
pulses = 3
level = 0.5
on = "500ms"
off = "500ms"
[[steps]]
rest = "1s"
"""


def _quant(level: float, resolution: int) -> int:
    return int(level * resolution + 0.5)


def expected_levels(timeline: Timeline, resolution: int) -> list[tuple[float, float]]:
    """The quantised level at each change, computed from the timeline's breakpoints alone.

    A ramp crosses level ``(j ± ½)/resolution`` where the rounded output changes.
    """
    out = [(0.0, 0.0)]
    for (t0, v0), (t1, v1) in pairwise(timeline.points()):
        if v0 == v1:
            continue
        a, b = _quant(v0, resolution), _quant(v1, resolution)
        if t1 == t0:
            out.append((t0 / 1000, b / resolution))
            continue
        up = b > a
        for j in range(a + 1, b + 1) if up else range(a - 1, b - 1, -1):
            edge = (j - 0.5 if up else j + 0.5) / resolution
            out.append(((t0 + (edge - v0) / (v1 - v0) * (t1 - t0)) / 1000, j / resolution))
    return out


@pytest.mark.parametrize("resolution", [20, 1000])
async def test_duty_history_matches_the_timeline(resolution: int) -> None:
    timeline = timeline_of(PROFILE)
    vib = create("vibration", sim_pins=True, resolution=resolution, min_duty=0.3, max_duty=0.9)
    assert isinstance(vib, GpioVibration)
    pin = vib.sim.pin(13)
    session = await run_session(vib, timeline)
    assert session.result is not None and session.result.reason == "completed"

    t_start = pin.history[0][0]
    actual = [(t - t_start, duty) for t, duty in pin.history]
    expected = [(t, vib.duty_for(level)) for t, level in expected_levels(timeline, resolution)]
    # Whole lists: a missing or extra change fails (gpiozero's assert_states would not).
    assert [d for _, d in actual] == [d for _, d in expected]
    assert all(abs(ta - te) < 5e-6 for (ta, _), (te, _) in zip(actual, expected, strict=True))
    assert pin.state == 0 and pin.frequency is None  # closed: no PWM, line low


async def test_motor_amplitude_follows_the_duty() -> None:
    vib = create("vibration", sim_pins=True, min_duty=0.3)
    assert isinstance(vib, GpioVibration)
    await vib.open()
    loop = asyncio.get_running_loop()
    await vib.set_level(0.5, lease_s=4.0)
    t0 = loop.time()
    await asyncio.sleep(0.115)
    spun = vib.sim.motor.output(loop.time())
    await asyncio.sleep(0.5)
    steady = vib.sim.motor.output(loop.time())
    assert steady == pytest.approx(vib.duty_for(0.5), rel=1e-3)
    assert 0.85 * steady < spun < steady  # spin-up lag: about 90 % after 115 ms
    await vib.off()
    await asyncio.sleep(0.5)
    assert vib.sim.motor.output(loop.time()) < 0.01
    assert loop.time() - t0 > 1.0
    await vib.close()


async def test_open_forces_the_pin_off_and_close_twice_is_harmless() -> None:
    factory = SimPinFactory()
    stale = factory.sim_pin(13)
    stale.function = "output"
    stale.state = 1  # left high by a previous process
    vib = create("vibration", sim_pins=True, pin_factory=factory, enable_pin=23)
    await vib.open()
    assert stale.state == 0 and factory.sim_pin(23).state == 0
    await vib.close()
    await vib.close()
    await vib.off()


async def test_enable_pin_is_high_only_while_driving() -> None:
    vib = create("vibration", sim_pins=True, enable_pin=23)
    assert isinstance(vib, GpioVibration)
    await vib.open()
    enable = vib.sim.pin(23)
    await vib.set_level(0.4, lease_s=4.0)
    assert enable.state == 1 and vib.sim.pin(13).state == pytest.approx(vib.duty_for(0.4))
    await asyncio.sleep(1.0)
    await vib.set_level(0.0, lease_s=0.0)
    assert enable.state == 0 and vib.sim.pin(13).state == 0
    assert [v for _, v in enable.history] == [0.0, 1.0, 0.0]
    await vib.close()


async def test_overdrive_kicks_then_settles() -> None:
    vib = create(
        "vibration", sim_pins=True, overdrive_s=0.03, overdrive_duty=1.0, min_duty=0.3, max_duty=0.8
    )
    assert isinstance(vib, GpioVibration)
    await vib.open()
    pin = vib.sim.pin(13)
    t0 = asyncio.get_running_loop().time()
    await vib.set_level(0.5, lease_s=4.0)
    await vib.set_level(0.6, lease_s=4.0)  # during the kick: no early settle
    await asyncio.sleep(0.1)
    await vib.set_level(0.7, lease_s=4.0)  # already spinning: no second kick
    rows = [(round(t - t0, 6), round(d, 6)) for t, d in pin.history[1:]]
    assert rows == [
        (0.0, 1.0),
        (0.03, round(vib.duty_for(0.6), 6)),
        (0.1, round(vib.duty_for(0.7), 6)),
    ]
    await vib.close()


async def test_local_lease_turns_the_motor_off_and_reports() -> None:
    vib = create("vibration", sim_pins=True)
    assert isinstance(vib, GpioVibration)
    faults: list[str] = []
    vib.on_fault(faults.append)
    await vib.open()
    for _ in range(4):  # refreshed in time: stays on
        await vib.set_level(0.5, lease_s=1.0)
        await asyncio.sleep(0.75)
    assert vib.sim.pin(13).state > 0 and not faults
    await asyncio.sleep(0.25 + 1e-3)  # one refresh missed
    assert vib.sim.pin(13).state == 0
    assert vib.lease_expiries == 1 and "lease expired" in faults[0]
    await vib.close()


async def test_lease_is_capped_at_five_seconds() -> None:
    vib = create("vibration", sim_pins=True)
    await vib.open()
    await vib.set_level(0.5, lease_s=60.0)
    await asyncio.sleep(5.001)
    assert vib.sim.pin(13).state == 0
    await vib.close()


async def test_stalled_motor_is_detected_and_turned_off() -> None:
    vib = create("vibration", sim_pins=True, current_channel=1)
    assert isinstance(vib, GpioVibration)
    faults: list[tuple[float, str]] = []
    loop = asyncio.get_running_loop()
    vib.on_fault(lambda reason: faults.append((loop.time(), reason)))
    await vib.open()
    for level in (0.3, 0.6, 1.0, 0.2, 0.6):  # spinning up, speeding up: not a stall
        await vib.set_level(level, lease_s=4.0)
        await asyncio.sleep(1.0)
    assert not faults
    stalled_at = loop.time()
    vib.sim.stall_motor()
    await asyncio.sleep(0.5)
    assert len(faults) == 1 and "motor stalled" in faults[0][1]
    assert faults[0][0] - stalled_at <= 0.1  # stall_s (80 ms) plus a sense period
    assert vib.sim.pin(13).state == 0
    await vib.close()


async def test_bad_levels_are_refused() -> None:
    vib = create("vibration", sim_pins=True)
    with pytest.raises(ActuatorError, match="not open"):
        await vib.set_level(0.5, lease_s=1.0)
    await vib.open()
    for bad in (1.5, -0.1, float("nan")):
        with pytest.raises(ActuatorError, match="out of range"):
            await vib.set_level(bad, lease_s=1.0)
    with pytest.raises(ActuatorError, match="needs a lease"):
        await vib.set_level(0.5, lease_s=0.0)
    assert vib.sim.pin(13).state == 0
    await vib.close()


async def test_motor_jammed_before_start_is_detected() -> None:
    vib = create("vibration", sim_pins=True, current_channel=1, overdrive_s=0.03)
    assert isinstance(vib, GpioVibration)
    faults: list[tuple[float, str]] = []
    loop = asyncio.get_running_loop()
    vib.on_fault(lambda reason: faults.append((loop.time(), reason)))
    await vib.open()
    vib.sim.stall_motor()
    started = loop.time()
    await vib.set_level(0.5, lease_s=4.0)
    await asyncio.sleep(0.5)
    assert len(faults) == 1 and "stalled" in faults[0][1]
    assert faults[0][0] - started <= 0.1
    assert vib.sim.pin(13).state == 0
    await vib.close()
