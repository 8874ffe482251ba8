"""``pc6 sim band`` and ``pc6 band …`` as a person runs them."""

from __future__ import annotations

import argparse
import functools
import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from band_testlib import KEY, ROOT, until
from pc6_sim.band import VirtualBand
from pc6_sim.bumble_backend import BumbleWorld

from firmware_host.cli import band as band_cli
from firmware_host.cli.main import main as pc6
from firmware_host.drive.band import ble as ble_link


def sim_band(*args: str) -> tuple[subprocess.Popen[str], str]:
    env = dict(os.environ, PYTHONPATH=f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    proc = subprocess.Popen(
        [sys.executable, "-m", "firmware_host.cli.main", "sim", "band", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    return proc, proc.stdout.readline().rstrip("\n")


def stop(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=5) == 0


@pytest.mark.realtime
def test_sim_band_prints_pty_path_then_pair_info_and_trace(
    tmp_path: Path, config_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trace = tmp_path / "trace.csv"
    proc, path = sim_band("--serial", "--kind", "pressure", "--trace", str(trace))
    try:
        assert path.startswith("/dev/pts/")
        assert trace.read_text() == "t_s,level\n0.000,0.00000\n"
        assert band_cli.band_main(["pair", "--port", path]) == 0
        out = capsys.readouterr().out
        assert "paired pressure band" in out
        keys = list((config_dir / "bands").glob("*.key"))
        assert len(keys) == 1
        assert stat.S_IMODE(keys[0].stat().st_mode) == 0o600
        assert band_cli.band_main(["info", "--port", path]) == 0
        info = capsys.readouterr().out
        assert "kind:           pressure" in info
        assert "paired:         yes" in info
        assert "max lease:      3 s" in info
    finally:
        stop(proc)


@pytest.mark.realtime
def test_sim_band_trace_survives_a_kill(tmp_path: Path) -> None:
    import asyncio

    from firmware_host.drive.band.serial import SerialLink

    trace = tmp_path / "trace.csv"
    key_file = tmp_path / "key"
    key_file.write_text(KEY.hex())
    proc, path = sim_band("--serial", "--trace", str(trace), "--key-file", str(key_file))

    async def drive() -> None:
        async with SerialLink(path, key=KEY) as link:
            await link.set_level(0.5, lease_s=5.0, ramp_s=0.1)
            await until(lambda: "0.50001" in trace.read_text(), 2.0, "ramp end row")
            proc.kill()  # the band dies with its output on; the rows so far are on disk
            proc.wait()

    asyncio.run(drive())
    rows = trace.read_text().splitlines()
    assert rows[0] == "t_s,level"
    points = [(float(t), float(v)) for t, v in (r.split(",") for r in rows[1:])]
    assert [v for _, v in points][-3:] == [0.0, 0.0, 0.50001]
    ramp = points[-1][0] - points[-2][0]
    assert ramp == pytest.approx(0.1, abs=0.002)


def test_sim_band_invalid_input_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    # `pc6 sim band` is the simulator's, reached through the pc6 command line by entry point.
    assert pc6(["sim", "band"]) == 2
    assert "--serial" in capsys.readouterr().err
    assert pc6(["sim", "band", "--serial", "--kind", "heat"]) == 2
    assert pc6(["sim", "band", "--serial", "--ceiling", "3"]) == 2


def test_band_invalid_input_exits_2() -> None:
    assert band_cli.band_main([]) == 2
    assert band_cli.band_main(["pair"]) == 2
    assert band_cli.band_main(["info"]) == 2
    assert band_cli.band_main(["frobnicate"]) == 2


def test_band_pair_on_a_missing_port_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    assert band_cli.band_main(["pair", "--port", "/dev/nonexistent"]) == 1
    assert "cannot open /dev/nonexistent" in capsys.readouterr().err


def test_flash_dry_run_lists_the_firmware(capsys: pytest.CaptureFixture[str]) -> None:
    assert band_cli.band_main(["flash", "--port", "/dev/ttyACM0", "--dry-run"]) == 0
    command = capsys.readouterr().out
    assert command.startswith("mpremote connect /dev/ttyACM0 fs cp ")
    for name in band_cli.FIRMWARE_FILES:
        assert f"device/{name}" in command
    assert "pc6_config.json" in command


async def test_scan_lists_bands(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    world = BumbleWorld()
    peripheral = await world.add_band(VirtualBand(seed=1, plant=None))
    monkeypatch.setattr(
        ble_link,
        "scan_bands",
        functools.partial(ble_link.scan_bands, backend=world.scanner_backend),
    )
    await band_cli._scan(argparse.Namespace(timeout=0.3))
    assert peripheral.address in capsys.readouterr().out


@pytest.mark.realtime
def test_sim_band_keeps_its_id_across_restarts_so_a_pairing_carries_over(
    tmp_path: Path, config_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # It drew a new id at every start, so the host looked for a key that was not there.
    key_file = tmp_path / "band.key"
    proc, path = sim_band("--serial", "--key-file", str(key_file))
    try:
        assert band_cli.band_main(["pair", "--port", path]) == 0
    finally:
        stop(proc)
    capsys.readouterr()
    proc, path = sim_band("--serial", "--key-file", str(key_file))
    try:
        assert band_cli.band_main(["info", "--port", path]) == 0
        assert "paired:         yes" in capsys.readouterr().out
        import asyncio

        from firmware_host.drive.band.serial import SerialLink

        async def drive() -> None:  # the stored key (found by band id) moves it
            async with SerialLink(path) as link:
                await link.set_level(0.5, lease_s=1.0)

        asyncio.run(drive())
    finally:
        stop(proc)
    assert len(list((config_dir / "bands").glob("*.key"))) == 1
