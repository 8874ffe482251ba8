"""Files a person names are read one way: a FIFO or a device is refused at once, in one line.

Every command that reads the config, an import file or the web token file goes through
``firmware_host.files``: ``/dev/zero`` (which would fill memory) and a FIFO (which would
hang the read forever) give ``cannot read: not a regular file`` and exit 2.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from firmware_host.files import UnsuitableFile, read_regular

PC6 = str(Path(sys.executable).parent / "pc6")


@pytest.fixture
def odd(tmp_path: Path) -> dict[str, Path]:
    zero = tmp_path / "zero.toml"
    zero.symlink_to("/dev/zero")
    fifo = tmp_path / "fifo.toml"
    os.mkfifo(fifo)
    return {"zero": zero, "fifo": fifo}


def _pc6(tmp_path: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HOME": str(tmp_path), "PC6_STATE_DIR": str(tmp_path / "state")}
    # A short timeout: without the check, the FIFO hangs and /dev/zero eats memory.
    return subprocess.run(
        [PC6, *argv], capture_output=True, text=True, timeout=30, env=env, cwd=tmp_path
    )


@pytest.mark.parametrize(
    ("which", "argv"),
    [
        ("zero", ("config", "check", "{}")),
        ("fifo", ("config", "check", "{}")),
        ("zero", ("run", "evening-pc6", "--fast", "--config", "{}")),
        ("fifo", ("sim", "night", "--config", "{}")),
        ("zero", ("log", "--config", "{}")),
        ("zero", ("ctl", "--config", "{}", "status")),
        ("zero", ("import", "csv", "{}")),
        ("fifo", ("import", "sleep-as-android", "{}")),
        ("zero", ("import", "fitbit", "{}")),
        ("fifo", ("import", "apple-health", "{}")),
        ("fifo", ("import", "gadgetbridge", "{}")),
        ("zero", ("profile", "show", "{}")),
    ],
)
def test_a_device_or_fifo_is_one_line_and_exit_2(
    tmp_path: Path, odd: dict[str, Path], which: str, argv: tuple[str, ...]
) -> None:
    path = odd[which]
    run = _pc6(tmp_path, *(a.format(path) for a in argv))
    assert run.returncode == 2, run.stderr
    assert (
        run.stderr.strip().splitlines() == [run.stderr.strip()]
        and "not a regular file" in run.stderr
    )
    assert str(path.name) in run.stderr and "Traceback" not in run.stderr


def test_web_token_file_on_dev_zero_is_refused_in_one_line(
    tmp_path: Path, odd: dict[str, Path]
) -> None:
    run = _pc6(tmp_path, "web", "--tokens", str(odd["zero"]), "tokens")
    assert run.returncode != 0 and "Traceback" not in run.stderr
    assert "not a regular file" in run.stderr and len(run.stderr.strip().splitlines()) == 1


def test_read_regular_refuses_a_file_over_the_cap(tmp_path: Path) -> None:
    big = tmp_path / "big.toml"
    big.write_bytes(b"#" * 2049)
    with pytest.raises(UnsuitableFile, match=r"larger than a config file may be \(2048 bytes\)"):
        read_regular(big, limit=2048, what="a config file")
    assert read_regular(big, limit=4096) == b"#" * 2049
