"""Whatever way a session ends, the motor pin is 0 and the pad released with no pulses."""

from __future__ import annotations

import asyncio
import signal
from typing import Any

import async_solipsism
import pytest
from gpio_testlib import run_session, timeline_of
from pc6_sim.gpio_pins import GpioSim, PlantPin

from firmware_host.drive.gpio.backend import create
from firmware_host.errors import SafetyTrip
from firmware_host.guard.gate import SafetyGate
from firmware_host.play.engine import Engine

LONG = (
    '[[steps]]\nramp = 0.6\nover = "1s"\n[[steps]]\nhold = "20s"\n'
    '[[steps]]\nramp = 0.0\nover = "1s"\n'
)
KINDS = ["vibration", "pressure"]
OUTPUT_PIN = {"vibration": 13, "pressure": 18}


def backend(kind: str) -> Any:
    options = {"sensor_channel": 0} if kind == "pressure" else {}
    return create(kind, sim_pins=True, **options)


def assert_quiet(sim: GpioSim, kind: str) -> None:
    pin: PlantPin = sim.pin(OUTPUT_PIN[kind])
    assert pin.state == 0 and pin.frequency is None, pin.history[-3:]
    assert max(v for _, v in pin.history) > 0  # it really was driven before
    if sim.pad is not None:
        assert sim.pad.output(sim.factory.now()) == 0.0 and sim.pad.travel == 0.0
    if sim.motor is not None:
        assert sim.motor._input.at(sim.factory.now()) == 0.0


async def at(seconds: float) -> None:
    await asyncio.sleep(seconds)


@pytest.mark.parametrize("kind", KINDS)
async def test_normal_end(kind: str) -> None:
    actuator = backend(kind)
    session = await run_session(actuator, timeline_of(LONG))
    assert session.result is not None and session.result.reason == "completed"
    assert_quiet(actuator.sim, kind)


@pytest.mark.parametrize("kind", KINDS)
async def test_exception_in_the_session(kind: str) -> None:
    actuator = backend(kind)

    async def fail_commands(engine: Engine, gate: SafetyGate, clock: Any) -> None:
        await at(10.0)

        async def broken(level: float, ramp_s: float = 0.0) -> float:
            raise RuntimeError("a bug in the engine")

        gate.command = broken  # type: ignore[method-assign]
        engine.set_scale(0.9)  # make the engine send a command now

    with pytest.raises(RuntimeError, match="a bug"):
        await run_session(actuator, timeline_of(LONG), during=fail_commands)
    assert_quiet(actuator.sim, kind)


@pytest.mark.parametrize("kind", KINDS)
async def test_failing_backend(kind: str) -> None:
    """The pin driver starts refusing writes: the gate trips, and off still gets through."""
    actuator = backend(kind)

    async def break_pin(engine: Engine, gate: SafetyGate, clock: Any) -> None:
        await at(10.0)
        pin = actuator.sim.pin(OUTPUT_PIN[kind])
        original = pin._set_state

        def refuse_non_zero(value: float) -> None:
            if value and (kind == "vibration" or value > 0.0501):
                raise OSError(5, "Input/output error")
            original(value)

        pin._set_state = refuse_non_zero
        engine.set_scale(0.8)

    session = await run_session(actuator, timeline_of(LONG), during=break_pin)
    assert session.result is not None and session.result.reason == "tripped"
    assert "Input/output error" in session.result.detail
    assert_quiet(actuator.sim, kind)


@pytest.mark.parametrize("kind", KINDS)
async def test_task_cancelled(kind: str) -> None:
    actuator = backend(kind)
    task = asyncio.current_task()
    assert task is not None

    async def cancel(engine: Engine, gate: SafetyGate, clock: Any) -> None:
        await at(10.0)
        task.cancel()

    with pytest.raises(asyncio.CancelledError):
        await run_session(actuator, timeline_of(LONG), during=cancel)
    task.uncancel()
    assert_quiet(actuator.sim, kind)


@pytest.mark.parametrize("kind", KINDS)
def test_ctrl_c(kind: str) -> None:
    """SIGINT under ``asyncio.Runner`` (what ``asyncio.run`` does): the main task is
    cancelled, the session unwinds, then KeyboardInterrupt is raised."""
    actuator = backend(kind)

    async def press_ctrl_c(engine: Engine, gate: SafetyGate, clock: Any) -> None:
        await at(10.0)
        assert actuator.sim.pin(OUTPUT_PIN[kind]).state > 0
        signal.raise_signal(signal.SIGINT)

    with (
        asyncio.Runner(loop_factory=async_solipsism.EventLoop) as runner,
        pytest.raises(KeyboardInterrupt),
    ):
        runner.run(run_session(actuator, timeline_of(LONG), during=press_ctrl_c))
    assert_quiet(actuator.sim, kind)


@pytest.mark.parametrize("kind", KINDS)
async def test_trip_latches_until_reset(kind: str) -> None:
    actuator = backend(kind)

    async def trip(engine: Engine, gate: SafetyGate, clock: Any) -> None:
        await at(10.0)
        await gate.trip("test trip")
        with pytest.raises(SafetyTrip):
            await gate.command(0.5)

    session = await run_session(actuator, timeline_of(LONG), during=trip)
    assert session.result is not None and session.result.reason == "tripped"
    assert_quiet(actuator.sim, kind)
