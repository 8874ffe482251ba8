"""When scheduled sessions are due, and which of them were already handled.

The schedule itself (``plan/schedule.py``) says when entries occur; this keeps the daemon's
place in it: each occurrence is handled once (the journal remembers, across restarts), one
due longer ago than the grace period is journaled as missed, and nothing is due while the
system clock is not yet trusted.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from firmware_host.plan.schedule import Occurrence, next_occurrences, occurrences
from firmware_host.service.authority import hhmm
from firmware_host.session.config import Config


class RunLog(Protocol):
    """Where handled occurrences are remembered (the journal)."""

    def has_run(self, key: str) -> bool:
        """Whether occurrence ``key`` was handled already."""
        ...

    def mark_run(self, key: str, *, at: float, outcome: str) -> bool:
        """Remember occurrence ``key`` as handled, with what came of it."""
        ...


class Scheduler:
    """The daemon's place in the schedule.

    Args:
        clock_synced: whether the system clock is synchronized (asked until it is once).
    """

    def __init__(self, clock_synced: Callable[[], bool]) -> None:
        self.clock_synced = clock_synced
        self.synced = False  # latched: a synced clock stays trusted
        self._last_wall: float | None = None  # just past the last check

    def active(self, config: Config | None) -> bool:
        """Whether scheduled starts can happen now: a schedule, and a trusted clock."""
        if config is None or not config.schedule:
            return False
        if config.require_clock_sync and not self.synced:
            self.synced = self.clock_synced()
            if not self.synced:
                return False
        return True

    def upcoming(self, config: Config | None, wall: float, count: int) -> list[Occurrence]:
        """The next ``count`` scheduled starts after wall time ``wall``."""
        if config is None or count <= 0:
            return []
        return next_occurrences(config.schedule, config.tz, wall, count)

    def next_due_in(self, config: Config | None, wall: float) -> float | None:
        """Seconds until the next occurrence not handled yet (None: nothing to wake for)."""
        if not self.active(config):
            return None
        assert config is not None
        after = max(wall, self._last_wall or wall)
        upcoming = next_occurrences(config.schedule, config.tz, after, 1)
        return max(0.0, upcoming[0].when - wall) if upcoming else None

    def run_due(
        self, config: Config, wall: float, log: RunLog, start: Callable[[Occurrence], str]
    ) -> list[tuple[Occurrence, str]]:
        """Handle every occurrence due by ``wall``: ``start`` it, or journal it as missed.

        ``start(occurrence)`` returns ``"started"`` or why it was skipped. Returns each
        occurrence handled now with its outcome.
        """
        if not self.active(config):
            return []
        since = wall - config.grace_s if self._last_wall is None else self._last_wall
        handled = []
        for occ in occurrences(config.schedule, config.tz, since, wall + 1e-3):
            if log.has_run(occ.key):
                continue
            if occ.when < wall - config.grace_s:
                outcome = (
                    f"missed: due at {hhmm(occ.when, config.tz)}, the clock "
                    f"jumped or the daemon was not running"
                )
            else:
                outcome = start(occ)
            log.mark_run(occ.key, at=wall, outcome=outcome)
            handled.append((occ, outcome))
        self._last_wall = max(wall + 1e-3, self._last_wall or 0.0)
        return handled
