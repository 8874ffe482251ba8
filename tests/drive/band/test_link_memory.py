"""Band link logic on the virtual clock: a whole night, hung links, unplug and replug."""

from __future__ import annotations

import asyncio

import pytest
from band_testlib import KEY, run_virtual
from pc6_sim.band import MemoryLink, VirtualBand

from firmware_host.errors import LinkError


def test_a_night_of_refreshes_never_lets_the_lease_lapse() -> None:
    async def night() -> tuple[dict[str, int], int, float]:
        loop = asyncio.get_running_loop()
        band = VirtualBand("vibration", key=KEY, seed=10, plant=None)
        link = MemoryLink(band, key=KEY, latency_s=0.02)
        async with link:
            start = loop.time()
            lease = 4.0
            step = 0
            while loop.time() - start < 8 * 3600:
                level = 0.3 if (step // 200) % 2 else 0.6
                await link.set_level(level, lease_s=lease, ramp_s=0.5)
                await asyncio.sleep(lease * 0.75)
                step += 1
            await link.set_level(0.0, lease_s=lease)
            elapsed = loop.time() - start
        return band.counters(), len(band.breakpoints), elapsed

    counters, rows, elapsed = run_virtual(night())
    assert elapsed >= 8 * 3600
    assert counters["expiries"] == 0
    assert counters["rejected"] == 0
    assert rows < 200  # breakpoints only where the output changes, not per refresh


def test_hung_link_band_off_within_lease_host_reports_within_5_s() -> None:
    async def scenario() -> tuple[float, float, list[str]]:
        loop = asyncio.get_running_loop()
        band = VirtualBand("pressure", key=KEY, seed=11, plant=None)
        link = MemoryLink(band, key=KEY)
        faults: list[str] = []
        link.on_link(lambda up, why: None if up else faults.append(why))
        async with link:
            await link.set_level(0.7, lease_s=3.0)
            t_freeze = loop.time()
            link.freeze()
            while band.level() > 0:
                await asyncio.sleep(0.01)
            band_off = loop.time() - t_freeze
            while link.connected:
                await asyncio.sleep(0.01)
            host_knew = loop.time() - t_freeze
        return band_off, host_knew, faults

    band_off, host_knew, faults = run_virtual(scenario())
    assert band_off == pytest.approx(3.0, abs=0.02)
    assert host_knew <= 5.0
    assert any(f.startswith("link lost: no answer") for f in faults)


def test_reconnect_with_backoff_then_resume_only_with_a_ramp() -> None:
    async def scenario() -> tuple[list[tuple[bool, str]], float, float, int]:
        loop = asyncio.get_running_loop()
        band = VirtualBand("vibration", key=KEY, seed=12, plant=None)
        link = MemoryLink(
            band, key=KEY, backoff_initial_s=0.25, backoff_max_s=2.0, resume_ramp_s=1.0
        )
        events: list[tuple[bool, str]] = []
        link.on_link(lambda up, why: events.append((up, why)))
        async with link:
            await link.set_level(1.0, lease_s=4.0)
            link.unplug()
            await asyncio.sleep(30.0)  # band away for half a minute: backoff caps at 2 s
            link.replug()
            t_back = loop.time()
            while not link.connected:
                await asyncio.sleep(0.01)
            reconnect_delay = loop.time() - t_back
            held = band.level()
            await link.set_level(1.0, lease_s=4.0)  # ramp_s=0 asked; the link imposes 1 s
            t_cmd = loop.time()
            await asyncio.sleep(0.5)
            halfway = band.level()
            assert loop.time() - t_cmd == pytest.approx(0.5, abs=0.01)
        return events, reconnect_delay, halfway, int(held)

    events, reconnect_delay, halfway, held = run_virtual(scenario())
    assert [e[0] for e in events] == [False, True]
    assert reconnect_delay <= 2.0
    assert held == 0
    assert halfway == pytest.approx(0.5, abs=0.02)


def test_band_reset_mid_session_is_reported_and_resumed_only_with_a_ramp() -> None:
    """A band that reboots behind our back is at 0: never jump back to the old level."""

    async def scenario() -> tuple[list[tuple[bool, str]], float, float]:
        band = VirtualBand("vibration", key=KEY, seed=13, plant=None)
        link = MemoryLink(band, key=KEY, resume_ramp_s=1.0)
        events: list[tuple[bool, str]] = []
        link.on_link(lambda up, why: events.append((up, why)))
        async with link:
            await link.set_level(0.5, lease_s=4.0)
            band.reset()  # watchdog: new nonce, counters restart, output off
            assert band.level() == 0.0
            with pytest.raises(LinkError, match="restarted"):
                await link.set_level(0.5, lease_s=4.0)
            await asyncio.sleep(0)  # the "talking again" news is delivered next
            await link.set_level(0.4, lease_s=4.0)
            right_after = band.level()
            await asyncio.sleep(1.0)
            return events, right_after, band.level()

    events, right_after, later = run_virtual(scenario())
    assert events and events[-1][0] is True and "restarted" in events[-1][1]
    assert right_after < 0.05  # a ramp from 0, not a step back to the old level
    assert later == pytest.approx(0.4, abs=1e-3)


def test_a_hung_transport_write_cannot_hang_off_or_close() -> None:
    """A BLE write with response has no timeout of its own; ours bounds it."""

    class HangingLink(MemoryLink):
        hang = False

        async def _send(self, message: bytes) -> None:
            if self.hang:
                await asyncio.Event().wait()  # never returns
            await super()._send(message)

    async def scenario() -> tuple[float, float]:
        loop = asyncio.get_running_loop()
        band = VirtualBand("vibration", key=KEY, seed=14, plant=None)
        link = HangingLink(band, key=KEY, reply_timeout_s=1.0)
        await link.open()
        await link.set_level(0.5, lease_s=4.0)
        link.hang = True
        t0 = loop.time()
        await link.off()  # never raises, and now never hangs either
        t_off = loop.time() - t0
        await link.close()
        t_close = loop.time() - t0
        return t_off, t_close

    t_off, t_close = run_virtual(scenario())
    assert t_off <= 1.0 + 1e-3
    assert t_close <= 2.0 + 1e-3


def test_play_and_keep_refuse_nan_and_infinity_before_sending() -> None:
    async def scenario() -> dict[str, int]:
        band = VirtualBand("vibration", key=KEY, seed=15, plant=None)
        async with MemoryLink(band, key=KEY) as link:
            with pytest.raises(ValueError, match="number"):
                await link.play([(0.1, float("nan"))], lease_s=1.0)
            with pytest.raises(OverflowError, match="finite"):
                await link.play([(float("inf"), 0.5)], lease_s=1.0)
            with pytest.raises(ValueError, match="number"):
                await link.keep(lease_s=float("nan"))
            with pytest.raises(OverflowError, match="finite"):
                await link.play([(0.1, 0.5)], lease_s=float("-inf"))
            return band.counters()

    counters = run_virtual(scenario())
    assert counters["accepted"] == 0 and counters["rejected"] == 0


def test_a_play_longer_than_the_band_queue_is_refused_before_anything_is_sent() -> None:
    # It used to go out in parts: the band played the first ones, then refused the rest.
    async def scenario() -> tuple[dict[str, int], list[tuple[float, float]]]:
        band = VirtualBand("vibration", key=KEY, seed=16, plant=None)
        async with MemoryLink(band, key=KEY) as link:
            steps = [(0.05, 0.5 if i % 2 else 0.2) for i in range(40)]
            with pytest.raises(ValueError, match="queue"):
                await link.play(steps, lease_s=2.0)
            await asyncio.sleep(1.0)
            return band.counters(), band.breakpoints

    counters, rows = run_virtual(scenario())
    assert counters["accepted"] == 0
    assert all(v == 0 for _, v in rows)


def test_a_stalled_write_leaves_no_future_exception_unretrieved() -> None:
    import gc

    class HangingLink(MemoryLink):
        hang = False

        async def _send(self, message: bytes) -> None:
            if self.hang:
                await asyncio.Event().wait()
            await super()._send(message)

    async def scenario() -> list[str]:
        loop = asyncio.get_running_loop()
        seen: list[str] = []
        loop.set_exception_handler(lambda _loop, ctx: seen.append(str(ctx.get("message"))))
        band = VirtualBand("vibration", key=KEY, seed=17, plant=None)
        link = HangingLink(band, key=KEY, reply_timeout_s=1.0)
        await link.open()
        link.hang = True
        request = loop.create_task(link.set_level(0.5, lease_s=2.0))
        await asyncio.sleep(0.5)
        link._lost("the radio went away")  # the supervisor fails every waiter
        with pytest.raises(LinkError):
            await request
        await asyncio.sleep(5.0)
        await link.close()
        del request
        gc.collect()
        await asyncio.sleep(0)
        return seen

    seen = run_virtual(scenario())
    assert not [m for m in seen if "never retrieved" in m], seen
