"""A week of schedules across each daylight-saving change, on the virtual clock.

Europe/Berlin in 2026: on Sunday 29 March the clocks jump from 02:00 CET to 03:00 CEST
(01:00 UTC); on Sunday 25 October they fall back from 03:00 CEST to 02:00 CET (01:00 UTC).
Expected instants are written out in UTC by hand, not computed with the code under test.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

from daemon_testlib import night, run_virtual, started_at, utc, write_config

from firmware_host.plan.schedule import local_instant, occurrences, parse_entries

BERLIN = ZoneInfo("Europe/Berlin")

SCHEDULE = """
[[schedule]]
at = "22:30"
profile = "short"

[[schedule]]
at = "02:30"
profile = "short"

[[schedule]]
between = "01:00"
until = "04:00"
every = "60m"
days = ["sun"]
profile = "short"

[daemon]
check_every = "1h"
"""


def _week(home: Path, start: float, end: float) -> list[float]:
    config = write_config(home, SCHEDULE)
    run_virtual(lambda: night(config, start, end))
    return [t for t, _ in started_at(home)]


def _close(got: list[float], want: list[float]) -> None:
    assert len(got) == len(want), _fmt(got, want)
    for g, w in zip(got, want, strict=True):
        assert abs(g - w) < 1e-3, _fmt(got, want)


def _fmt(got: list[float], want: list[float]) -> str:
    def show(ts: list[float]) -> list[str]:
        return [dt.datetime.fromtimestamp(t, dt.UTC).strftime("%m-%d %H:%M:%S") for t in ts]

    return f"\n got  {show(got)}\n want {show(want)}"


def test_spring_forward_week(home: Path) -> None:
    want = sorted(
        # 22:30 every evening: CET (UTC+1) until the change, CEST (UTC+2) after.
        [utc(2026, 3, d, 21, 30) for d in (26, 27, 28)]
        + [utc(2026, 3, d, 20, 30) for d in (29, 30, 31)]
        + [utc(2026, 4, 1, 20, 30)]
        # 02:30 every morning; on the 29th 02:30 does not exist: it runs at 03:30 CEST.
        + [utc(2026, 3, 27, 1, 30), utc(2026, 3, 28, 1, 30), utc(2026, 3, 29, 1, 30)]
        + [utc(2026, 3, d, 0, 30) for d in (30, 31)]
        + [utc(2026, 4, d, 0, 30) for d in (1, 2)]
        # The Sunday window 01:00–04:00 local is two hours long that night: 01:00 CET,
        # then 60 minutes later (03:00 CEST); 04:00 CEST is its end.
        + [utc(2026, 3, 29, 0, 0), utc(2026, 3, 29, 1, 0)]
    )
    _close(_week(home, utc(2026, 3, 26, 12, 0), utc(2026, 4, 2, 12, 0)), want)


def test_fall_back_week(home: Path) -> None:
    want = sorted(
        [utc(2026, 10, d, 20, 30) for d in (22, 23, 24)]
        + [utc(2026, 10, d, 21, 30) for d in (25, 26, 27, 28)]
        # 02:30 happens twice on the 25th: it runs once, at the first (CEST, 00:30 UTC).
        + [utc(2026, 10, d, 0, 30) for d in (23, 24, 25)]
        + [utc(2026, 10, d, 1, 30) for d in (26, 27, 28, 29)]
        # The window is four hours long that night: every 60 minutes of elapsed time.
        + [utc(2026, 10, 24, 23, 0)]
        + [utc(2026, 10, 25, h, 0) for h in (0, 1, 2)]
    )
    _close(_week(home, utc(2026, 10, 22, 12, 0), utc(2026, 10, 29, 12, 0)), want)


def test_gap_and_fold_notes() -> None:
    gap, note = local_instant(dt.date(2026, 3, 29), dt.time(2, 30), BERLIN)
    assert gap == utc(2026, 3, 29, 1, 30) and "does not exist" in note and "03:30" in note
    fold, note = local_instant(dt.date(2026, 10, 25), dt.time(2, 30), BERLIN)
    assert fold == utc(2026, 10, 25, 0, 30) and "twice" in note


def test_other_zone_other_rules() -> None:
    # New York springs forward at 02:00 local on 8 March 2026 (07:00 UTC).
    entries = parse_entries([{"at": "02:15", "profile": "p"}])
    got = occurrences(
        entries, ZoneInfo("America/New_York"), utc(2026, 3, 7, 12), utc(2026, 3, 9, 12)
    )
    assert [o.when for o in got] == [utc(2026, 3, 8, 7, 15), utc(2026, 3, 9, 6, 15)]
    assert "does not exist" in got[0].note and "03:15" in got[0].note


def test_restart_in_the_repeated_hour_does_not_run_again(home: Path) -> None:
    """A daemon restarted after a session does not replay it (the journal remembers)."""
    config = write_config(home, SCHEDULE)
    run_virtual(lambda: night(config, utc(2026, 10, 25, 0, 20), utc(2026, 10, 25, 0, 45)))
    run_virtual(lambda: night(config, utc(2026, 10, 25, 0, 40), utc(2026, 10, 25, 1, 45)))
    assert [t for t, _ in started_at(home)] == [utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 1, 0)]


def test_a_change_of_timezone_makes_new_sessions_not_runs_already_done() -> None:
    """22:00 in New York is not the 22:00 that already ran in Berlin that evening."""
    entries = parse_entries([{"at": "22:00", "profile": "p"}])
    berlin, new_york = ZoneInfo("Europe/Berlin"), ZoneInfo("America/New_York")
    start = utc(2026, 3, 10, 12, 0)
    b = occurrences(entries, berlin, start, start + 86400)[0]
    n = occurrences(entries, new_york, start, start + 86400)[0]
    assert b.key != n.key and b.when != n.when
    assert "Europe/Berlin" in b.key


def test_one_off_dates_far_away_are_refused() -> None:
    import pytest

    from firmware_host.errors import ConfigError

    with pytest.raises(ConfigError, match=r"schedule\[0\]\.once: must be a date between"):
        parse_entries([{"once": "9999-12-31T22:00", "profile": "p"}])
