"""Edits on disk: profiles reload (an invalid edit keeps the previous version); an invalid
config never starts a session while the daemon stays up and says why."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from daemon_testlib import (
    SHORT_PROFILE,
    T0,
    ctl,
    local,
    night,
    run_virtual,
    started_at,
    until,
    write_config,
)

from firmware_host.clock import LoopClock
from firmware_host.record.journal import Journal
from firmware_host.service.daemon import Daemon


def _sha_of_sessions(home: Path) -> list[str]:
    with Journal(home / "journal.sqlite") as journal:
        rows = journal._db.execute("SELECT profile_sha256 FROM sessions ORDER BY id").fetchall()
    return [r[0] for r in rows]


def _events(home: Path, kind: str) -> list[str]:
    with Journal(home / "journal.sqlite") as journal:
        return [d for _, _, k, d in journal.events_between(0, 2e9) if k == kind]


def test_profile_edits_reload_and_invalid_edit_keeps_previous(home: Path) -> None:
    config = write_config(home, '[daemon]\ncheck_every = "1m"\n')
    profile = home / "profiles" / "short.toml"
    seen: dict[str, Any] = {}

    async def script(daemon: Daemon, clock: LoopClock) -> None:
        assert (await ctl(daemon, "start", profile="short"))["ok"]
        await until(clock, local(22, 0))
        profile.write_text(SHORT_PROFILE.replace('hold = "30s"', 'hold = "20s"'))
        await until(clock, local(22, 2))
        assert (await ctl(daemon, "start", profile="short"))["ok"]
        await until(clock, local(22, 4))
        profile.write_text(SHORT_PROFILE.replace('hold = "30s"', 'hold = "forever"'))
        await until(clock, local(22, 6))
        seen["status"] = await ctl(daemon, "status")
        assert (await ctl(daemon, "start", profile="short"))["ok"]
        await until(clock, local(22, 8))

    run_virtual(lambda: night(config, T0, local(22, 10), during=script))
    first, second, third = _sha_of_sessions(home)
    assert first != second and third == second  # the invalid edit was never used
    errors = seen["status"]["profile_errors"]
    assert "steps[1].hold" in errors["short"] and "forever" in errors["short"]
    changes = _events(home, "profile")
    assert "short: reloaded from" in changes[0]
    assert "short: invalid edit ignored, previous version kept" in changes[1]
    with Journal(home / "journal.sqlite") as journal:
        durations = [round(r.duration_s or 0) for r in reversed(journal.recent(3))]
    assert durations == [40, 30, 30]


def test_invalid_config_never_starts_a_session(home: Path) -> None:
    config = write_config(home, '[[schedule]]\nat = "22:00"\nprofile = "short"\nevery = "1h"\n')
    seen: dict[str, Any] = {}

    async def script(daemon: Daemon, clock: LoopClock) -> None:
        await until(clock, local(22, 1))
        seen["status"] = await ctl(daemon, "status")
        seen["start"] = await ctl(daemon, "start", profile="short")
        config.write_text(
            config.read_text().replace('every = "1h"\n', "").replace('at = "22:00"', 'at = "22:05"')
        )
        await until(clock, local(22, 10))
        seen["fixed"] = await ctl(daemon, "status")

    run_virtual(lambda: night(config, T0, local(22, 10), during=script))
    status = seen["status"]
    assert status["state"] == "config-invalid" and status["control"]["by"] == "none"
    assert "pc6band.toml:" in status["config_error"]
    assert "schedule[0].every: not used with 'at'" in status["config_error"]
    assert not seen["start"]["ok"] and "config invalid" in seen["start"]["error"]
    assert seen["fixed"]["state"] == "idle" and seen["fixed"]["config_error"] is None
    assert [round(t) for t, _ in started_at(home)] == [local(22, 5)]
    # While the config was unreadable, its journal path was unknown: the default took it.
    with Journal(home / "state" / "journal.sqlite") as journal:
        kinds = [(k, d) for _, _, k, d in journal.events_between(0, 2e9)]
    assert any(k == "config" and "invalid, no session will start" in d for k, d in kinds)


def test_missing_profile_in_schedule_is_a_config_error(home: Path) -> None:
    config = write_config(home, '[[schedule]]\nat = "22:00"\nprofile = "shrot"\n')
    seen: dict[str, Any] = {}

    async def script(daemon: Daemon, clock: LoopClock) -> None:
        seen["status"] = await ctl(daemon, "status")

    run_virtual(lambda: night(config, T0, local(22, 10), during=script))
    assert "schedule[0].profile" in seen["status"]["config_error"]
    assert started_at(home) == []


def test_an_invalid_edit_of_a_good_config_keeps_it_in_use(home: Path) -> None:
    """As with a profile: the edit is refused and said so; tonight's schedule plays on."""
    config = write_config(home, '[[schedule]]\nat = "22:05"\nprofile = "short"\n')
    seen: dict[str, Any] = {}

    async def script(daemon: Daemon, clock: LoopClock) -> None:
        await until(clock, local(22, 0))
        config.write_text(config.read_text().replace('at = "22:05"', 'at = "22:05"\nevery = "1h"'))
        seen["reload"] = await ctl(daemon, "reload")
        seen["status"] = await ctl(daemon, "status")
        await until(clock, local(22, 10))

    run_virtual(lambda: night(config, T0, local(22, 10), during=script))
    assert not seen["reload"]["ok"] and "schedule[0].every" in seen["reload"]["error"]
    assert "previous config stays in use" in seen["reload"]["error"]
    status = seen["status"]
    assert status["state"] == "idle", status  # before: "config-invalid", and nothing played
    assert "schedule[0].every: not used with 'at'" in status["config_error"]
    assert [round(t) for t, _ in started_at(home)] == [local(22, 5)]
    assert any("edit refused" in d for d in _events(home, "config"))
