"""Shared helpers for the core tests: a virtual-time session runner."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

import async_solipsism
from pc6_sim.actuator import SimActuator

from firmware_host.clock import LoopClock
from firmware_host.guard.gate import SafetyGate
from firmware_host.guard.limits import Limits, limits_for
from firmware_host.plan.timeline import Timeline
from firmware_host.play.engine import Engine, SessionResult
from firmware_host.session.assembly import Overrides, Session, resolve
from firmware_host.session.config import Config

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
    """Play ``timeline`` on a simulated actuator, in a session built by the one assembly."""
    clock = LoopClock()
    act = actuator or SimActuator(kind, now=clock.now)
    config = Config(limits={act.kind: limits or limits_for(act.kind)})
    setup = resolve(config, Overrides(kind=act.kind.value, max_level=max_level))
    session = Session(setup, None, timeline, clock=clock, factory=lambda *_: act, keep_rows=True)
    session.prepare()
    assert session.engine is not None and session.gate is not None
    engine = session.engine
    task = asyncio.get_running_loop().create_task(control(engine, clock)) if control else None
    try:
        result = await session.run()
    finally:
        if task is not None:
            task.cancel()
    assert session.recorder is not None
    return Played(result, session.gate, act, session.recorder.rows)
