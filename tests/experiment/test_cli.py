"""``pc6 experiment`` and ``pc6 diary`` as a wearer types them."""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
import time
from pathlib import Path

import pytest
from daemon_testlib import write_config
from experiment_testlib import BERLIN, START, experiment_home, pc6, run_nights

from firmware_host.experiment import diary
from firmware_host.experiment.store import Store
from firmware_host.plan.schedule import night_bounds, night_of

STRONG = """\
name = "strong"
description = "More than short: full level for a minute."
kinds = ["vibration"]
intent = "other"
[[steps]]
set = 1.0
for = "60s"
[[steps]]
rest = "1s"
"""
TOO_LONG = STRONG.replace('"strong"', '"too-long"').replace('"60s"', '"11m"')


def _config(home: Path) -> Path:
    (home / "profiles" / "strong.toml").write_text(STRONG)
    (home / "profiles" / "too-long.toml").write_text(TOO_LONG)
    return write_config(home, "")


def _plan(config: Path, *extra: str) -> tuple[int, str, str]:
    args = ["experiment", "plan", "e1", "--config", str(config), "--active", "short"]
    args += ["--nights", "4", "--outcome", "sol", "--better", "lower", *extra]
    proc = pc6(*args)
    return proc.returncode, proc.stdout, proc.stderr


def test_plan_prints_the_commitment_and_writes_a_level_zero_control(home: Path) -> None:
    config = _config(home)
    code, out, err = _plan(config, "--control", "off", "--run-in", "3", "--blind")
    assert code == 0, err
    commitment = re.search(r"commitment \(.*\): ([0-9a-f]{64})$", out, re.M)
    assert commitment
    with Store(home / "journal.sqlite") as store:
        exp = store.experiment("e1")
        assert exp is not None and exp.commitment == commitment.group(1)
        assert [x for _, x in store.nights("e1")][:3] == ["R", "R", "R"]
    off = (home / "experiments" / "e1-off.toml").read_text()
    assert 'rest = "40000ms"' in off  # as long as the 40-second active profile
    assert "cannot be truly blinded" in out
    assert "Not a sham you cannot feel" in out
    assert 'experiment = "e1"' in out


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--control", "strong"], "--control: 'strong' delivers more dose than 'short'"),
        (["--control", "off", "--nights", "5"], "--nights: must be a positive multiple of 2"),
        (
            ["--control", "nothing-like-this"],
            "--control: nothing-like-this: no profile file or built-in profile",
        ),
    ],
)
def test_plan_refuses_what_it_cannot_keep(home: Path, extra: list[str], message: str) -> None:
    code, _, err = _plan(_config(home), *extra)
    assert code == 2
    assert len(err.strip().splitlines()) == 1
    assert message in err
    assert (
        not (home / "journal.sqlite").exists() or not Store(home / "journal.sqlite").experiments()
    )


def test_plan_refuses_an_arm_the_gate_would_reshape(home: Path) -> None:
    config = _config(home)
    args = ["experiment", "plan", "e2", "--config", str(config), "--active", "too-long"]
    proc = pc6(*args, "--control", "off", "--nights", "4", "--outcome", "sol", "--better", "lower")
    assert proc.returncode == 2
    assert "--active: the gate would reshape 'too-long'" in proc.stderr


def test_a_second_plan_with_the_same_name_is_refused(home: Path) -> None:
    config = _config(home)
    assert _plan(config, "--control", "off")[0] == 0
    code, _, err = _plan(config, "--control", "off")
    assert code == 2 and "already exists" in err


# -- the diary ---------------------------------------------------------------------------

DIARY = [
    "--in-bed", "22:40", "--tried", "23:00", "--sol", "25", "--awakenings", "2",
    "--waso", "30", "--final-wake", "06:30", "--out-of-bed", "06:50",
    "--quality", "4", "--rested", "3", "--guess", "unsure",
]  # fmt: skip


def test_diary_by_flags_saves_and_derives_efficiency(home: Path) -> None:
    config = write_config(home, "")
    proc = pc6("diary", "--config", str(config), "--night", "2026-03-05", *DIARY, "--note", "ok")
    assert proc.returncode == 0, proc.stderr
    # 23:00→06:30 is 450 min; minus 25 and 30 is 395 asleep, in 490 min in bed: 81 %.
    assert (
        "saved the diary of the night of 2026-03-05: 395 min asleep, efficiency 81 %" in proc.stdout
    )
    again = pc6("diary", "--config", str(config), "--night", "2026-03-05", *DIARY)
    assert "replaced" in again.stdout
    with Store(home / "journal.sqlite") as store:
        assert list(store.diaries()) == ["2026-03-05"]


