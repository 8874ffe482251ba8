"""The daemon plays tonight's arm, and nothing a person sees while blind names it.

The nights run on the real daemon on virtual time; ``pc6 log`` runs as a subprocess; the
``pc6 ctl status`` text comes from the socket's own handler and the CLI's own formatter (a
socket cannot open on the virtual clock's loop).
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest
from daemon_testlib import SHORT_PROFILE, ctl, until
from experiment_testlib import BERLIN, START, experiment_home, pc6, run_nights

from firmware_host.cli.ctl import describe
from firmware_host.experiment.blind import open_for_display
from firmware_host.experiment.store import Store
from firmware_host.plan.schedule import local_instant, night_of
from firmware_host.record import report
from firmware_host.record.journal import Journal

# The arm's words, the profiles' names, a dose or peak figure. (``pc6 ctl status`` has a
# "control" line saying who is in control; that label is not the arm.)
FORBIDDEN = re.compile(
    r"short|e1-off|active|(?<!^)(?<!\n)\bcontrol\b|dose\s+[\d.]|peak\s+\d|level·s"
)


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Six nights of a blind experiment, run once for the tests that only read them."""
    home = tmp_path_factory.mktemp("ran")
    (home / "profiles").mkdir()
    (home / "profiles" / "short.toml").write_text(SHORT_PROFILE)
    config, _ = experiment_home(home)
    run_nights(config, START, 6)
    return home, config


def _arms(home: Path) -> dict[str, str]:
    with Store(home / "journal.sqlite") as store:
        return dict(store.nights("e1"))


def test_each_night_plays_its_arm_and_run_in_nights_play_nothing(ran: tuple[Path, Path]) -> None:
    home, _ = ran
    arms = _arms(home)
    with Journal(home / "journal.sqlite") as journal:
        rows = list(reversed(journal.recent(100)))
        notes = [d for _, _, k, d in journal.events_between(0, 2e9) if k == "schedule"]
    played = {str(night_of(r.started_at, BERLIN)): r for r in rows}
    assert sorted(played) == sorted(n for n, x in arms.items() if x != "R")
    for n, row in played.items():
        assert row.profile == ("short" if arms[n] == "A" else "e1-off")
        assert row.reason == "completed"
        assert row.duration_s == pytest.approx(40, abs=0.5)  # off lasts as long as active
        if arms[n] == "C":
            assert row.dose == 0 and (row.on_s or 0) == 0
        else:
            assert row.dose and row.dose > 5
    assert sum("run-in night, diary only" in n for n in notes) == 2


def test_ctl_status_during_a_blind_night_names_no_arm_and_no_output(home: Path) -> None:
    config, _ = experiment_home(home)
    seen: list[str] = []

    async def during(daemon: Any, clock: Any) -> None:
        for i in range(2, 6):
            day = START + dt.timedelta(days=i)
            await until(clock, local_instant(day, dt.time(22, 30, 10), BERLIN)[0])
            reply = await ctl(daemon, "status")
            assert reply["session"] is not None
            seen.append(describe(reply))

    run_nights(config, START, 6, during=during)
    assert len(seen) == 4
    for text in seen:
        assert "experiment night" in text
        assert "output hidden" in text
        assert not FORBIDDEN.search(text), text
    # Active and control nights read the same, once the times are taken out.
    assert len({re.sub(r"\d", "#", t) for t in seen}) == 1


def _log(home: Path, config: Path, *args: str) -> str:
    proc = pc6("log", "--config", str(config), *args)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_log_report_events_and_csv_name_no_arm_while_blind(ran: tuple[Path, Path]) -> None:
    home, config = ran
    arms = _arms(home)
    listing = _log(home, config, "--events")
    assert listing.count("experiment night") == 4
    assert "dose and peak hidden" in listing
    assert not FORBIDDEN.search(listing), listing
    csv = _log(home, config, "--csv")
    assert not FORBIDDEN.search(csv), csv
    reports = {}
    for n, x in arms.items():
        if x == "R":
            continue
        text = _log(home, config, "--night", n)
        assert "hidden while the experiment is blind" in text
        assert not FORBIDDEN.search(text), text
        reports[x] = re.sub(r"\d", "#", text)
    assert reports["A"] == reports["C"]  # an active night's report reads like a control one


def test_the_night_plot_while_blind_draws_no_level(
    ran: tuple[Path, Path], tmp_path: Path, monkeypatch: Any
) -> None:
    from matplotlib.figure import Figure

    home, _ = ran
    figures: list[Figure] = []
    monkeypatch.setattr(Figure, "savefig", lambda self, *a, **k: figures.append(self))
    active = next(n for n, x in _arms(home).items() if x == "A")
    with open_for_display(home / "journal.sqlite") as journal:
        report.plot_night(journal, dt.date.fromisoformat(active), BERLIN, str(tmp_path / "n.png"))
    (fig,) = figures
    texts = [t.get_text() for t in fig.findobj(lambda o: hasattr(o, "get_text"))]
    assert not any(FORBIDDEN.search(t) for t in texts), texts
    assert all(len(line.get_xdata()) == 0 for ax in fig.axes for line in ax.get_lines())


def test_after_unblinding_the_log_shows_the_truth(home: Path) -> None:
    config, _ = experiment_home(home)
    run_nights(config, START, 6)
    with Store(home / "journal.sqlite") as store:
        store.set_state("e1", "unblinded", at=0)
    listing = _log(home, config)
    assert "short" in listing and "e1-off" in listing
    assert "experiment night" not in listing


def test_experiment_status_while_blind_names_no_arm(ran: tuple[Path, Path]) -> None:
    _, config = ran
    proc = pc6("experiment", "status", "e1", "--config", str(config))
    assert proc.returncode == 0, proc.stderr
    assert "experiment sessions started: 4 of 4" in proc.stdout
    assert "(blind)" in proc.stdout
    assert not FORBIDDEN.search(proc.stdout), proc.stdout


def test_an_existing_journal_keeps_its_sessions_when_the_experiment_tables_arrive(
    home: Path,
) -> None:
    with Journal(home / "journal.sqlite") as journal:
        sid = journal.start_session(
            at=1.0, profile="old", sha256="x", source="s", backend="sim", kind="vibration",
            simulated=True,
        )  # fmt: skip
    with Store(home / "journal.sqlite") as store:
        assert store.experiments() == []
        assert store.query("SELECT version FROM experiment_schema") == [(1,)]
    with Store(home / "journal.sqlite"):
        pass  # a second open adds nothing twice
    with Journal(home / "journal.sqlite") as journal:
        assert [(r.id, r.profile) for r in journal.recent(5)] == [(sid, "old")]
