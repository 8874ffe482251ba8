"""The host's serial backend against the virtual band on a real pseudo-terminal (real time)."""

from __future__ import annotations

import asyncio
import os
import stat
from pathlib import Path

import pytest
from band_testlib import KEY, until
from pc6_sim.band import PtyBand, VirtualBand

from firmware_host.drive.band import serial as serial_link
from firmware_host.drive.band.link import key_path
from firmware_host.errors import ActuatorError, InvalidInput, LinkError

pytestmark = pytest.mark.realtime


def fast(**extra: object) -> dict[str, object]:
    """Short timings so loss and reconnect tests stay short."""
    return {
        "ping_interval_s": 0.2,
        "link_timeout_s": 0.8,
        "reply_timeout_s": 0.5,
        "backoff_initial_s": 0.05,
        "backoff_max_s": 0.4,
        **extra,
    }


async def test_plays_levels_with_leases_and_refreshes() -> None:
    band = VirtualBand("vibration", key=KEY, seed=1)
    pty = PtyBand(band)
    link = serial_link.create(port=pty.start(), key=KEY.hex(), kind="vibration")
    async with link:
        assert link.capabilities.max_lease_s == 5.0
        assert link.capabilities.can_ramp
        await link.set_level(0.25, lease_s=0.3)
        assert band.level() == pytest.approx(0.25, abs=1e-4)
        for _ in range(4):  # the engine refreshes at 75 % of the lease
            await asyncio.sleep(0.225)
            await link.set_level(0.25, lease_s=0.3)
        assert band.level() == pytest.approx(0.25, abs=1e-4)
        assert band.counters()["expiries"] == 0
        await link.set_level(0.0, lease_s=0.0)  # what the safety gate sends for "off"
        assert band.level() == 0.0
        with pytest.raises(ActuatorError, match="lease"):
            await link.set_level(0.5, lease_s=0.0)
    pty.close()


async def test_lease_expires_on_the_band_when_the_host_stops_refreshing() -> None:
    band = VirtualBand("pressure", key=KEY, seed=2)
    pty = PtyBand(band)
    link = serial_link.create(port=pty.start(), key=KEY)
    faults: list[str] = []
    link.on_fault(faults.append)
    async with link:
        await link.set_level(0.6, lease_s=0.2)
        took = await until(lambda: band.level() == 0.0, 1.0, "lease expiry")
        assert took < 0.3
        await until(lambda: any("lease expired" in f for f in faults), 1.0, "FAULT")
    pty.close()


async def test_open_turns_the_band_off() -> None:
    band = VirtualBand("vibration", key=KEY, seed=3)
    pty = PtyBand(band)
    path = pty.start()
    first = serial_link.create(port=path, key=KEY)
    await first.open()
    await first.set_level(1.0, lease_s=5.0)
    await first._disconnect()  # the host goes away without a word
    second = serial_link.create(port=path, key=KEY)
    async with second:
        assert band.level() == 0.0
        await second.set_level(0.5, lease_s=1.0)  # counters carry on from the band's
        assert band.level() == pytest.approx(0.5, abs=1e-4)
    await first.close()
    pty.close()


async def test_unplug_reports_loss_band_off_and_reconnect_holds_off(tmp_path: Path) -> None:
    band = VirtualBand("vibration", key=KEY, seed=4)
    pty = PtyBand(band, link=tmp_path / "ttyBAND")
    link = serial_link.create(port=pty.start(), key=KEY, **fast(resume_ramp_s=0.5))
    events: list[tuple[bool, str]] = []
    link.on_link(lambda up, why: events.append((up, why)))
    faults: list[str] = []
    link.on_link(lambda up, why: None if up else faults.append(why))
    async with link:
        await link.set_level(0.8, lease_s=2.0)
        pty.unplug()
        assert band.level() == 0.0
        took = await until(lambda: not link.connected, 5.0, "loss")
        assert took < 5.0
        assert any(f.startswith("link lost:") for f in faults)
        with pytest.raises(LinkError):
            await link.set_level(0.8, lease_s=2.0)
        pty.replug()
        await until(lambda: link.connected, 5.0, "reconnect")
        assert events[0][0] is False and events[-1] == (True, "reconnected")
        assert band.level() == 0.0  # nothing resumes by itself
        await link.set_level(0.8, lease_s=2.0)  # the engine resumes: the link ramps it in
        assert 0.0 <= band.level() < 0.2
        await until(lambda: band.level() > 0.79, 2.0, "ramp up")
    pty.close()


async def test_silent_band_is_detected_by_ping_within_5_s() -> None:
    band = VirtualBand("vibration", key=KEY, seed=5)
    pty = PtyBand(band)
    link = serial_link.create(port=pty.start(), key=KEY, link_timeout_s=3.0)
    async with link:
        loop = asyncio.get_running_loop()
        loop.remove_reader(pty._master)  # the band hangs: it reads nothing, answers nothing
        took = await until(lambda: not link.connected, 6.0, "loss by ping")
        assert took <= 5.0
    pty.close()


async def test_wrong_key_refuses_and_nothing_moves() -> None:
    band = VirtualBand("vibration", key=KEY, seed=6)
    pty = PtyBand(band)
    link = serial_link.create(port=pty.start(), key=bytes(range(1, 33)))
    async with link:
        with pytest.raises(ActuatorError, match="bad tag"):
            await link.set_level(1.0, lease_s=1.0)
        assert band.level() == 0.0
        assert band.counters()["accepted"] == 0
    pty.close()


async def test_pairing_stores_the_key_and_later_links_find_it(config_dir: Path) -> None:
    band = VirtualBand("vibration", seed=7)
    pty = PtyBand(band)
    path = pty.start()
    link = serial_link.create(port=path)
    async with link:
        assert link.info is not None and not link.info.paired
        with pytest.raises(ActuatorError, match="pair"):
            await link.set_level(0.5, lease_s=1.0)
        new_key = os.urandom(32)
        await link.pair(new_key)
        from firmware_host.drive.band.link import store_key

        stored = store_key(link.info.band_id, new_key)
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    assert stored == key_path(link.info.band_id)
    assert str(stored).startswith(str(config_dir))
    again = serial_link.create(port=path)
    async with again:
        await again.set_level(0.5, lease_s=1.0)
        assert band.level() == pytest.approx(0.5, abs=1e-4)
    pty.close()


async def test_missing_port_is_a_link_error() -> None:
    link = serial_link.create(port="/dev/does-not-exist")
    with pytest.raises(LinkError, match="cannot open"):
        await link.open()
    await link.close()
    await link.off()


def test_create_rejects_bad_options() -> None:
    with pytest.raises(InvalidInput, match="port"):
        serial_link.create()
    with pytest.raises(InvalidInput, match="unknown option"):
        serial_link.create(port="/dev/null", colour="red")
    with pytest.raises(InvalidInput, match="kind"):
        serial_link.create(port="/dev/null", kind="heat")
    with pytest.raises(InvalidInput, match=r"32 bytes|hex"):
        serial_link.create(port="/dev/null", key="abcd")
