"""A whole session through engine, gate and band link when the link drops mid-session.

The band goes quiet by itself within its lease; the host notices within 5 s, journals the
loss, holds the timeline, and when the band is back resumes only with a ramp.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from band_testlib import KEY, run_virtual
from pc6_sim.band import MemoryLink, VirtualBand

from firmware_host.clock import LoopClock
from firmware_host.drive.trace import TraceRecorder
from firmware_host.guard.gate import SafetyGate
from firmware_host.guard.limits import limits_for
from firmware_host.plan.profile import parse_profile
from firmware_host.plan.timeline import compile_profile
from firmware_host.play.engine import EndReason, Engine, SessionResult
from firmware_host.record.journal import Journal

HOLD = compile_profile(
    parse_profile(
        'name = "hold"\ndescription = "d"\nkinds = ["vibration"]\n[[steps]]\nramp = 0.6\n'
        'over = "1s"\n[[steps]]\nhold = "2m"\n[[steps]]\nramp = 0\nover = "1s"\n'
    )
)


async def session(
    unplug_at: float, replug_after: float | None, journal: Journal, grace_s: float = 300.0
) -> tuple[SessionResult, VirtualBand, list[Any]]:
    loop = asyncio.get_running_loop()
    clock = LoopClock()
    band = VirtualBand("vibration", key=KEY, seed=3, plant=None)
    link = MemoryLink(band, key=KEY, backoff_initial_s=0.25, backoff_max_s=2.0)
    sid = journal.start_session(
        at=0,
        profile="hold",
        sha256="-",
        source="-",
        backend="memory",
        kind="vibration",
        simulated=True,
    )
    gate = SafetyGate(
        link,
        clock,
        limits_for(link.kind),
        on_event=lambda event: journal.event(
            sid, at=clock.now(), kind=event.kind, detail=event.reason
        ),
    )
    await gate.open(TraceRecorder(clock.now(), keep_rows=True))
    engine = Engine(HOLD, gate, clock, link_grace_s=grace_s)
    marks: list[Any] = []

    async def faults() -> None:
        # The radio link goes silent (messages lost both ways); the band stays powered.
        await asyncio.sleep(unplug_at)
        link.freeze(True)
        marks.append(("unplugged", loop.time()))
        if replug_after is not None:
            await asyncio.sleep(replug_after)
            link.freeze(False)
            marks.append(("replugged", loop.time()))

    task = loop.create_task(faults())
    try:
        result = await engine.run()
    finally:
        await gate.close()
        task.cancel()
    marks.append(("t0", band._t0))
    return result, band, marks


def test_link_drop_band_off_within_lease_then_resumes_with_a_ramp(tmp_path: Any) -> None:
    with Journal(tmp_path / "j.sqlite") as journal:
        result, band, marks = run_virtual(session(30.0, 20.0, journal))
        events = journal.events(1)
    t0 = dict(marks)["t0"]
    unplugged = dict(marks)["unplugged"] - t0
    # The band stopped by itself, within its lease (vibration: 4 s by default).
    off_at = next(t for t, v in band.breakpoints if t > unplugged and v == 0)
    assert off_at - unplugged <= 4.0 + 0.05
    # The host knew within 5 s and journaled it.
    lost = [e for e in events if e[1] == "link" and "link lost" in e[2]]
    assert lost and lost[0][0] - (t0 + unplugged) <= 5.0
    assert any(e[1] == "link" and e[2] == "reconnected" for e in events)
    # Resumed only with a ramp: no step from 0 after the replug.
    replugged = dict(marks)["replugged"] - t0
    after = [(t, v) for t, v in band.breakpoints if t >= replugged]
    rises = [(a, b) for a, b in zip(after, after[1:], strict=False) if b[1] > a[1]]
    assert rises and all(b[0] - a[0] >= 0.9 for a, b in rises)
    assert result.reason is EndReason.COMPLETED
    assert band.breakpoints[-1][1] == 0
    assert any(kind == "resumed" for _, kind, _ in result.events)


def test_band_that_never_comes_back_ends_the_session(tmp_path: Any) -> None:
    with Journal(tmp_path / "j.sqlite") as journal:
        result, band, _ = run_virtual(session(10.0, None, journal, grace_s=60.0))
    assert result.reason is EndReason.LINK_LOST
    assert "not back within 60 s" in result.detail
    assert band.breakpoints[-1][1] == 0  # the band went quiet by its own lease
    assert result.duration_s == pytest.approx(10.0 + 60.0, abs=6.0)


def test_a_band_that_restarts_mid_session_resumes_with_a_ramp(tmp_path: Any) -> None:
    async def scenario() -> tuple[SessionResult, VirtualBand, float]:
        loop = asyncio.get_running_loop()
        clock = LoopClock()
        band = VirtualBand("pressure", key=KEY, seed=4, plant=None)
        link = MemoryLink(band, key=KEY, kind="pressure")
        gate = SafetyGate(link, clock, limits_for(link.kind))
        await gate.open(TraceRecorder(clock.now(), keep_rows=True))
        engine = Engine(PRESS, gate, clock)

        async def reboot() -> None:
            await asyncio.sleep(20.0)
            band.reset()  # brown-out: the band reboots, the cable stays in

        task = loop.create_task(reboot())
        try:
            result = await engine.run()
        finally:
            await gate.close()
            task.cancel()
        return result, band, gate.limits.max_rise_per_s

    result, band, rise = run_virtual(scenario())
    assert result.reason is EndReason.COMPLETED
    rows = band.breakpoints
    for (t0, v0), (t1, v1) in zip(rows, rows[1:], strict=False):
        if v1 > v0:  # never a jump back to the old level: every rise within the soft start
            assert v1 - v0 <= rise * (t1 - t0) + 0.01, (t0, v0, t1, v1)
    assert any(kind == "resumed" for _, kind, _ in result.events)


PRESS = compile_profile(
    parse_profile(
        'name = "press"\ndescription = "d"\nkinds = ["pressure"]\n[[steps]]\nramp = 0.8\n'
        'over = "1s"\n[[steps]]\nhold = "60s"\n[[steps]]\nramp = 0\nover = "1s"\n'
    )
)