def test_diary_counts_real_minutes_across_the_spring_clock_change(home: Path) -> None:
    config = write_config(home, "")  # Europe/Berlin: 29 March 2026 02:00 → 03:00
    proc = pc6("diary", "--config", str(config), "--night", "2026-03-28", *DIARY)
    assert proc.returncode == 0, proc.stderr
    assert "335 min asleep" in proc.stdout  # an hour shorter than the 395 of a normal night


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("--tried", "22:00"), "tried: must not be before in-bed (22:00 < 22:40)"),
        (("--sol", "-5"), "sol: must be from 0 to 1440, got -5"),
        (("--quality", "7"), "quality: must be from 1 to 5, got 7"),
        (("--final-wake", "7.30"), "final-wake: must be a time like 23:10, got '7.30'"),
        (("--waso", "500"), "waso: minutes to fall asleep (25) and awake (500) exceed the 450"),
        (("--guess", "maybe"), "guess: must be one of active, control, unsure"),
    ],
)
def test_diary_rejects_bad_answers_in_one_line(
    home: Path, change: tuple[str, str], message: str
) -> None:
    config = write_config(home, "")
    args = list(DIARY)
    args[args.index(change[0]) + 1] = change[1]
    proc = pc6("diary", "--config", str(config), "--night", "2026-03-05", *args)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [f"pc6: error: {message}"] or message in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert not (home / "journal.sqlite").exists()


def test_diary_refuses_a_night_that_has_not_begun(home: Path) -> None:
    config = write_config(home, "")
    future = (dt.date.today() + dt.timedelta(days=3)).isoformat()
    proc = pc6("diary", "--config", str(config), "--night", future, *DIARY)
    assert proc.returncode == 2
    assert f"--night: {future} has not begun yet" in proc.stderr


def test_diary_asks_each_item_when_no_flags_are_given(home: Path) -> None:
    config = write_config(home, "")
    answers = "22:40\n23:00\n25\n2\n30\n06:30\n06:50\n4\n3\ncontrol\n\n1\n\n\nslept ok\n"
    proc = pc6("diary", "--config", str(config), "--night", "2026-03-05", stdin=answers)
    assert proc.returncode == 0, proc.stderr
    assert "What time did you get into bed?" in proc.stdout
    with Store(home / "journal.sqlite") as store:
        row = store.diaries()["2026-03-05"]
    assert (row["guess"], row["caffeine"], row["note"]) == ("control", 1, "slept ok")


def test_questionnaire_totals_are_kept_with_their_name(home: Path) -> None:
    config = write_config(home, "")
    proc = pc6("diary", "--config", str(config), "--night", "2026-03-05", "--score", "ISI=12")
    assert proc.returncode == 0, proc.stderr
    with Store(home / "journal.sqlite") as store:
        assert store.query("SELECT name, total FROM scores") == [("ISI", 12.0)]


# -- analyze, unblind, stop --------------------------------------------------------------


def _fill_diaries(home: Path, sol_of: dict[str, float]) -> None:
    with Store(home / "journal.sqlite") as store:
        for night_text, letter in store.nights("e1"):
            night = dt.date.fromisoformat(night_text)
            answers = dict(zip(diary.QUESTIONS_FIELDS, diary.DEFAULTS, strict=True))
            answers["sol"] = sol_of.get(letter, 30)
            now = night_bounds(night, BERLIN)[1]
            store.put_diary(night, diary.build(answers, night, BERLIN, now).row(now))


def test_analyze_waits_for_unblinding_then_degrades_honestly_with_few_pairs(home: Path) -> None:
    config, _ = experiment_home(home)
    run_nights(config, START, 6)
    _fill_diaries(home, {"A": 20, "C": 35})
    blind = pc6("experiment", "analyze", "e1", "--config", str(config))
    assert blind.returncode == 2 and "is still blind" in blind.stderr
    opened = pc6("experiment", "unblind", "e1", "--config", str(config))
    assert opened.returncode == 0, opened.stdout + opened.stderr
    assert "verified" in opened.stdout
    out = pc6("experiment", "analyze", "e1", "--config", str(config)).stdout
    assert "With 2 complete pairs the smallest possible p-value is 0.5 (2/2^2)" in out
    assert "as delivered 4/4" in out
    assert "p =" not in out and "95 % interval" not in out


