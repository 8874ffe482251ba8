"""The SafetyGate's caps, as the wearer would notice them at the actuator."""

from __future__ import annotations

from dataclasses import replace

import pytest
from core_testlib import play, run_virtual
from pc6_sim.actuator import SimActuator

from firmware_host.clock import LoopClock
from firmware_host.drive.actuator import ActuatorKind
from firmware_host.drive.trace import TraceRecorder
from firmware_host.errors import ConfigError, SafetyTrip
from firmware_host.guard.gate import SafetyGate
from firmware_host.guard.limits import DEFAULT_LIMITS, HARD_LIMITS, limits_for
from firmware_host.plan.profile import parse_profile
from firmware_host.plan.timeline import compile_profile
from firmware_host.play.engine import EndReason

HEAD = 'name = "t"\ndescription = "d"\nkinds = ["vibration", "pressure"]\n'


def timeline(body: str):
    return compile_profile(parse_profile(HEAD + body))


def on_stretches(rows: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """(start, end) of each stretch where the delivered level is above 0."""
    out, start = [], None
    for (t0, v0), (t1, v1) in zip(rows, rows[1:], strict=False):
        if start is None and (v1 > 0 and (t1 > t0 or v0 == 0)):
            start = t0 if v0 == 0 and t1 > t0 else t1
        if start is not None and v1 == 0:
            out.append((start, t1))
            start = None
    return out


def test_max_level_is_never_exceeded() -> None:
    tl = timeline(
        '[[steps]]\nramp = 1.0\nover = "2s"\n[[steps]]\nhold = "3s"\n'
        '[[steps]]\nramp = 0\nover = "2s"\n'
    )
    played = run_virtual(lambda: play(tl, max_level=0.3))
    assert max(v for _, v in played.rows) == 0.3
    # The ramp is split where it meets the ceiling: 0 → 0.3 in 0.6 s, not in 2 s.
    assert (0.6, 0.3) in played.rows
    out = played.actuator.output
    assert out is not None and played.actuator.felt(out.t0 + played.rows[-1][0] + 1) < 1e-3


def test_continuous_on_time_is_cut_and_rested() -> None:
    limits = replace(DEFAULT_LIMITS[ActuatorKind.VIBRATION], max_continuous_on_s=60.0)
    tl = timeline('[[steps]]\nset = 0.5\nfor = "5m"\n[[steps]]\nset = 0\nfor = "1s"\n')
    played = run_virtual(lambda: play(tl, limits=limits))
    stretches = on_stretches(played.rows)
    assert stretches[0] == (0.0, 60.0)
    assert all(end - start <= 60.0 + 1e-6 for start, end in stretches)
    # After the cut it rests at least a minute before the next stretch.
    assert stretches[1][0] - stretches[0][1] >= 60.0
    assert any(kind == "limit" for _, kind, _ in played.result.events)
    assert played.rows[-1][1] == 0


def test_pressure_rests_at_least_as_long_as_it_pressed() -> None:
    # The profile asks for 30 s presses with only 5 s between them.
    tl = timeline(
        '[[steps]]\nrepeat = 4\n[[steps.steps]]\nramp = 0.5\nover = "1s"\n'
        '[[steps.steps]]\nhold = "28s"\n[[steps.steps]]\nramp = 0\nover = "1s"\n'
        '[[steps.steps]]\nrest = "5s"\n'
    )
    played = run_virtual(lambda: play(tl, "pressure"))
    stretches = on_stretches(played.rows)
    assert len(stretches) >= 2
    for (s0, e0), (s1, _) in zip(stretches, stretches[1:], strict=False):
        assert s1 - e0 >= (e0 - s0) - 1e-6


def test_pressure_rises_no_faster_than_the_soft_start_limit() -> None:
    tl = timeline('[[steps]]\nset = 1.0\nfor = "3s"\n[[steps]]\nramp = 0\nover = "1s"\n')
    played = run_virtual(lambda: play(tl, "pressure"))
    rise = DEFAULT_LIMITS[ActuatorKind.PRESSURE].max_rise_per_s
    for (t0, v0), (t1, v1) in zip(played.rows, played.rows[1:], strict=False):
        if v1 > v0:
            assert v1 - v0 <= rise * (t1 - t0 + 2e-6) + 1e-9


def test_session_length_and_nightly_budget_end_the_session() -> None:
    tl = timeline('[[steps]]\npulses = "30m"\nlevel = 0.4\non = "1s"\noff = "1s"\n')
    short = replace(DEFAULT_LIMITS[ActuatorKind.VIBRATION], max_session_s=600.0)
    played = run_virtual(lambda: play(tl, limits=short))
    assert played.result.reason is EndReason.LIMIT and "session length" in played.result.detail
    assert played.rows[-1][0] <= 600.0 + 1e-6 and played.rows[-1][1] == 0

    budget = replace(DEFAULT_LIMITS[ActuatorKind.VIBRATION], nightly_budget_s=100.0)
    played = run_virtual(lambda: play(tl, limits=budget))
    assert played.result.reason is EndReason.LIMIT and "budget" in played.result.detail
    on = sum(e - s for s, e in on_stretches(played.rows))
    assert on == pytest.approx(100.0, abs=1.0)


def test_leases_are_refreshed_so_the_band_never_expires_mid_hold() -> None:
    tl = timeline('[[steps]]\nset = 0.5\nfor = "2m"\n[[steps]]\nset = 0\nfor = "1s"\n')
    played = run_virtual(lambda: play(tl))
    assert played.actuator.lease_expiries == 0
    assert played.actuator.output is not None
    assert played.actuator.output.rows == played.rows


def test_a_failing_actuator_trips_and_the_trip_latches() -> None:
    tl = timeline('[[steps]]\npulses = 20\nlevel = 0.5\non = "1s"\noff = "1s"\n')

    async def scenario() -> None:
        clock = LoopClock()
        act = SimActuator("vibration", now=clock.now)
        gate = SafetyGate(act, clock, limits_for(act.kind))
        await gate.open(TraceRecorder(clock.now(), keep_rows=True))
        await gate.command(0.5)
        act.fail_next = "motor driver over-current"
        with pytest.raises(SafetyTrip):
            await gate.command(0.6)
        assert act.felt(clock.now() + 1) == 0
        with pytest.raises(SafetyTrip, match="over-current"):
            await gate.command(0.2)  # latched: nothing moves
        assert "over-current" in (gate.reset() or "")
        assert await gate.command(0.2) == 0.2
        await gate.close()

    run_virtual(scenario)
    del tl


def test_fault_reported_by_the_backend_trips_the_session() -> None:
    tl = timeline('[[steps]]\nset = 0.5\nfor = "1m"\n[[steps]]\nset = 0\nfor = "1s"\n')

    async def fault(engine, clock) -> None:
        await clock.sleep_until(clock.now() + 10)
        engine.gate.actuator.report_fault("pad slipped off the wrist")

    played = run_virtual(lambda: play(tl, control=fault))
    assert played.result.reason is EndReason.TRIPPED
    assert "slipped" in played.result.detail
    assert played.rows[-1] == (10.0, 0.0)


def test_config_cannot_raise_a_hard_ceiling() -> None:
    for kind, hard in HARD_LIMITS.items():
        with pytest.raises(ConfigError, match="lease_s"):
            limits_for(kind, {"lease_s": hard.lease_s + 1})
    with pytest.raises(ConfigError, match="rest_ratio: must be at least 1"):
        limits_for(ActuatorKind.PRESSURE, {"rest_ratio": 0.5})
    with pytest.raises(ConfigError, match="did you mean 'max_level'"):
        limits_for(ActuatorKind.PRESSURE, {"max_levl": 0.5})
    with pytest.raises(ConfigError, match="must be a number"):
        limits_for(ActuatorKind.PRESSURE, {"max_level": "high"})


def test_gate_clamps_limits_that_bypassed_config() -> None:
    async def scenario() -> None:
        clock = LoopClock()
        act = SimActuator("pressure", now=clock.now)
        wild = replace(
            DEFAULT_LIMITS[ActuatorKind.PRESSURE],
            lease_s=60.0,
            max_continuous_on_s=1e9,
            rest_ratio=0.0,
        )
        gate = SafetyGate(act, clock, wild)
        assert gate.lease_s <= 3.0
        assert gate.limits.max_continuous_on_s <= 300.0 and gate.limits.rest_ratio >= 1.0

    run_virtual(scenario)


def test_a_night_whose_budget_is_already_spent_ends_at_once() -> None:
    tl = timeline('[[steps]]\nset = 0.5\nfor = "1m"\n[[steps]]\nset = 0\nfor = "1s"\n')

    async def scenario():
        clock = LoopClock()
        act = SimActuator("vibration", now=clock.now)
        limits = limits_for(act.kind, {"nightly_budget_s": 60})
        gate = SafetyGate(act, clock, limits, budget_used_s=60.0)
        await gate.open(TraceRecorder(clock.now(), keep_rows=True))
        from firmware_host.play.engine import Engine

        result = await Engine(tl, gate, clock).run()
        await gate.close()
        return result, gate

    result, gate = run_virtual(scenario)
    assert result.reason is EndReason.LIMIT and "budget" in result.detail
    assert gate.recorder is not None and max(v for _, v in gate.recorder.rows) == 0


def test_a_cut_off_is_immediate_even_when_the_profile_ramps_on() -> None:
    # The continuous limit falls exactly where the profile starts a long ramp up.
    limits = replace(DEFAULT_LIMITS[ActuatorKind.PRESSURE], max_continuous_on_s=120.0)
    tl = timeline(
        '[[steps]]\nramp = 0.5\nover = "1s"\n[[steps]]\nhold = "119s"\n'
        '[[steps]]\nramp = 1.0\nover = "60s"\n[[steps]]\nramp = 0\nover = "1s"\n'
    )
    played = run_virtual(lambda: play(tl, "pressure", limits=limits))
    stretches = on_stretches(played.rows)
    assert stretches[0][1] <= 120.0 + 1e-6  # off at the limit, not ramped down for a minute


def test_a_zero_rise_limit_is_refused() -> None:
    with pytest.raises(ConfigError, match="max_rise_per_s: must be above 0"):
        limits_for(ActuatorKind.PRESSURE, {"max_rise_per_s": 0})


def test_a_late_loop_still_lets_other_tasks_run() -> None:
    """A task that is always behind its deadline must not starve the rest of the loop."""
    import asyncio

    async def scenario() -> int:
        clock = LoopClock()
        ran = 0

        async def other() -> None:
            nonlocal ran
            ran += 1

        task = asyncio.get_running_loop().create_task(other())
        for _ in range(5):
            await clock.sleep_until(clock.now() - 1.0)  # already late
        seen = ran  # the other task must have had its turn during those late sleeps
        await task
        return seen

    assert run_virtual(scenario) == 1


def test_clean_up_cancelled_midway_still_closes_the_backend() -> None:
    """A second Ctrl-C during clean-up must not leave the backend open."""
    import asyncio

    class SlowOff(SimActuator):
        closed = False

        async def off(self) -> None:
            await asyncio.sleep(1.0)  # a band's STOP waiting for its answer
            await super().off()

        async def close(self) -> None:
            self.closed = True
            await super().close()

    async def scenario() -> SlowOff:
        clock = LoopClock()
        act = SlowOff("vibration", now=clock.now)
        gate = SafetyGate(act, clock, limits_for(act.kind))
        await gate.open(TraceRecorder(clock.now(), keep_rows=True))
        await gate.command(0.5)
        task = asyncio.get_running_loop().create_task(gate.close())
        await asyncio.sleep(0.5)
        task.cancel()  # the second signal lands while off() is in flight
        with pytest.raises(asyncio.CancelledError):
            await task
        return act

    act = run_virtual(scenario)
    assert act.closed
    assert act.output is not None and act.output.rows[-1][1] == 0
