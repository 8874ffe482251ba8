"""A session harness shaped like ``pc6 run``'s, for tests on mock pins (virtual time)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from firmware_host.clock import LoopClock
from firmware_host.drive.actuator import Actuator
from firmware_host.drive.trace import TraceRecorder
from firmware_host.guard.gate import SafetyGate
from firmware_host.guard.limits import Limits, limits_for
from firmware_host.plan.profile import parse_profile
from firmware_host.plan.timeline import Timeline, compile_profile
from firmware_host.play.engine import Engine, SessionResult


def timeline_of(steps: str, kinds: str = '["vibration", "pressure"]') -> Timeline:
    """Compile a profile made of ``steps`` (TOML ``[[steps]]`` tables)."""
    text = f'name = "t"\ndescription = "test"\nkinds = {kinds}\n{steps}'
    return compile_profile(parse_profile(text))


@dataclass
class Session:
    """What a finished session left behind."""

    result: SessionResult | None
    gate: SafetyGate
    events: list[tuple[str, dict[str, object]]]


During = Callable[[Engine, SafetyGate, LoopClock], Coroutine[Any, Any, None]]


async def run_session(
    actuator: Actuator,
    timeline: Timeline,
    *,
    limits: Limits | None = None,
    during: During | None = None,
) -> Session:
    """Open, play, close — the output must be off on every way out of here.

    ``during`` runs beside the engine (fault injection, a button, a cancel). Exceptions
    propagate after ``gate.close()``, as in the runner.
    """
    clock = LoopClock()
    events: list[tuple[str, dict[str, object]]] = []
    gate = SafetyGate(
        actuator,
        clock,
        limits or limits_for(actuator.kind),
        on_event=lambda event: events.append((event.kind, {"reason": event.reason})),
    )
    session = Session(None, gate, events)
    side: asyncio.Task[None] | None = None
    try:
        await gate.open(TraceRecorder(clock.now(), keep_rows=True))
        engine = Engine(timeline, gate, clock)
        if during is not None:
            side = asyncio.get_running_loop().create_task(during(engine, gate, clock))
        session.result = await engine.run()
    finally:
        if side is not None and not side.done():
            side.cancel()
        await gate.close()
    return session


def levels_changes(rows: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Trace rows reduced to (t, new level) at each change (steps are two rows at one t)."""
    out: list[tuple[float, float]] = []
    for t, v in rows:
        if out and out[-1][1] == v:
            continue
        if out and out[-1][0] == t:
            out[-1] = (t, v)
            if len(out) > 1 and out[-2][1] == v:
                out.pop()
            continue
        out.append((t, v))
    return out
