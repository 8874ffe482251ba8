"""Where pc6band's config, state and socket are: the rules, as plain strings.

``paths.py`` is the API everything else uses (it returns ``Path`` objects); the rules live
here, in ``os.path`` terms, because ``pc6 ctl`` — the stop button over SSH — needs them
without importing ``pathlib``, which (with the ``re``, ``enum`` and ``urllib.parse`` it pulls
in) would cost a quarter of its start-up.
"""

from __future__ import annotations

import os

SERVICE_NAME = "pc6band"
#: The system service's config and socket, below the system root.
SYSTEM_CONFIG = ("etc", SERVICE_NAME, "pc6band.toml")
SYSTEM_SOCKET = ("run", SERVICE_NAME, "control.sock")


def system_root() -> str:
    """``/``; ``$PC6_SYSTEM_ROOT`` moves it (tests only)."""
    return os.environ.get("PC6_SYSTEM_ROOT") or "/"


def system_config() -> str:
    """``/etc/pc6band/pc6band.toml``."""
    return os.path.join(system_root(), *SYSTEM_CONFIG)


def state_dir() -> str:
    """``$PC6_STATE_DIR``, else ``$XDG_STATE_HOME/pc6band``, else ``~/.local/state/pc6band``."""
    override = os.environ.get("PC6_STATE_DIR")
    if override:
        return override
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(_home(), ".local", "state")
    return os.path.join(base, SERVICE_NAME)


def config_dir() -> str:
    """``$PC6_CONFIG_DIR``, else ``$XDG_CONFIG_HOME/pc6band``, else ``~/.config/pc6band``."""
    override = os.environ.get("PC6_CONFIG_DIR")
    if override:
        return override
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(_home(), ".config")
    return os.path.join(base, SERVICE_NAME)


def _home() -> str:
    return os.path.expanduser("~")  # what Path.home() does


def user_config() -> str:
    """The user's own config file (it may not exist)."""
    return os.path.join(config_dir(), "pc6band.toml")


def default_config() -> str:
    """The config to use when none is named.

    ``$PC6_CONFIG``; else the user's own file when it exists; else the system service's
    ``/etc/pc6band/pc6band.toml`` when it is installed; else the user's (missing: defaults).
    """
    override = os.environ.get("PC6_CONFIG")
    if override:
        return override
    own = user_config()
    if os.path.exists(own) or "PC6_CONFIG_DIR" in os.environ:
        return own
    system = system_config()
    return system if os.path.exists(system) else own


def is_system_config(path: str) -> bool:
    """Whether ``path`` is the system service's config (so its defaults are the service's)."""
    try:
        return os.path.realpath(path) == os.path.realpath(system_config())
    except OSError:
        return False


def default_socket(config: str | None = None) -> str:
    """The control socket when the config does not name one.

    ``$PC6_SOCKET``; systemd's ``$RUNTIME_DIRECTORY`` (inside the service); the service's
    ``/run/pc6band/control.sock`` for the system config; ``$XDG_RUNTIME_DIR``; the state dir.
    """
    override = os.environ.get("PC6_SOCKET")
    if override:
        return override
    runtime = os.environ.get("RUNTIME_DIRECTORY")
    if runtime:
        # RUNTIME_DIRECTORY may list several directories separated by colons.
        return os.path.join(runtime.split(":")[0], "control.sock")
    if config is not None and is_system_config(config):
        return os.path.join(system_root(), *SYSTEM_SOCKET)
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if xdg:
        return os.path.join(xdg, "pc6band.sock")
    return os.path.join(state_dir(), "control.sock")
