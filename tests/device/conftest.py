"""Fixtures for the band tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Band keys go to a fresh directory per test."""
    path = tmp_path / "config"
    monkeypatch.setenv("PC6_CONFIG_DIR", str(path))
    return path
