"""The ``diary`` control command: this morning's sleep diary, for ``pc6 web``'s form.

The same items and checks as ``pc6 diary`` (``experiment/diary.py``); the night is last
night by the daemon's clock and zone. The page learns from the ``report`` reply whether the
diary of that night is already in, so it can offer the form in the morning.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from firmware_host.experiment import diary
from firmware_host.experiment.store import Store
from firmware_host.plan.schedule import night_of

if TYPE_CHECKING:
    from firmware_host.service.daemon import Daemon

MORNING = (4, 14)  # local hours when the page puts the diary first


def last_night_of(d: Daemon) -> dt.date:
    """The night a diary filled in now is about (as ``pc6 diary`` picks it)."""
    tz = d.config.tz if d.config else dt.UTC
    return night_of(d.clock.wall() - 43200, tz)


def save_diary(d: Daemon, answers: dict[str, Any]) -> dict[str, Any]:
    """Check and keep the answers; returns the night and the two headline figures.

    Raises:
        InvalidInput: one line naming the item and the reason.
    """
    tz = d.config.tz if d.config else dt.UTC
    now = d.clock.wall()
    night = last_night_of(d)
    entry = diary.build(answers, night, tz, now)
    with Store(d.journal.path) as store:
        replaced = store.put_diary(night, entry.row(now))
    o = diary.outcomes(entry.row(now))
    return {
        "night": night.isoformat(),
        "replaced": replaced,
        "asleep_min": round(o["tst"]),
        "efficiency": round(o["se"]),
    }


def diary_state(d: Daemon) -> dict[str, Any]:
    """Whether last night's diary is in, and whether it is morning (by the daemon's clock)."""
    tz = d.config.tz if d.config else dt.UTC
    night = last_night_of(d)
    with Store(d.journal.path) as store:
        done = night.isoformat() in store.diaries()
    hour = dt.datetime.fromtimestamp(d.clock.wall(), tz).hour
    return {"night": night.isoformat(), "done": done, "morning": MORNING[0] <= hour < MORNING[1]}
