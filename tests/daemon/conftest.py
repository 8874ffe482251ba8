"""Fixtures for the daemon tests (helpers live in daemon_testlib)."""

from __future__ import annotations

from pathlib import Path

import pytest
from daemon_testlib import SHORT_PROFILE


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private state and config directory with the short profile in ``profiles/``."""
    monkeypatch.setenv("PC6_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("PC6_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    monkeypatch.delenv("WATCHDOG_USEC", raising=False)
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "short.toml").write_text(SHORT_PROFILE)
    return tmp_path
