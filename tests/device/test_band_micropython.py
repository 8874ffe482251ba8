"""The real firmware under the MicroPython unix port: compiled by mpy-cross, driven over a pty."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from band_testlib import DEVICE, KEY, MicroBand, mpy_cross_binary, until

from device import protocol as p
from firmware_host.backends.serial_link import SerialLink
from firmware_host.errors import ActuatorError

FIRMWARE = sorted(DEVICE.glob("*.py")) + sorted((DEVICE / "unix").glob("*.py"))


@pytest.mark.parametrize("source", FIRMWARE, ids=lambda p: p.name)
def test_mpy_cross_compiles_every_firmware_file(source: Path, tmp_path: Path) -> None:
    result = subprocess.run(
        [mpy_cross_binary(), "-o", str(tmp_path / "out.mpy"), str(source)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


@pytest.fixture
def micro_band(tmp_path: Path) -> Iterator[MicroBand]:
    band = MicroBand(tmp_path)
    yield band
    band.close()


@pytest.mark.realtime
async def test_firmware_plays_a_profile_through_the_serial_backend(micro_band: MicroBand) -> None:
    # A short profile as the engine plays it: ramps, holds, lease refreshes at 75 %.
    profile = [(0.3, 0.0, 0.3), (0.8, 0.2, 0.4), (0.5, 0.0, 0.3), (0.0, 0.1, 0.1)]
    lease = 0.4
    async with SerialLink(micro_band.path, key=KEY, kind="vibration") as link:
        assert link.info is not None and link.info.paired
        for level, ramp, hold in profile:
            await link.set_level(level, lease_s=lease, ramp_s=ramp)
            waited = 0.0
            while waited < hold:
                step = min(lease * 0.75, hold - waited)
                await asyncio.sleep(step)
                waited += step
                await link.set_level(level, lease_s=lease, ramp_s=ramp)
        status = await link.status()
    duties = [d for _, d in micro_band.rows()]
    assert duties[0] == 0
    for level, _, _ in profile:
        assert p.level_to_u16(level) in duties
    peak = duties.index(p.level_to_u16(0.8))
    assert any(19661 < d < 52428 for d in duties[:peak])  # the 0.2 s ramp was stepped
    assert duties[-1] == 0
    assert status.lease_expiries == 0
    assert status.rejected == 0


@pytest.mark.realtime
async def test_firmware_cuts_output_when_the_lease_runs_out(micro_band: MicroBand) -> None:
    async with SerialLink(micro_band.path, key=KEY) as link:
        await link.set_level(1.0, lease_s=0.3)
        await until(lambda: micro_band.level() == 1.0, 1.0, "on")
        on_ns = micro_band.rows()[-1][0]
        await until(lambda: micro_band.level() == 0.0, 2.0, "lease expiry")
        off_ns = micro_band.rows()[-1][0]
        assert 0.28 <= (off_ns - on_ns) / 1e9 <= 0.5


@pytest.mark.realtime
async def test_firmware_refuses_wrong_key(micro_band: MicroBand) -> None:
    async with SerialLink(micro_band.path, key=bytes(range(1, 33))) as link:
        with pytest.raises(ActuatorError, match="bad tag"):
            await link.set_level(1.0, lease_s=1.0)
        status = await link.status()
    assert status.rejected >= 1
    assert all(d == 0 for _, d in micro_band.rows())


@pytest.mark.realtime
async def test_unpaired_firmware_pairs_over_usb(tmp_path: Path) -> None:
    band = MicroBand(tmp_path, key=None)
    try:
        async with SerialLink(band.path) as link:
            assert link.info is not None and not link.info.paired
            await link.pair(KEY)
            await link.set_level(0.5, lease_s=0.5)
            await until(lambda: band.level() > 0.49, 1.0, "on after pairing")
        assert (band.fs / "pc6_key.bin").read_bytes() == KEY
    finally:
        band.close()
