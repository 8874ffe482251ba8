"""Engine control as the wearer and the builder notice it: stop, pause, resume, scale."""

from __future__ import annotations

import asyncio

import pytest
from core_testlib import play, run_virtual
from pc6_sim.actuator import SimActuator

from firmware_host.clock import LoopClock
from firmware_host.drive.stepping import stepped
from firmware_host.plan.profile import parse_profile
from firmware_host.plan.timeline import compile_profile
from firmware_host.play.engine import EndReason, Engine, plan_segment

HEAD = 'name = "t"\ndescription = "d"\nkinds = ["vibration", "pressure"]\n'
HOLD = compile_profile(
    parse_profile(
        HEAD + '[[steps]]\nramp = 0.8\nover = "1s"\n'
        '[[steps]]\nhold = "5m"\n[[steps]]\nramp = 0\nover = "1s"\n'
    )
)


def at(clock: LoopClock, seconds: float):
    return clock.sleep_until(clock.now() + seconds)


def test_stop_ramps_down_softly_and_ends_at_zero() -> None:
    async def control(engine: Engine, clock: LoopClock) -> None:
        await at(clock, 30)
        engine.stop("stop button")

    played = run_virtual(lambda: play(HOLD, control=control))
    assert played.result.reason is EndReason.STOPPED and played.result.detail == "stop button"
    # 2 s soft stop from full scale, proportional to the level: 0.8 → 0 over 1.6 s.
    assert played.rows[-2:] == [(30.0, 0.8), (31.6, 0.0)]


def test_pause_holds_the_timeline_and_resume_ramps_back_up() -> None:
    async def control(engine: Engine, clock: LoopClock) -> None:
        await at(clock, 20)
        engine.pause()
        await at(clock, 60)
        assert engine.paused and engine.gate.output == 0
        engine.resume()

    played = run_virtual(lambda: play(HOLD, control=control))
    assert played.result.reason is EndReason.COMPLETED
    rows = played.rows
    assert (20.0, 0.8) in rows and (21.6, 0.0) in rows  # soft ramp down on pause
    assert (80.0, 0.0) in rows and (81.6, 0.8) in rows  # soft ramp up on resume
    # The paused minute (plus the ramps) is added to the session, nothing is skipped.
    assert rows[-1][0] == pytest.approx(302.0 + 60.0 + 1.6 + 1.6 - 1.6, abs=0.01)
    assert rows[-1][1] == 0 and any(k == "paused" for _, k, _ in played.result.events)


def test_live_scale_changes_the_rest_of_the_session() -> None:
    async def control(engine: Engine, clock: LoopClock) -> None:
        await at(clock, 100)
        engine.set_scale(0.5)

    played = run_virtual(lambda: play(HOLD, control=control))
    levels_after = {v for t, v in played.rows if 100 < t <= 301}
    assert (100.0, 0.4) in played.rows
    assert levels_after == {0.4}
    assert max(v for _, v in played.rows) == 0.8
    with pytest.raises(ValueError):
        Engine(HOLD, played.gate, LoopClock()).set_scale(float("nan"))


def test_cancelled_session_leaves_the_output_at_zero() -> None:
    async def scenario() -> SimActuator:
        clock = LoopClock()
        act = SimActuator("vibration", now=clock.now)

        async def control(engine: Engine, clock: LoopClock) -> None:
            await at(clock, 50)
            task.cancel()

        task = asyncio.get_running_loop().create_task(play(HOLD, control=control, actuator=act))
        with pytest.raises(asyncio.CancelledError):
            await task
        assert act.output is not None and act.output.rows[-1] == (50.0, 0.0)
        return act

    run_virtual(scenario)


def test_stepping_actuator_wakes_only_when_its_output_changes() -> None:
    ramp = compile_profile(
        parse_profile(
            HEAD + '[[steps]]\nramp = 1.0\nover = "10m"\n[[steps]]\nramp = 0\nover = "10m"\n'
        )
    )

    async def scenario() -> SimActuator:
        clock = LoopClock()
        act = SimActuator("vibration", now=clock.now, can_ramp=False, resolution=100)
        await play(ramp, actuator=act)
        return act

    act = run_virtual(scenario)
    # 100 steps up and 100 down, plus lease refreshes (every 3 s of 20 min) — not a 100 Hz tick.
    assert 200 <= act.commands <= 200 + 20 * 60 / 3 + 5
    assert act.output is not None
    levels = [v for _, v in act.output.rows]
    assert max(levels) == 1.0 and levels[-1] == 0
    assert all(abs(round(v * 100) - v * 100) < 1e-9 for v in levels)  # whole 1/100 steps


def test_plan_segment_splits_at_the_ceiling() -> None:
    assert plan_segment(0, 0.0, 1000, 1.0, 1.0, 0.5) == [(0, 0.5, 500.0), (500.0, 0.5, 0.0)]
    assert plan_segment(0, 1.0, 1000, 0.0, 1.0, 0.5) == [(0, 0.5, 0.0), (500.0, 0.0, 500.0)]
    assert plan_segment(0, 0.2, 1000, 0.4, 2.0, 1.0) == [(0, 0.8, 1000)]


def test_stepped_places_steps_where_rounding_changes() -> None:
    steps = list(stepped([(0.0, 1.0, 1000.0)], 0.0, 4))
    assert steps == [
        (0.0, 0.0, 0.0),
        (125.0, 0.25, 0.0),
        (375.0, 0.5, 0.0),
        (625.0, 0.75, 0.0),
        (875.0, 1.0, 0.0),
    ]


def test_long_ramps_are_split_for_backends_with_a_ramp_limit() -> None:
    from firmware_host.play.engine import chunked

    parts = list(chunked([(0.0, 0.8, 200_000.0)], 0.0, 60_000.0))
    assert len(parts) == 4
    assert parts[0] == (0.0, 0.2, 50_000.0) and parts[-1] == (150_000.0, 0.8, 50_000.0)
    assert list(chunked([(0.0, 0.5, 1000.0)], 0.0, 60_000.0)) == [(0.0, 0.5, 1000.0)]


def test_remaining_time_moves_with_the_clock_between_breakpoints() -> None:
    seen: list[float] = []

    async def control(engine: Engine, clock: LoopClock) -> None:
        await at(clock, 100)  # in the middle of a 5-minute hold: no breakpoint near
        seen.append(engine.remaining_s)

    run_virtual(lambda: play(HOLD, control=control))
    assert seen == [pytest.approx(302.0 - 100.0)]
