"""PLAY windows: the engine streams the timeline to a band, which plays it on its own clock.

Everything runs through the real engine, gate, host link, codec and band core over the
in-memory link with a Pi-like BLE latency model, on the virtual clock. Edges are read from
the band core's own output (its breakpoints, on its own clock).
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable, Coroutine
from typing import Any

import pytest
from band_testlib import KEY, run_virtual
from pc6_sim.band import MemoryLink, VirtualBand

from firmware_host.clock import LoopClock
from firmware_host.drive.band.clocksync import PROBE_SAMPLES
from firmware_host.drive.trace import TraceRecorder
from firmware_host.guard.gate import SafetyGate
from firmware_host.guard.limits import Limits, limits_for
from firmware_host.plan.profile import parse_profile
from firmware_host.plan.timeline import Timeline, compile_profile
from firmware_host.play.engine import EndReason, Engine, SessionResult

BLE_LATENCY = (0.030, 0.100)  # 30–130 ms per message each way


def pulses(on: str, off: str, count: int, level: float = 0.8, kind: str = "vibration") -> Timeline:
    return compile_profile(
        parse_profile(
            f'name = "p"\ndescription = "d"\nkinds = ["{kind}"]\n[[steps]]\npulses = {count}\n'
            f'level = {level}\non = "{on}"\noff = "{off}"\n'
        )
    )


class SetOnlyLink(MemoryLink):
    """The same link without PLAY windows: one SET per edge, as before."""

    queue_window = None  # type: ignore[assignment]


Hook = Callable[[Engine, MemoryLink, VirtualBand], Coroutine[Any, Any, None]]


async def play(
    timeline: Timeline,
    *,
    kind: str = "vibration",
    latency: tuple[float, float] = BLE_LATENCY,
    link_class: type[MemoryLink] = MemoryLink,
    limits: Limits | None = None,
    max_level: float | None = None,
    hook: Hook | None = None,
    drift_ppm: float = 0.0,
    **link_options: Any,
) -> tuple[SessionResult, VirtualBand, MemoryLink]:
    clock = LoopClock()
    drift = {"drift_ppm": drift_ppm} if drift_ppm else {}
    band = VirtualBand(kind, key=KEY, seed=5, plant=None, **drift)
    link = link_class(
        band, key=KEY, latency_s=latency[0], jitter_s=latency[1], seed=7, **link_options
    )
    gate = SafetyGate(link, clock, limits or limits_for(link.kind), max_level=max_level)
    await gate.open(TraceRecorder(clock.now()))
    engine = Engine(timeline, gate, clock)
    task = None
    if hook is not None:
        task = asyncio.get_running_loop().create_task(hook(engine, link, band))
    try:
        result = await engine.run()
    finally:
        await gate.close()
        if task is not None:
            task.cancel()
    return result, band, link


def edges(band: VirtualBand) -> list[tuple[float, float, float]]:
    """(band time s, from, to) of every step of the band's output."""
    rows = band.breakpoints
    pairs = zip(rows, rows[1:], strict=False)
    return [(t0, v0, v1) for (t0, v0), (t1, v1) in pairs if t0 == t1 and v0 != v1]


def rises_and_falls(band: VirtualBand) -> tuple[list[float], list[float]]:
    steps = edges(band)
    return [t for t, a, b in steps if b > a], [t for t, a, b in steps if b < a]


def test_one_second_pulses_are_exact_on_the_band_over_a_slow_link() -> None:
    # With a SET per edge these lasted 909–1095 ms over the same link.
    result, band, link = run_virtual(play(pulses("1s", "4s", 20)))
    rises, falls = rises_and_falls(band)
    assert result.reason is EndReason.COMPLETED
    assert len(rises) == len(falls) == 20
    lengths = [f - r for r, f in zip(rises, falls, strict=True)]
    assert all(abs(x - 1.0) <= 0.0011 for x in lengths), lengths
    assert all(abs(r - rises[0] - 5.0 * i) <= 0.0011 for i, r in enumerate(rises))
    assert band.counters()["expiries"] == 0
    assert link.edges_measured > 0
    assert result.max_lateness_s <= 0.002  # measured on the band's clock, from its ACKs


