"""The daemon's config, the profiles it names and the journal it points at, read again.

The daemon reads its config once at start, again on SIGHUP or ``pc6 ctl reload``, and again
when the file changes on disk (looked for at each periodic check). A config that fails —
invalid, or scheduling a profile that cannot be played (:func:`check_night`, which
``pc6 config check`` runs too) — is never used: at start the daemon stays up with no
session starting and says why until the file is fixed; on a reload the previous config
stays in use and the daemon says why the edit was refused, as an invalid edit of a profile
keeps its previous version (see :mod:`firmware_host.plan.store`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from firmware_host.drive.actuator import ActuatorKind
from firmware_host.errors import ConfigError, PC6Error, ProfileError
from firmware_host.guard.preview import refuse_beyond_ceiling
from firmware_host.paths import default_journal_path
from firmware_host.plan.schedule import EXPERIMENT_PREFIX
from firmware_host.plan.store import Loaded, ProfileStore, check_profile
from firmware_host.record.journal import Journal
from firmware_host.session.assembly import learns_kind
from firmware_host.session.config import Config, load_config

logger = logging.getLogger(__name__)

#: ``note(kind, detail)``: journal what happened (a daemon event, no session).
Note = Callable[[str, str], None]


class Settings:
    """The config in use (or why there is none), its profiles and its journal.

    Args:
        path: the config file (None: the defaults).
        note: journals a change (``"config"`` or ``"profile"``, and what happened).
        busy: whether a session runs (the journal is not switched under it).
        journal: a journal to use whatever the config says (tests, ``pc6 sim night``).
        config: a config to use instead of reading ``path`` (never reloaded).
    """

    def __init__(
        self,
        path: Path | None,
        *,
        note: Note,
        busy: Callable[[], bool],
        journal: Journal | None = None,
        config: Config | None = None,
    ) -> None:
        self.path = path
        self.config: Config | None = None
        self.error: str | None = None
        self.profiles = ProfileStore()
        self._note = note
        self._busy = busy
        self._preloaded = config
        self._stamp: tuple[int, int] | None = None
        self._journal = journal
        self._journal_given = journal is not None

    @property
    def loaded(self) -> bool:
        """Whether the config was read at least once (well or not)."""
        return self.config is not None or self.error is not None

    @property
    def journal(self) -> Journal:
        """The journal (opened on first use, at the configured path)."""
        if self._journal is None:
            path = self.config.journal if self.config else default_journal_path()
            self._journal = Journal(path)
        return self._journal

    def reload(self) -> str | None:
        """Read the config and its profiles again; returns the error that keeps it unusable."""
        try:
            config = self._preloaded or load_config(self.path)
            same = self.config is not None and self.config.profile_dirs == config.profile_dirs
            store = self.profiles if same else ProfileStore(config.profile_dirs)
            check_night(config, store)
        except Exception as err:  # any failure here means "config unusable"
            # A bug or an OS surprise while reading config must not take the daemon down:
            # it stays up, outputs off, and says why.
            if not isinstance(err, PC6Error):
                logger.exception("unexpected error while loading the config")
            return self._refuse(str(err))
        if self.error or (self.config and self.config.sha256 != config.sha256):
            self._note("config", f"loaded {config.source}")
        self.config, self.error, self.profiles = config, None, store
        self._follow_journal(config.journal)
        self._stamp = _stamp(self.path)
        return None

    def _refuse(self, error: str) -> str:
        """Keep a good config in use (or none, if there was none) and say why, once."""
        first = not self.loaded
        if self.config is not None:
            what = "edit refused, the previous config stays in use"
            shown = f"{error} ({what})"
        else:
            what = "invalid, no session will start"
            shown = error
        if shown != self.error or first:
            logger.error("config %s: %s", what, error)
            self._note("config", f"{what}: {error}")
        self.error = shown
        return shown

    def _follow_journal(self, path: Path) -> None:
        """Move to the configured journal (an invalid config had left us on the default)."""
        if self._journal_given or self._journal is None or self._journal.path == path:
            return
        if not self._busy():
            self._journal.close()
            self._journal = None

    def refresh(self) -> None:
        """The periodic check: the config if its file changed, then every edited profile."""
        if self._preloaded is None and _stamp(self.path) != self._stamp:
            self.reload()
        try:
            changes = self.profiles.refresh()
        except Exception as err:  # an edited profile must never take the daemon down
            logger.exception("profile refresh failed")
            self._note("profile", f"refresh failed, previous versions kept: {err}")
            return
        for name, what in changes:
            self._note("profile", f"{name}: {what}")

    def check_profile(self, name: str, key: str) -> Loaded:
        """Load ``name`` and check it may be played with this config.

        Raises:
            ConfigError: naming ``key``: not found, invalid, not for the backend's kind, or
                continuous stimulation beyond the hard ceiling.
        """
        assert self.config is not None
        return playable(self.profiles, self.config, name, key)


def playable(store: ProfileStore, config: Config, name: str, key: str) -> Loaded:
    """Load ``name`` and check it may be played with ``config``.

    Raises:
        ConfigError: naming ``key``: not found, invalid, not for the backend's kind, or
            continuous stimulation beyond the hard ceiling (the profile's file and step).
    """
    if knows_kind(config):
        loaded = check_profile(store, config.kind.value, name, key)
        kinds = [config.kind]
    else:  # the band says what it drives at the start; a profile of another kind is refused
        try:
            loaded = store.get(name)
        except ProfileError as err:
            raise ConfigError(f"{key}: {err}") from None
        kinds = [ActuatorKind(k) for k in loaded.profile.kinds]
    try:  # continuous stimulation beyond the hard ceiling is a mistake, as in pc6 run
        for kind in kinds:
            refuse_beyond_ceiling(loaded.timeline, kind)
    except ProfileError as err:
        raise ConfigError(f"{key}: {err}") from None
    return loaded


def knows_kind(config: Config) -> bool:
    """Whether the config says what the actuator drives (else the band says, once connected).

    A band asked for no kind in ``[backend]`` reports its own, as ``pc6 run`` learns it;
    every other backend drives what the config says (vibration unless told otherwise).
    """
    return config.kind_given or not learns_kind(config.backend)


def check_night(config: Config, store: ProfileStore) -> None:
    """Every scheduled profile can be played (see :func:`playable`).

    The daemon refuses such a config at start and on reload, and ``pc6 config check`` says
    so, with the same words the daemon uses when the profile is started by hand.

    Raises:
        ConfigError: ``file: schedule[i].profile: reason``.
    """
    for i, entry in enumerate(config.schedule):
        if entry.profile.startswith(EXPERIMENT_PREFIX):
            continue  # its arms were checked by `pc6 experiment plan`
        try:
            playable(store, config, entry.profile, f"schedule[{i}].profile")
        except ConfigError as err:
            raise ConfigError(f"{config.source}: {err}") from None


def _stamp(path: Path | None) -> tuple[int, int] | None:
    if path is None:
        return None
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size)
