"""What a person decided, and who wins: a safety trip, the stop button, a snooze, a level.

Order of authority: a latched safety trip and the stop button beat a manual command, which
beats the schedule.

- A press of the stop button stops the session and holds the schedule until the end of the
  night; manual starts are refused until ``pc6 ctl reset``. A long press trips the gate.
- A manual start replaces whatever runs; a manual stop, pause or level applies to any
  session.
- A scheduled start never interrupts a running session, and is skipped while snoozed.

Each decision survives a restart (kept in the journal through ``keep``): a crash and
systemd's ``Restart=`` must not clear a latched trip.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from firmware_host.errors import PC6Error

if TYPE_CHECKING:
    import datetime as dt

LEVEL_MAX = 2.0  # `pc6 ctl level`: 1 = as written; the gate still clips at the limit
KEEP_AT_MOST_S = 2 * 86400  # a kept hold or snooze further out than this is stale or corrupt


class Refused(PC6Error, RuntimeError):
    """A request the daemon will not carry out now; the message says why."""


Keep = Callable[[str, object], None]


class Authority:
    """The decisions in force. Setting one keeps it (``keep(key, value)``; None forgets)."""

    def __init__(self, keep: Keep) -> None:
        self._keep = keep
        self._trip: str | None = None
        self._hold: tuple[str, float] | None = None  # stop-button hold: (why, until wall)
        self._snoozed_until: float | None = None
        self._level = 1.0

    # -- the decisions, each kept when set -----------------------------------------------

    @property
    def trip(self) -> str | None:
        """A latched safety trip's reason; only ``reset`` clears it."""
        return self._trip

    @trip.setter
    def trip(self, value: str | None) -> None:
        self._trip = value
        self._keep("trip", value)

    @property
    def hold(self) -> tuple[str, float] | None:
        """A stop-button hold on the schedule: (why, until wall time)."""
        return self._hold

    @hold.setter
    def hold(self, value: tuple[str, float] | None) -> None:
        self._hold = value
        self._keep("hold", list(value) if value else None)

    @property
    def snoozed_until(self) -> float | None:
        """Scheduled sessions are skipped until this wall time."""
        return self._snoozed_until

    @snoozed_until.setter
    def snoozed_until(self, value: float | None) -> None:
        self._snoozed_until = value
        self._keep("snoozed_until", value)

    @property
    def level(self) -> float:
        """The live level scale set by ``pc6 ctl level``."""
        return self._level

    @level.setter
    def level(self, value: float) -> None:
        self._level = value
        self._keep("level", None if value == 1.0 else value)

    def restore(self, kept: Mapping[str, object], now: float) -> list[str]:
        """Take back what was kept before a restart; returns what to journal about it."""
        notes = []
        trip, hold, snooze, level = (
            kept.get(k) for k in ("trip", "hold", "snoozed_until", "level")
        )
        if isinstance(trip, str):
            self._trip = trip
            notes.append(f"safety trip still latched: {trip}")
        if (
            isinstance(hold, list)
            and len(hold) == 2
            and isinstance(hold[1], int | float)
            and now < hold[1] <= now + KEEP_AT_MOST_S
        ):
            self._hold = (str(hold[0]), float(hold[1]))
        if isinstance(snooze, int | float) and now < snooze <= now + KEEP_AT_MOST_S:
            self._snoozed_until = float(snooze)  # anything else is stale or corrupt
        if isinstance(level, int | float) and 0 <= level <= LEVEL_MAX:
            self._level = float(level)
        return notes

    # -- questions (read only) -----------------------------------------------------------

    def hold_in_force(self, now: float) -> tuple[str, float] | None:
        """The hold, unless the night it was for has ended."""
        return self._hold if self._hold and now < self._hold[1] else None

    def snoozed(self, now: float) -> bool:
        """Whether scheduled starts are skipped at wall time ``now``."""
        return self._snoozed_until is not None and now < self._snoozed_until

    def refusal(self, now: float) -> str | None:
        """Why nothing may start now (a trip, then a hold), or None."""
        if self._trip:
            return f"safety trip latched ({self._trip}); `pc6 ctl reset` clears it"
        if hold := self.hold_in_force(now):
            return f"{hold[0]}; `pc6 ctl reset` releases it"
        return None

    # -- changes -------------------------------------------------------------------------

    def expire_hold(self, now: float) -> None:
        """A stop-button hold ends with the night (the daemon's loop calls this)."""
        if self._hold and now >= self._hold[1]:
            self.hold = None

    def press_stop_button(self, now: float, tz: dt.tzinfo) -> str:
        """Hold the schedule until the night ends; returns the hold's reason."""
        # Imported here: `pc6 ctl` imports this module (for LEVEL_MAX) and must stay quick.
        from firmware_host.plan.schedule import night_bounds, night_of

        _, until = night_bounds(night_of(now, tz), tz)
        why = f"stop button pressed at {hhmm(now, tz)}; schedule held until {hhmm(until, tz)}"
        self.hold = (why, until)
        return why

    @staticmethod
    def check_level(value: float) -> float:
        """A live level scale, checked.

        Raises:
            Refused: not from 0 to :data:`LEVEL_MAX`.
        """
        if not math.isfinite(value) or not 0 <= value <= LEVEL_MAX:
            raise Refused(f"level must be from 0 to {LEVEL_MAX:g}, got {value!r}")
        return value

    def snooze(self, seconds: float, now: float) -> float | None:
        """Skip scheduled sessions for ``seconds`` from ``now`` (0 ends a snooze).

        Raises:
            Refused: longer than a day.
        """
        if not math.isfinite(seconds) or seconds > 86400:
            raise Refused(f"snooze must be at most 24h, got {seconds:g} s")
        self.snoozed_until = now + seconds if seconds > 0 else None
        return self.snoozed_until

    def reset(self) -> list[str]:
        """Clear a trip and a hold; says what was cleared."""
        cleared = []
        if self._trip:
            cleared.append(f"safety trip: {self._trip}")
            self.trip = None
        if self._hold:
            cleared.append(self._hold[0])
            self.hold = None
        return cleared


def hhmm(when: float, tz: dt.tzinfo) -> str:
    """Local ``HH:MM``."""
    import datetime  # here: `pc6 ctl` imports this module and must stay quick

    return datetime.datetime.fromtimestamp(when, tz).strftime("%H:%M")
