"""Fixtures for the core tests (helpers live in core_testlib, a unique module name)."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def state_dir(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A private XDG state directory, so tests never touch the user's journal."""
    monkeypatch.setenv("PC6_STATE_DIR", str(tmp_path / "state"))
    return tmp_path / "state"
