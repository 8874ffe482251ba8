"""Band keys on disk: `pc6 band pair` for the service user, file and folder modes."""

from __future__ import annotations

import os
import pwd
import signal
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

PC6 = str(Path(sys.executable).parent / "pc6")


@pytest.fixture
def band_port() -> Iterator[str]:
    """A simulated band on a pseudo-terminal (`pc6 sim band --serial`), never paired."""
    proc = subprocess.Popen(
        [PC6, "sim", "band", "--serial"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    yield proc.stdout.readline().rstrip("\n")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0


def pc6(*argv: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PC6, *argv], capture_output=True, text=True, timeout=120, env={**os.environ, **env}
    )


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.realtime
def test_pair_for_the_service_user_puts_the_key_where_the_daemon_reads_it(
    band_port: str, tmp_path: Path
) -> None:
    if os.geteuid() != 0:
        pytest.fail("giving a file to another user needs root (CI runs the suite as root)")
    nobody = pwd.getpwnam("nobody")
    root = tmp_path / "system"
    run = pc6("band", "pair", "--port", band_port, "--for-service", "nobody",
              PC6_SYSTEM_ROOT=str(root))  # fmt: skip
    assert run.returncode == 0, run.stderr
    folder = root / "etc" / "pc6band" / "bands"
    (key,) = folder.glob("*.key")
    assert f"key in {key}" in run.stdout
    assert (_mode(folder), _mode(key)) == (0o700, 0o600)
    for path in (folder, key):
        assert (path.stat().st_uid, path.stat().st_gid) == (nobody.pw_uid, nobody.pw_gid)
    # The daemon runs with PC6_CONFIG_DIR=/etc/pc6band: with that, the band opens paired.
    info = pc6("band", "info", "--port", band_port, PC6_CONFIG_DIR=str(root / "etc" / "pc6band"))
    assert info.returncode == 0 and "paired:         yes" in info.stdout, info.stderr


def test_pair_for_a_missing_user_touches_nothing(band_port: str, tmp_path: Path) -> None:
    run = pc6("band", "pair", "--port", band_port, "--for-service", "pc6-no-such-user",
              PC6_SYSTEM_ROOT=str(tmp_path))  # fmt: skip
    assert run.returncode == 2
    assert "--for-service: no user 'pc6-no-such-user'" in run.stderr
    info = pc6("band", "info", "--port", band_port)
    assert "paired:         no" in info.stdout  # the band still has no key


@pytest.mark.realtime
def test_an_open_bands_folder_is_tightened_and_an_open_key_warned_about(
    band_port: str, config_dir: Path
) -> None:
    folder = config_dir / "bands"
    folder.mkdir(parents=True)
    folder.chmod(0o777)
    run = pc6("band", "pair", "--port", band_port)
    assert run.returncode == 0, run.stderr
    assert _mode(folder) == 0o700
    assert f"band key folder {folder} was mode 0777; tightened to 0700" in run.stderr
    (key,) = folder.glob("*.key")
    key.chmod(0o644)
    info = pc6("band", "info", "--port", band_port)
    assert info.returncode == 0 and "paired:         yes" in info.stdout
    assert f"band key file {key} is mode 0644" in info.stderr
    assert f"chmod 600 {key}" in info.stderr


@pytest.mark.realtime
def test_pair_to_a_named_key_file(band_port: str, tmp_path: Path) -> None:
    target = tmp_path / "keys" / "wrist.key"
    run = pc6("band", "pair", "--port", band_port, "--key-file", str(target))
    assert run.returncode == 0, run.stderr
    assert _mode(target) == 0o600 and _mode(target.parent) == 0o700
    assert f'key_file = "{target}"' in run.stdout
