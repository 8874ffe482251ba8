"""Where pc6band keeps its state and config (XDG base directories, overridable)."""

from __future__ import annotations

import os
from pathlib import Path


def state_dir() -> Path:
    """``$PC6_STATE_DIR``, else ``$XDG_STATE_HOME/pc6band``, else ``~/.local/state/pc6band``."""
    override = os.environ.get("PC6_STATE_DIR")
    if override:
        return Path(override)
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "pc6band"


def config_dir() -> Path:
    """``$PC6_CONFIG_DIR``, else ``$XDG_CONFIG_HOME/pc6band``, else ``~/.config/pc6band``."""
    override = os.environ.get("PC6_CONFIG_DIR")
    if override:
        return Path(override)
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "pc6band"


def default_journal_path() -> Path:
    """The journal database inside the state directory."""
    return state_dir() / "journal.sqlite"
