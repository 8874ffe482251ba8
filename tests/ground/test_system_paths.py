"""A builder's `pc6` finds the system service's config, socket and journal with no flags."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

PC6 = str(Path(sys.executable).parent / "pc6")


@pytest.fixture
def builder_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A login user with no config of their own, on a system where the service is installed."""
    root = tmp_path / "sys"
    (root / "etc/pc6band").mkdir(parents=True)
    (root / "etc/pc6band/pc6band.toml").write_text('[control]\ngroup = "pc6band"\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PC6_", "XDG_"))}
    env.pop("RUNTIME_DIRECTORY", None)
    env.update(HOME=str(tmp_path / "home"), PC6_SYSTEM_ROOT=str(root))
    env["XDG_RUNTIME_DIR"] = str(tmp_path / "run-user")
    return env


def _pc6(env: dict[str, str], *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PC6, *argv], capture_output=True, text=True, env=env, timeout=60)


def test_config_show_names_the_system_config_socket_and_journal(
    builder_env: dict[str, str],
) -> None:
    root = Path(builder_env["PC6_SYSTEM_ROOT"])
    out = _pc6(builder_env, "config", "show").stdout
    assert f"effective config from {root}/etc/pc6band/pc6band.toml" in out
    assert f'socket = "{root}/run/pc6band/control.sock"' in out
    assert f'path = "{root}/var/lib/pc6band/journal.sqlite"' in out


def test_ctl_without_flags_goes_to_the_system_socket(builder_env: dict[str, str]) -> None:
    root = Path(builder_env["PC6_SYSTEM_ROOT"])
    done = _pc6(builder_env, "ctl", "status")
    assert done.returncode != 0
    assert f"{root}/run/pc6band/control.sock" in done.stderr
    assert "Traceback" not in done.stderr


def test_own_config_wins_over_the_system_one(builder_env: dict[str, str], tmp_path: Path) -> None:
    own = tmp_path / "home/.config/pc6band/pc6band.toml"
    own.parent.mkdir(parents=True)
    own.write_text("")
    out = _pc6(builder_env, "config", "show").stdout
    assert f"effective config from {own}" in out
    assert f'socket = "{tmp_path}/run-user/pc6band.sock"' in out


def test_no_system_install_means_the_user_defaults(builder_env: dict[str, str]) -> None:
    root = Path(builder_env["PC6_SYSTEM_ROOT"])
    (root / "etc/pc6band/pc6band.toml").unlink()
    out = _pc6(builder_env, "config", "show").stdout
    assert "not found: defaults" in out and str(root) not in out