def test_one_second_pulses_with_a_set_per_edge_wander_by_the_link_latency() -> None:
    # The baseline the windows replace: what a wearer felt before.
    _, band, _ = run_virtual(play(pulses("1s", "4s", 20), link_class=SetOnlyLink))
    rises, falls = rises_and_falls(band)
    lengths = [f - r for r, f in zip(rises, falls, strict=True)]
    assert max(abs(x - 1.0) for x in lengths) > 0.02


def test_fast_pulses_do_not_pile_up() -> None:
    # 100 ms on/off with a SET per edge ended 15 s behind after 24 s over this link.
    result, band, _ = run_virtual(play(pulses("100ms", "100ms", 100)))
    rises, falls = rises_and_falls(band)
    assert len(rises) == len(falls) == 100
    assert all(abs(f - r - 0.1) <= 0.0011 for r, f in zip(rises, falls, strict=True))
    assert abs(falls[-1] - rises[0] - 19.9) <= 0.0011
    assert result.duration_s < 20.5


def test_gate_caps_apply_to_queued_steps_exactly_as_to_sets() -> None:
    # Pressure: calibrated maximum, rise limit, continuous on-time cut and rest, budget.
    timeline = compile_profile(
        parse_profile(
            'name = "p"\ndescription = "d"\nkinds = ["pressure"]\n'
            '[[steps]]\nramp = 1.0\nover = "2s"\n[[steps]]\nhold = "100s"\n'
            '[[steps]]\nramp = 0\nover = "1s"\n[[steps]]\nhold = "40s"\n'
            '[[steps]]\npulses = 6\nlevel = 0.9\non = "3s"\noff = "4s"\n'
        )
    )
    limits = dataclasses.replace(
        limits_for("pressure"), max_continuous_on_s=30.0, nightly_budget_s=110.0
    )

    def run(link_class: type[MemoryLink]) -> tuple[Callable[[float], float], SessionResult]:
        result, band, _ = run_virtual(
            play(
                timeline,
                kind="pressure",
                latency=(0.0, 0.0),
                link_class=link_class,
                limits=limits,
                max_level=0.7,
            )
        )
        t0 = next(t for t, v in band.breakpoints if v > 0)
        return (lambda t: band.level_at(t0 + t)), result

    streamed, r1 = run(MemoryLink)
    stepped, r2 = run(SetOnlyLink)
    assert r1.reason == r2.reason and r1.detail == r2.detail
    assert [e[1] for e in r1.events] == [e[1] for e in r2.events]
    grid = [i / 200 + 0.0005 for i in range(200 * 200)]  # every 5 ms for 200 s
    assert max(streamed(t) for t in grid) == pytest.approx(0.7, abs=1e-4)
    worst = max(abs(streamed(t) - stepped(t)) for t in grid)
    assert worst <= 0.002


def test_stop_in_an_off_phase_clears_the_queued_window() -> None:
    async def stop_soon(engine: Engine, link: MemoryLink, band: VirtualBand) -> None:
        await asyncio.sleep(1.5)  # the first pulse is over; the next is queued
        engine.stop("stopped by the wearer")

    result, band, _ = run_virtual(play(pulses("1s", "1s", 20), hook=stop_soon))
    rises, _ = rises_and_falls(band)
    assert result.reason is EndReason.STOPPED
    assert len(rises) == 1


def test_pause_in_an_off_phase_plays_nothing_until_resumed() -> None:
    seen: list[float] = []

    async def pause(engine: Engine, link: MemoryLink, band: VirtualBand) -> None:
        await asyncio.sleep(1.5)
        engine.pause()
        await asyncio.sleep(10.0)
        seen.append(max((v for t, v in band.breakpoints if t > 1.9), default=0.0))
        engine.resume()

    result, band, _ = run_virtual(play(pulses("1s", "1s", 5), hook=pause))
    assert result.reason is EndReason.COMPLETED
    assert seen == [0.0]
    assert len(rises_and_falls(band)[0]) >= 5


