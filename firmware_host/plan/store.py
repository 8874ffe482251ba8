"""Profiles the daemon plays, reloaded when edited on disk.

A profile is looked up as a path, then as ``NAME.toml`` in the configured directories, then
in the built-in library. Each one is compiled once; when its file changes it is read and
compiled again, and only a version that passes both replaces the one in use. An invalid edit
keeps the previous version and is reported (status, journal), never half-applied.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from firmware_host.errors import ConfigError, ProfileError
from firmware_host.plan.library import resolve
from firmware_host.plan.profile import Profile, load_profile
from firmware_host.plan.schedule import Entry
from firmware_host.plan.timeline import Timeline, compile_profile

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Loaded:
    """A profile that passed validation and compiled, with where it came from."""

    profile: Profile
    timeline: Timeline
    path: Path | None
    stamp: tuple[int, int] | None  # (mtime_ns, size) of the file it was read from


class ProfileStore:
    """Last good version of each profile by name; :meth:`refresh` picks up edits."""

    def __init__(self, dirs: Iterable[Path] = ()) -> None:
        self.dirs = tuple(dirs)
        self._loaded: dict[str, Loaded] = {}
        self.errors: dict[str, str] = {}  # name → why the file on disk is not in use

    def get(self, name: str) -> Loaded:
        """The profile called ``name``, loading it the first time.

        Raises:
            ProfileError: not found or invalid, and no earlier good version is known.
        """
        if name not in self._loaded:
            self._loaded[name] = self._load(name)
            self.errors.pop(name, None)
        return self._loaded[name]

    def refresh(self) -> list[tuple[str, str]]:
        """Reload every profile whose file changed; returns ``(name, what happened)``."""
        changes = []
        for name, loaded in list(self._loaded.items()):
            path = self._path_of(name)
            if path is None or (path == loaded.path and _stamp(path) == loaded.stamp):
                continue
            try:
                fresh = self._load(name)
            except ProfileError as err:
                if self.errors.get(name) != str(err):
                    self.errors[name] = str(err)
                    changes.append((name, f"invalid edit ignored, previous version kept: {err}"))
                    logger.warning("profile %s: invalid edit ignored: %s", name, err)
                continue
            if fresh.profile.sha256 != loaded.profile.sha256 or name in self.errors:
                changes.append((name, f"reloaded from {fresh.path} ({fresh.profile.sha256[:12]})"))
            self._loaded[name] = fresh
            self.errors.pop(name, None)
        return changes

    def _path_of(self, name: str) -> Path | None:
        candidate = Path(name).expanduser()
        if candidate.suffix == ".toml" or "/" in name:
            return candidate
        for folder in self.dirs:
            path = folder / f"{name}.toml"
            if path.exists():
                return path
        return None

    def _load(self, name: str) -> Loaded:
        path = self._path_of(name)
        if path is None:
            profile = resolve(name)  # the built-in library; never changes under us
            return Loaded(profile, compile_profile(profile), None, None)
        stamp = _stamp(path)
        profile = load_profile(path)
        return Loaded(profile, compile_profile(profile), path, stamp)


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size)


def check_profile(store: ProfileStore, kind: str, name: str, key: str) -> Loaded:
    """Load ``name`` and check it is meant for actuator ``kind``.

    Raises:
        ConfigError: naming ``key`` (such as ``schedule[1].profile``) and the reason.
    """
    try:
        loaded = store.get(name)
    except ProfileError as err:
        raise ConfigError(f"{key}: {err}") from None
    if kind not in loaded.profile.kinds:
        raise ConfigError(
            f"{key}: profile {name!r} is for {', '.join(loaded.profile.kinds)}, "
            f"but the backend drives {kind}"
        )
    return loaded


class ScheduledConfig(Protocol):
    """What :func:`check_schedule` reads of a config (the session's ``Config`` has it)."""

    @property
    def source(self) -> str:
        """Where the config was read from, for the message."""

    @property
    def kind(self) -> str:
        """What the backend drives: ``"vibration"`` or ``"pressure"``."""

    @property
    def schedule(self) -> Sequence[Entry]:
        """The schedule's entries, in order."""


def check_schedule(config: ScheduledConfig, store: ProfileStore) -> None:
    """Every scheduled profile loads and suits the backend.

    Raises:
        ConfigError: ``file: schedule[i].profile: reason``.
    """
    from firmware_host.plan.schedule import EXPERIMENT_PREFIX

    for i, entry in enumerate(config.schedule):
        if entry.profile.startswith(EXPERIMENT_PREFIX):
            continue  # its arms were checked by `pc6 experiment plan`
        try:
            check_profile(store, str(config.kind), entry.profile, f"schedule[{i}].profile")
        except ConfigError as err:
            raise ConfigError(f"{config.source}: {err}") from None
