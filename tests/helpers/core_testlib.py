"""Shared helpers for the core tests: a virtual-time session runner."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

import async_solipsism
from pc6_sim.actuator import SimActuator

from firmware_host.clock import LoopClock
from firmware_host.drive.trace import TraceRecorder
from firmware_host.guard.gate import SafetyGate
from firmware_host.guard.limits import Limits, limits_for
from firmware_host.plan.timeline import Timeline
from firmware_host.play.engine import Engine, SessionResult

T = TypeVar("T")


def run_virtual(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine on a loop whose clock jumps to the next deadline."""
    loop = async_solipsism.EventLoop()
    try:
        return loop.run_until_complete(make())
    finally:
        loop.close()


@dataclass
class Played:
    """Everything a test may look at after a simulated session."""

    result: SessionResult
    gate: SafetyGate
    actuator: SimActuator
    rows: list[tuple[float, float]]


async def play(
    timeline: Timeline,
    kind: str = "vibration",
    *,
    limits: Limits | None = None,
    max_level: float | None = None,
    control: Callable[[Engine, LoopClock], Coroutine[Any, Any, None]] | None = None,
    actuator: SimActuator | None = None,
) -> Played:
    """Play ``timeline`` on a simulated actuator through a real gate and engine."""
    clock = LoopClock()
    act = actuator or SimActuator(kind, now=clock.now)
    gate = SafetyGate(act, clock, limits or limits_for(act.kind), max_level=max_level)
    await gate.open(TraceRecorder(clock.now(), keep_rows=True))
    engine = Engine(timeline, gate, clock)
    task = asyncio.get_running_loop().create_task(control(engine, clock)) if control else None
    try:
        result = await engine.run()
    finally:
        await gate.close()
        if task is not None:
            task.cancel()
    assert gate.recorder is not None
    return Played(result, gate, act, gate.recorder.rows)
