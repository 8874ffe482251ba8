"""``pc6 ctl status`` is a read: asking never changes the journal or the answer.

Before the status was built from a snapshot, a status request after a stop-button hold had
run out cleared the hold itself, writing the journal from a read.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from daemon_testlib import T0, ctl, local, night, run_virtual, until, write_config

from firmware_host.clock import LoopClock
from firmware_host.service.daemon import Daemon


def dump(path: Path) -> list[str]:
    """Every row of the journal, through a connection of its own."""
    with sqlite3.connect(path) as db:
        return list(db.iterdump())


def test_status_after_a_hold_ran_out_writes_nothing(home: Path) -> None:
    config = write_config(home, "")  # nothing scheduled: the loop has no reason to act
    journal = home / "journal.sqlite"
    seen: dict[str, Any] = {}

    async def script(daemon: Daemon, clock: LoopClock) -> None:
        await until(clock, local(22, 0))
        daemon.stop_button_pressed()  # holds the schedule until the night ends (noon)
        seen["held"] = await ctl(daemon, "status")
        await until(clock, local(12, 1) + 86400)  # the next day, just past noon
        before = dump(journal)
        seen["first"] = await ctl(daemon, "status")
        seen["second"] = await ctl(daemon, "status")
        seen["changed"] = dump(journal) != before

    run_virtual(lambda: night(config, T0, local(12, 2) + 86400, during=script))
    assert seen["held"]["state"] == "held"
    assert seen["first"]["state"] == "idle" and seen["first"]["hold"] is None
    assert seen["second"]["state"] == seen["first"]["state"]
    assert seen["changed"] is False