def test_a_live_level_change_reaches_the_band_at_once() -> None:
    async def softer(engine: Engine, link: MemoryLink, band: VirtualBand) -> None:
        await asyncio.sleep(2.5)
        engine.set_scale(0.5)

    result, band, _ = run_virtual(play(pulses("1s", "1s", 6, level=0.8), hook=softer))
    # 0.4 s after the change (one window's round trip in flight, then the SET's own way),
    # counted from the session's first edge on the band.
    start = rises_and_falls(band)[0][0]
    late = [v for t, v in band.breakpoints if t > start + 2.9]
    assert result.reason is EndReason.COMPLETED
    assert late and max(late) == pytest.approx(0.4, abs=0.002)


@pytest.mark.parametrize("link_class", [MemoryLink, SetOnlyLink], ids=["windows", "sets"])
def test_a_frozen_link_whose_band_cut_at_its_lease_holds_then_resumes(
    link_class: type[MemoryLink],
) -> None:
    # The band's lease expires while the link is frozen; when it thaws the band says so.
    # That is the backstop doing its job: the session must hold and resume with a ramp,
    # not trip (it tripped 5 of 5 times).
    hold = compile_profile(
        parse_profile(
            'name = "h"\ndescription = "d"\nkinds = ["vibration"]\n[[steps]]\nramp = 0.6\n'
            'over = "1s"\n[[steps]]\nhold = "60s"\n[[steps]]\nramp = 0\nover = "1s"\n'
        )
    )

    async def freeze(engine: Engine, link: MemoryLink, band: VirtualBand) -> None:
        await asyncio.sleep(11.0)
        link.freeze(True)
        await asyncio.sleep(1.5)
        link.freeze(False)

    result, band, _ = run_virtual(
        play(hold, hook=freeze, latency=(0.0, 0.0), link_class=link_class)
    )
    assert result.reason is EndReason.COMPLETED, result.detail
    kinds = [k for _, k, _ in result.events]
    assert "resumed" in kinds
    rows = band.breakpoints
    if link_class is SetOnlyLink:
        assert band.counters()["expiries"] == 1  # the band did cut by its own lease
    for (t0, v0), (t1, v1) in zip(rows, rows[1:], strict=False):
        if t0 > 11.0 and v1 > v0:
            assert v1 - v0 <= (t1 - t0) * 0.6 + 0.01  # back up with a ramp, never a step


@pytest.mark.parametrize("ppm", [50.0, -50.0])
def test_band_crystal_drift_keeps_edges_on_the_hosts_timeline_from_the_first_window(
    ppm: float,
) -> None:
    # ±50 ppm is 180 ms an hour; the host measures the band's rate from its answers and
    # places every window from the stream's anchor with it. Before, the rate was used only
    # once it stood clear of the link's jitter: edges drifted ~21 ms in the first 7 minutes.
    # (bench/band_drift.py: 8 h; tests/drive/band/test_clocksync.py: 8 h of samples.)
    _, band, link = run_virtual(play(pulses("1s", "4s", 720), drift_ppm=ppm))
    rises, falls = rises_and_falls(band)
    assert len(rises) == len(falls) == 720
    first = rises[0] / band.rate  # the band's seconds on true (host) time
    error_ms = [
        (i * 5.0, abs(t / band.rate - first - i * 5.0 - on) * 1000)
        for i, (r, f) in enumerate(zip(rises, falls, strict=True))
        for t, on in ((r, 0.0), (f, 1.0))
    ]
    assert max(e for at, e in error_ms if at < 600) <= 10.0  # the first 10 minutes
    assert max(e for _at, e in error_ms) <= 10.0  # the whole hour
    assert link.clock_sync.ppm() == pytest.approx(ppm, abs=0.5)
    assert link.messages["pings"] <= PROBE_SAMPLES  # the clock probes stop once it is firm
