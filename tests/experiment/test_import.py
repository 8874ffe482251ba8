"""``pc6 import SOURCE FILE`` for each source, from small files written here in each format.

Each source: two ordinary nights and the night the clocks go forward in Berlin (28→29 March
2026, 02:00 → 03:00), a file with one malformed row (a one-line error naming the row,
nothing stored), and a re-import that replaces instead of doubling.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from daemon_testlib import write_config
from experiment_testlib import pc6

from firmware_host.experiment.store import Store

BERLIN_OFFSETS = {"2026-03-26": "+01:00", "2026-03-27": "+01:00", "2026-03-28": "+01:00"}
# (night, bed local, wake local next morning, wake offset, asleep minutes)
NIGHTS = [
    ("2026-03-26", "23:00", "07:00", "+01:00", 420),
    ("2026-03-27", "23:30", "07:00", "+01:00", 400),
    ("2026-03-28", "23:00", "07:00", "+02:00", 360),  # 23:00 CET → 07:00 CEST is 7 hours
]
TIB = {"2026-03-26": 480.0, "2026-03-27": 450.0, "2026-03-28": 420.0}


def _iso(night: str, clock: str, offset: str, *, next_day: bool) -> dt.datetime:
    day = dt.date.fromisoformat(night) + dt.timedelta(days=1 if next_day else 0)
    return dt.datetime.fromisoformat(f"{day}T{clock}{offset}")


def _spans() -> list[tuple[str, dt.datetime, dt.datetime, int]]:
    return [
        (n, _iso(n, bed, "+01:00", next_day=False), _iso(n, wake, off, next_day=True), asleep)
        for n, bed, wake, off, asleep in NIGHTS
    ]


def write_gadgetbridge(path: Path, *, bad: bool = False) -> None:
    db = sqlite3.connect(path)
    db.execute(
        "CREATE TABLE XIAOMI_SLEEP_TIME_SAMPLE (TIMESTAMP INTEGER, DEVICE_ID INTEGER,"
        " USER_ID INTEGER, WAKEUP_TIME INTEGER, IS_AWAKE INTEGER, TOTAL_DURATION INTEGER,"
        " DEEP_SLEEP_DURATION INTEGER, LIGHT_SLEEP_DURATION INTEGER,"
        " REM_SLEEP_DURATION INTEGER, AWAKE_DURATION INTEGER)"
    )
    for _, bed, wake, asleep in _spans():
        db.execute(
            "INSERT INTO XIAOMI_SLEEP_TIME_SAMPLE VALUES (?, 1, 1, ?, 0, ?, 90, ?, 60, 20)",
            (int(bed.timestamp() * 1000), int(wake.timestamp() * 1000), asleep, asleep - 150),
        )
    if bad:
        db.execute("INSERT INTO XIAOMI_SLEEP_TIME_SAMPLE VALUES (5, 1, 1, 2, 0, 60, 1, 1, 1, 1)")
    db.commit()
    db.close()


def write_sleep_as_android(path: Path, *, bad: bool = False) -> None:
    lines = []
    for _, bed, wake, asleep in _spans():
        hours = (wake - bed).total_seconds() / 3600
        adjust = asleep - hours * 60
        # From/To are local strings; across the clock change they cannot be trusted.
        lines.append(
            "Id,Tz,From,To,Sched,Hours,Rating,Comment,Framerate,Snore,Noise,Cycles,"
            'DeepSleep,LenAdjust,Geo,"23:10","23:20"'
        )
        lines.append(
            f'"{int(bed.timestamp() * 1000)}","Europe/Berlin","{bed:%d. %m. %Y %-H:%M}",'
            f'"{wake:%d. %m. %Y %-H:%M}","{wake:%d. %m. %Y %-H:%M}","{hours:.3f}","3.5",'
            f'"#home","10000","-1","-1.0","4","0.25","{adjust:.0f}","","0.1","0.2"'
        )
        lines.append('"","","","","","","","","","","","","","","","0.5","0.4"')
    if bad:
        lines.insert(
            4,
            '"1774567200000","Europe/Berlin","x","y","z","eight","0","","1","-1","-1","-1","-1","0",""',
        )
    path.write_text("\n".join(lines) + "\n")


def write_fitbit(path: Path, *, bad: bool = False) -> None:
    logs: list[dict[str, object]] = []
    for i, (_, bed, wake, asleep) in enumerate(_spans()):
        local = bed.replace(tzinfo=None)
        logs.append({
            "logId": 1000 + i, "dateOfSleep": str(wake.date()),
            "startTime": local.isoformat(timespec="milliseconds"),
            "endTime": wake.replace(tzinfo=None).isoformat(timespec="milliseconds"),
            "duration": int((wake - bed).total_seconds() * 1000),
            "minutesToFallAsleep": 15, "minutesAsleep": asleep, "minutesAwake": 30,
            "minutesAfterWakeup": 0, "timeInBed": int((wake - bed).total_seconds() // 60),
            "efficiency": 90, "type": "stages", "infoCode": 0, "mainSleep": True,
            "levels": {"summary": {"deep": {"count": 3, "minutes": 80},
                                   "light": {"count": 20, "minutes": asleep - 170},
                                   "rem": {"count": 5, "minutes": 90},
                                   "wake": {"count": 10, "minutes": 30}}, "data": []},
        })  # fmt: skip
    logs.append({"logId": 7, "startTime": "2026-03-27T14:00:00.000", "duration": 1_800_000,
                 "minutesAsleep": 25, "mainSleep": False})  # a nap: not the night  # fmt: skip
    if bad:
        logs.insert(1, {"logId": 99, "startTime": "2026-03-25T23:00:00.000", "duration": -5,
                        "minutesAsleep": 1, "mainSleep": True})  # fmt: skip
    path.write_text(json.dumps(logs))


def write_apple_health(path: Path, *, bad: bool = False) -> None:
    def rec(value: str, a: dt.datetime, b: dt.datetime, source: str = "Watch") -> str:
        return (
            f'  <Record type="HKCategoryTypeIdentifierSleepAnalysis" sourceName="{source}"'
            f' value="HKCategoryValueSleepAnalysis{value}"'
            f' startDate="{a:%Y-%m-%d %H:%M:%S %z}" endDate="{b:%Y-%m-%d %H:%M:%S %z}"/>'
        )

    steps = '  <Record type="HKQuantityTypeIdentifierStepCount" value="12" startDate="x"/>'
    body = ['<?xml version="1.0" encoding="UTF-8"?>', '<HealthData locale="en_DE">', steps]
    for _, bed, wake, asleep in _spans():
        onset = bed + dt.timedelta(minutes=15)
        body.append(rec("InBed", bed, wake))
        body.append(rec("InBed", bed, wake, source="iPhone"))
        deep_end = onset + dt.timedelta(minutes=90)
        body.append(rec("AsleepDeep", onset, deep_end))
        core_end = deep_end + dt.timedelta(minutes=asleep - 90)
        body.append(rec("AsleepCore", deep_end, core_end))
        body.append(rec("Awake", core_end, wake))
    if bad:
        body.append(
            '  <Record type="HKCategoryTypeIdentifierSleepAnalysis"'
            ' value="HKCategoryValueSleepAnalysisAsleepCore" startDate="soon" endDate="later"/>'
        )
    body.append("</HealthData>")
    path.write_text("\n".join(body) + "\n")


def write_csv(path: Path, *, bad: bool = False) -> None:
    rows = ["in_bed,out_of_bed,total_sleep_min,sleep_onset_min,waso_min,device"]
    for _, bed, wake, asleep in _spans():
        rows.append(f"{bed.isoformat()},{wake.isoformat()},{asleep},15,20,notebook")
    if bad:
        rows.insert(2, "2026-03-25T23:00,2026-03-26T07:00+01:00,400,,,")
    path.write_text("\n".join(rows) + "\n")


WRITERS: dict[str, tuple[str, Callable[..., None]]] = {
    "gadgetbridge": ("Gadgetbridge.db", write_gadgetbridge),
    "sleep-as-android": ("sleep-export.csv", write_sleep_as_android),
    "fitbit": ("sleep-2026-03-01.json", write_fitbit),
    "apple-health": ("export.xml", write_apple_health),
    "csv": ("nights.csv", write_csv),
}
BAD_ROW = {
    "gadgetbridge": "XIAOMI_SLEEP_TIME_SAMPLE row 4: WAKEUP_TIME must be after TIMESTAMP",
    "sleep-as-android": "row 5: Hours must be a number, got 'eight'",
    "fitbit": "entry 1 (logId 99): duration must be a number ≥ 0, got -5",
    "apple-health": "sleep record 16: startDate must be like 2026-03-28 23:10:00 +0100",
    "csv": "row 3: in_bed needs its UTC offset (like +01:00), got '2026-03-25T23:00'",
}


def _import(home: Path, source: str, path: Path) -> tuple[int, str, str]:
    config = write_config(home, "")
    proc = pc6("import", source, str(path), "--config", str(config))
    return proc.returncode, proc.stdout, proc.stderr


@pytest.mark.parametrize("source", sorted(WRITERS))
def test_each_night_including_the_clock_change_and_a_reimport(home: Path, source: str) -> None:
    name, write = WRITERS[source]
    path = home / name
    write(path)
    code, out, err = _import(home, source, path)
    assert code == 0, err
    assert "imported 3 nights" in out and "0 replaced" in out and "device's estimate" in out
    with Store(home / "journal.sqlite") as store:
        nights = {t.night: t for t in store.tracker(source)}
    assert sorted(nights) == list(TIB)
    for night, tib in TIB.items():
        t = nights[night]
        # The spring night is an hour shorter in real time, whatever the local clock says.
        assert t.tib_min == pytest.approx(tib, abs=0.5), (night, t)
        asleep = dict((n, a) for n, _, _, _, a in NIGHTS)[night]
        assert t.tst_min == pytest.approx(asleep, abs=0.5)
        assert t.se == pytest.approx(100 * asleep / tib, abs=0.2)
    code, out, _ = _import(home, source, path)
    assert code == 0 and "imported 3 nights" in out and "3 replaced" in out
    with Store(home / "journal.sqlite") as store:
        assert len(store.tracker(source)) == 3  # replaced, never doubled


@pytest.mark.parametrize("source", sorted(WRITERS))
def test_a_malformed_row_is_named_and_nothing_is_stored(home: Path, source: str) -> None:
    name, write = WRITERS[source]
    path = home / name
    write(path, bad=True)
    code, _, err = _import(home, source, path)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("pc6: error: "), err
    assert BAD_ROW[source] in lines[0]
    assert "Traceback" not in err
    with Store(home / "journal.sqlite") as store:
        assert store.tracker() == []


def test_stages_are_kept_where_the_device_gives_them(home: Path) -> None:
    name, write = WRITERS["apple-health"]
    write(home / name)
    assert _import(home, "apple-health", home / name)[0] == 0
    with Store(home / "journal.sqlite") as store:
        t = store.tracker("apple-health")[0]
    assert (t.deep_min, t.sol_min) == (90.0, 15.0)
    assert t.device == "Apple Health (Watch)"


def test_an_unknown_source_or_missing_file_is_one_line(home: Path) -> None:
    code, _, err = _import(home, "garmin", home / "x")
    assert code == 2 and "SOURCE: must be one of gadgetbridge" in err
    code, _, err = _import(home, "csv", home / "nothing.csv")
    assert code == 2 and "no such file" in err
