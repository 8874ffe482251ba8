"""Fixtures for the web tests: a real daemon on the simulator and a real ``pc6 web``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from web_testlib import Daemon, Web, write_config


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private state and config directory."""
    monkeypatch.setenv("PC6_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("PC6_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    monkeypatch.delenv("WATCHDOG_USEC", raising=False)
    write_config(tmp_path)
    return tmp_path


@pytest.fixture
def daemon(home: Path) -> Iterator[Daemon]:
    """``pc6 daemon`` on the simulator, stopped (SIGTERM) after the test."""
    d = Daemon(home)
    d.start()
    yield d
    d.stop()


@pytest.fixture
def web(home: Path, daemon: Daemon) -> Iterator[Web]:
    """``pc6 web`` on a free loopback port, talking to ``daemon``."""
    w = Web(home, daemon.socket)
    w.start()
    yield w
    w.stop()
