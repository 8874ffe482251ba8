"""The host's unmodified bleak code against a simulated band over bumble's in-process radio."""

from __future__ import annotations

import asyncio

import pytest
from band_testlib import KEY, until
from pc6_sim.band import VirtualBand
from pc6_sim.bumble_backend import BumbleWorld, SimBlePeripheral, bumble_security_check

from firmware_host.drive.band import ble as ble_link
from firmware_host.drive.band.ble import BleLink, scan_bands
from firmware_host.errors import LinkError


async def world_with_band(
    *, encrypt: bool = True, seed: int = 1, kind: str = "vibration"
) -> tuple[BumbleWorld, SimBlePeripheral]:
    world = BumbleWorld(encrypt=encrypt)
    band = VirtualBand(kind, key=KEY, seed=seed, plant=None)
    return world, await world.add_band(band)


def link_for(world: BumbleWorld, peripheral: SimBlePeripheral, **options: object) -> BleLink:
    return ble_link.create(
        address=peripheral.address,
        backend=world.client_backend,
        security_check=bumble_security_check,
        key=KEY,
        **options,
    )


async def test_scan_finds_the_band() -> None:
    world, peripheral = await world_with_band()
    found = await scan_bands(timeout_s=0.3, backend=world.scanner_backend)
    assert [(a, n) for a, n, _ in found] == [(peripheral.address, "pc6band")]


async def test_plays_levels_over_ble() -> None:
    world, peripheral = await world_with_band(kind="pressure")
    band = peripheral.band
    async with link_for(world, peripheral) as link:
        assert link.capabilities.kind == "pressure"
        assert link.capabilities.max_lease_s == 3.0
        await link.set_level(0.4, lease_s=2.0, ramp_s=0.0)
        assert band.level() == pytest.approx(0.4, abs=1e-4)
        await link.set_level(0.4, lease_s=2.0)  # a refresh: KEEP, the level stays
        status = await link.status()
        assert status.level == pytest.approx(0.4, abs=1e-4)
        await link.play([(0.1, 0.8), (0.1, 0.0)], lease_s=2.0)
        await until(lambda: band.level() == 0.0 and len(band.breakpoints) >= 5, 2.0, "play")
        assert max(v for _, v in band.breakpoints) == pytest.approx(0.8, abs=1e-4)


async def test_refuses_to_actuate_over_an_unencrypted_link() -> None:
    world, peripheral = await world_with_band(encrypt=False)
    link = link_for(world, peripheral)
    with pytest.raises(LinkError, match="not encrypted"):
        await link.open()
    assert peripheral.band.counters()["accepted"] == 0
    await link.close()


async def test_band_refuses_unencrypted_writes_even_if_the_host_would_not() -> None:
    world = BumbleWorld(encrypt=False)
    band = VirtualBand("vibration", key=KEY, seed=2, plant=None)
    peripheral = await world.add_band(band)
    # A careless host that skips the check: the band's encrypted-write rule still holds.
    peripheral.rx.permissions |= peripheral.rx.WRITE_REQUIRES_ENCRYPTION
    link = ble_link.create(
        address=peripheral.address,
        backend=world.client_backend,
        security_check=lambda _c: None,
        key=KEY,
    )
    with pytest.raises(LinkError):
        await link.open()
    assert peripheral.writes == 0
    assert band.level() == 0.0
    await link.close()


async def test_disconnect_band_off_within_lease_host_reports_and_reconnects() -> None:
    world, peripheral = await world_with_band(seed=3)
    band = peripheral.band
    link = link_for(world, peripheral, backoff_initial_s=0.05, backoff_max_s=0.5)
    faults: list[str] = []
    link.on_link(lambda up, why: None if up else faults.append(why))
    async with link:
        await link.set_level(0.9, lease_s=0.5)
        loop = asyncio.get_running_loop()
        t_drop = loop.time()
        await peripheral.drop()
        await until(lambda: not link.connected or link.reconnects > 0, 5.0, "loss")
        assert loop.time() - t_drop < 5.0
        assert any(f.startswith("link lost:") for f in faults)
        await until(lambda: band.level() == 0.0, 1.0, "band off")
        assert loop.time() - t_drop <= 0.5 + 0.1
        await until(lambda: link.connected, 5.0, "reconnect")
        assert band.level() == 0.0
        await link.set_level(0.9, lease_s=0.5)
        assert band.level() < 0.1  # resumes with the link's minimum ramp


async def test_the_host_bonds_again_by_itself_when_the_band_lost_its_bond() -> None:
    # The central here does not pair on connect, as after a band reset lost the bond.
    # The default check bonds through bleak's public pair(); it used to read BlueZ's
    # private state, refuse, and leave the night without stimulation.
    world, peripheral = await world_with_band(encrypt=False, seed=21)
    link = BleLink(peripheral.address, key=KEY, backend=world.client_backend, connect_timeout_s=5.0)
    async with link:
        await link.set_level(0.5, lease_s=2.0)
        status = await link.status()
    assert status.level == pytest.approx(0.5, abs=1e-4)
    assert status.rejected == 0
