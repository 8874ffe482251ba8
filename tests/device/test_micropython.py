"""The real firmware under the MicroPython unix port: compiled by mpy-cross, driven over a pty."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from band_testlib import DEVICE, KEY, MicroBand, mpy_cross_binary, until
from pc6_device import protocol as p

from firmware_host.drive.band.serial import SerialLink
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


@pytest.mark.realtime
def test_pc6_run_plays_a_profile_on_the_real_firmware(tmp_path: Path) -> None:
    """The builder's path on the real firmware: pair over USB, then ``pc6 run`` a profile."""
    import os
    import sys

    band = MicroBand(tmp_path / "band", key=None)
    env = {
        **os.environ,
        "PC6_CONFIG_DIR": str(tmp_path / "cfg"),
        "PC6_STATE_DIR": str(tmp_path / "state"),
    }
    pc6 = [sys.executable, "-m", "firmware_host.cli.main"]
    profile = tmp_path / "short.toml"
    profile.write_text(
        'name = "short"\ndescription = "d"\nkinds = ["vibration"]\n'
        '[[steps]]\nramp = 0.6\nover = "500ms"\n[[steps]]\nhold = "600ms"\n'
        '[[steps]]\nset = 0.3\nfor = "400ms"\n[[steps]]\nramp = 0\nover = "300ms"\n'
    )
    try:
        pair = subprocess.run(
            [*pc6, "band", "pair", "--port", band.path],
            capture_output=True,
            text=True,
            env=env,
            timeout=30,
        )
        assert pair.returncode == 0, pair.stderr
        run = subprocess.run(
            [*pc6, "run", str(profile), "--backend", "serial", "--port", band.path],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        assert run.returncode == 0, run.stderr
        assert "session completed" in run.stdout
    finally:
        band.close()
    rows = band.rows()
    duties = [d for _, d in rows]
    assert duties[-1] == 0
    assert max(duties) == p.level_to_u16(0.6)
    assert p.level_to_u16(0.3) in duties
    first = next(i for i, d in enumerate(duties) if d > 0)
    peak = duties.index(p.level_to_u16(0.6))
    assert peak - first >= 3  # the 0.5 s ramp was played as a ramp on the band, not a step
    ramp_s = (rows[peak][0] - rows[first][0]) / 1e9
    assert 0.35 <= ramp_s <= 0.6


@pytest.mark.realtime
async def test_firmware_cuts_on_time_under_a_continuous_stream_of_bytes(
    micro_band: MicroBand,
) -> None:
    # The read loop used to keep reading while bytes kept coming, and the lease was
    # enforced only when the stream paused: 1.01–1.61 s for a 1 s lease.
    import threading

    stop = threading.Event()

    def flood() -> None:
        noise = bytes(range(1, 256)) * 4  # never a 0x00: one endless corrupt frame
        while not stop.is_set():
            with contextlib.suppress(BlockingIOError):
                os.write(micro_band.slave, noise)

    async with SerialLink(micro_band.path, key=KEY) as link:
        await link.set_level(1.0, lease_s=1.0)
        await until(lambda: micro_band.level() == 1.0, 1.0, "on")
        on_ns = micro_band.rows()[-1][0]
        writer = threading.Thread(target=flood, daemon=True)
        writer.start()
        try:
            await until(lambda: micro_band.level() == 0.0, 4.0, "lease expiry")
        finally:
            stop.set()
            writer.join()
        off_ns = micro_band.rows()[-1][0]
    assert 0.95 <= (off_ns - on_ns) / 1e9 <= 1.05