def test_analyze_with_twelve_pairs_gives_test_interval_and_words(home: Path) -> None:
    config, _ = experiment_home(home, nights=24, run_in=0)
    rng_sol = {"A": 20, "C": 35}
    _fill_diaries(home, rng_sol)
    with Store(home / "journal.sqlite") as store:
        store.set_state("e1", "unblinded", at=time.time())
    csv, png = home / "nights.csv", home / "nights.png"
    proc = pc6("experiment", "analyze", "e1", "--config", str(config), "--csv", str(csv),
               "--plot", str(png))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "Difference (active − control), mean within-block: −15.0" in out
    assert "exact, 4,096 arrangements" in out
    assert "p = 0.00049, the smallest these arrangements can give" in out
    assert "In words: on these nights the outcome was better on active nights" in out
    assert "it works" not in out.lower()
    assert "as delivered 0/24" in out  # no daemon ran these nights
    assert "As delivered (0 blocks where every session ran to its end): too few" in out
    assert csv.read_text().splitlines()[0] == "night,arm,block,sol,delivered,guess"
    assert png.stat().st_size > 10_000


def test_unblind_says_so_when_a_stored_night_was_tampered_with(home: Path) -> None:
    config, _ = experiment_home(home)
    run_nights(config, START, 6)
    with sqlite3.connect(home / "journal.sqlite") as db:
        night, arm = db.execute(
            "SELECT night, arm FROM experiment_nights WHERE arm != 'R' ORDER BY night LIMIT 1"
        ).fetchone()
        db.execute(
            "UPDATE experiment_nights SET arm = ? WHERE night = ?",
            ("C" if arm == "A" else "A", night),
        )
    proc = pc6("experiment", "unblind", "e1", "--config", str(config))
    assert proc.returncode == 1
    word = {"A": "active", "C": "control"}
    flipped = word["C" if arm == "A" else "A"]
    assert (
        f"MISMATCH: night {night}: stored as {flipped}, the committed schedule says {word[arm]}"
        in proc.stdout
    )


def test_unblind_refuses_before_the_last_night_unless_stopped(home: Path) -> None:
    config = _config(home)
    assert _plan(config, "--control", "off", "--blind")[0] == 0
    early = pc6("experiment", "unblind", "e1", "--config", str(config))
    assert early.returncode == 2 and "stop it first" in early.stderr
    assert pc6("experiment", "stop", "e1", "--config", str(config)).returncode == 0
    status = pc6("experiment", "status", "e1", "--config", str(config)).stdout
    assert "stopped" in status
    assert pc6("experiment", "unblind", "e1", "--config", str(config)).returncode == 0
    assert night_of(time.time(), BERLIN)  # (the plan started tonight)


def test_analyze_can_use_an_imported_tracker_as_the_outcome(home: Path) -> None:
    config, _ = experiment_home(home, nights=12, run_in=0)
    with Store(home / "journal.sqlite") as store:
        nights = store.nights("e1")
        store.set_state("e1", "unblinded", at=time.time())
    rows = ["in_bed,out_of_bed,total_sleep_min"]
    for night_text, letter in nights:
        night = dt.date.fromisoformat(night_text)
        bed = dt.datetime.combine(night, dt.time(23), tzinfo=BERLIN)
        wake = bed + dt.timedelta(hours=8)
        rows.append(f"{bed.isoformat()},{wake.isoformat()},{420 if letter == 'A' else 400}")
    (home / "t.csv").write_text("\n".join(rows) + "\n")
    assert pc6("import", "csv", str(home / "t.csv"), "--config", str(config)).returncode == 0
    proc = pc6("experiment", "analyze", "e1", "--config", str(config), "--source", "csv",
               "--outcome", "tst")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "from csv (the device's estimate) — a secondary outcome; sol was declared" in proc.stdout
    assert "In words: on these nights the outcome was better on active nights" in proc.stdout
    assert "mean within-block: +20.0" in proc.stdout


def test_a_new_plan_may_follow_a_finished_one_but_not_overlap_a_running_one(home: Path) -> None:
    config, _ = experiment_home(home)  # 2026-03-02 … 2026-03-07, long past
    status = pc6("experiment", "status", "e1", "--config", str(config)).stdout
    assert "finished: every night is past" in status
    args = ["experiment", "plan", "e2", "--config", str(config), "--active", "short"]
    args += ["--control", "off", "--nights", "4", "--outcome", "sol", "--better", "lower"]
    assert pc6(*args).returncode == 0
    again = pc6(*[a if a != "e2" else "e3" for a in args])
    assert again.returncode == 2 and "experiment 'e2' is still running" in again.stderr
