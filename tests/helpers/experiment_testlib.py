"""Helpers for the experiment tests: a planned experiment and nights run by the real daemon."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path
from typing import Any

from daemon_testlib import night, run_virtual, write_config

from firmware_host.drive.actuator import ActuatorKind
from firmware_host.experiment.plan import Planned, Request, plan
from firmware_host.experiment.store import Store
from firmware_host.guard.limits import limits_for
from firmware_host.plan.schedule import night_bounds
from firmware_host.plan.schedule import zone as tz_of

PC6 = [sys.executable, "-m", "firmware_host.cli.main"]
START = dt.date(2026, 3, 2)
BERLIN = tz_of("Europe/Berlin")


def pc6(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``pc6`` as a user would."""
    return subprocess.run(PC6 + list(args), capture_output=True, text=True, input=stdin)


def experiment_home(home: Path, **changes: Any) -> tuple[Path, Planned]:
    """A config with ``experiment = "e1"`` at 22:30 and its plan (2 run-in, 4 nights)."""
    # An hourly housekeeping check keeps six virtual nights quick.
    body = '[daemon]\ncheck_every = "1h"\n[[schedule]]\nat = "22:30"\nexperiment = "e1"\n'
    config = write_config(home, body)
    fields = {
        "name": "e1",
        "active": "short",
        "control": "off",
        "nights": 4,
        "run_in": 2,
        "block": 2,
        "outcome": "sol",
        "better": "lower",
        "meaningful": 10.0,
        "blind": True,
        "start": START,
    }
    fields.update(changes)
    with Store(home / "journal.sqlite") as store:
        planned = plan(
            Request(**fields),
            store,
            kind=ActuatorKind.VIBRATION,
            limits=limits_for(ActuatorKind.VIBRATION),
            dirs=(home / "profiles",),
            now=night_bounds(START, BERLIN)[0],
            today=START,
        )
    return config, planned


def run_nights(config: Path, first: dt.date, count: int, **options: Any) -> Any:
    """Run the daemon on virtual time from the noon of ``first`` for ``count`` nights."""
    start = night_bounds(first, BERLIN)[0]
    end = night_bounds(first + dt.timedelta(days=count - 1), BERLIN)[1]
    return run_virtual(lambda: night(config, start, end, **options))
