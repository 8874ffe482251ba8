"""Where pc6band keeps its state and config (XDG base directories, overridable).

Two sets of places: a user's own (XDG, for ``pc6 run`` and a daemon started by hand), and the
system service's, which ``pc6 service install`` creates (``/etc/pc6band``,
``/var/lib/pc6band``, ``/run/pc6band``). A builder in the service's group who types
``pc6 ctl status`` or ``pc6 log`` with no flags reaches the system daemon when one is
installed and they have no config of their own.

The lookup rules themselves are in ``places.py``, as plain strings: ``pc6 ctl`` follows
them without importing ``pathlib``. This module is the ``Path`` API everything else uses.
"""

from __future__ import annotations

import os
from pathlib import Path

from firmware_host import places
from firmware_host.places import SERVICE_NAME, SYSTEM_CONFIG, SYSTEM_SOCKET


class SystemPaths:
    """The system service's places; ``root`` moves them all (tests, staging installs).

    A plain class, not a dataclass: ``pc6 ctl`` imports this module, and ``dataclasses``
    (with ``inspect``) would cost it about 9 ms of the stop button's start-up.
    """

    __slots__ = ("root",)

    def __init__(self, root: Path = Path("/")) -> None:
        self.root = root

    def __repr__(self) -> str:
        return f"SystemPaths(root={self.root!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SystemPaths) and other.root == self.root

    def __hash__(self) -> int:
        return hash(self.root)

    @property
    def config_dir(self) -> Path:
        """``/etc/pc6band``: the config, profiles and band keys (root-owned folder)."""
        return self.config.parent

    @property
    def config(self) -> Path:
        """``/etc/pc6band/pc6band.toml``."""
        return self.root.joinpath(*SYSTEM_CONFIG)

    @property
    def state_dir(self) -> Path:
        """``/var/lib/pc6band``: the journal, owned by the service user."""
        return self.root / "var" / "lib" / SERVICE_NAME

    @property
    def journal(self) -> Path:
        """``/var/lib/pc6band/journal.sqlite``."""
        return self.state_dir / "journal.sqlite"

    @property
    def runtime_dir(self) -> Path:
        """``/run/pc6band``: the control socket (systemd's ``RuntimeDirectory=``)."""
        return self.socket.parent

    @property
    def socket(self) -> Path:
        """``/run/pc6band/control.sock``."""
        return self.root.joinpath(*SYSTEM_SOCKET)

    @property
    def unit(self) -> Path:
        """``/etc/systemd/system/pc6band.service``."""
        return self.root / "etc" / "systemd" / "system" / f"{SERVICE_NAME}.service"


def system_paths() -> SystemPaths:
    """The system service's places; ``$PC6_SYSTEM_ROOT`` moves them (tests only)."""
    return SystemPaths(Path(places.system_root()))


def system_installed() -> bool:
    """Whether ``pc6 service install`` has put a system config in place."""
    return system_paths().config.exists()


def state_dir() -> Path:
    """``$PC6_STATE_DIR``, else ``$XDG_STATE_HOME/pc6band``, else ``~/.local/state/pc6band``."""
    return Path(places.state_dir())


def config_dir() -> Path:
    """``$PC6_CONFIG_DIR``, else ``$XDG_CONFIG_HOME/pc6band``, else ``~/.config/pc6band``."""
    return Path(places.config_dir())


def user_config_path() -> Path:
    """The user's own config file (it may not exist)."""
    return Path(places.user_config())


def default_config_path() -> Path:
    """The config to use when none is named.

    ``$PC6_CONFIG``; else the user's own file when it exists; else the system service's
    ``/etc/pc6band/pc6band.toml`` when it is installed; else the user's (missing: defaults).
    """
    return Path(places.default_config())


def is_system_config(path: Path) -> bool:
    """Whether ``path`` is the system service's config (so its defaults are the service's)."""
    return places.is_system_config(str(path))


def default_journal_path(config: Path | None = None) -> Path:
    """The journal: the service's for the system config, else in the state directory."""
    if "PC6_STATE_DIR" not in os.environ and config is not None and is_system_config(config):
        return system_paths().journal
    return state_dir() / "journal.sqlite"


def default_socket_path(config: Path | None = None) -> Path:
    """The control socket when the config does not name one.

    ``$PC6_SOCKET``; systemd's ``$RUNTIME_DIRECTORY`` (inside the service); the service's
    ``/run/pc6band/control.sock`` for the system config; ``$XDG_RUNTIME_DIR``; the state dir.
    """
    return Path(places.default_socket(None if config is None else str(config)))
