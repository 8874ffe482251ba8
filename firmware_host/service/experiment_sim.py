"""``pc6 sim experiment --end-to-end``: one whole experiment through the real daemon.

A private config and journal; ``pc6 experiment plan``'s own code plans a blind experiment;
the real :class:`~firmware_host.service.daemon.Daemon` runs every night on the virtual clock
against the simulator, resolving each night's arm from the schedule entry
``experiment = "sim"``; each morning a diary generated from the model (with the known effect)
goes through the diary's validation; then unblinding verifies the schedule and the same
analysis as ``pc6 experiment analyze`` answers.
"""

from __future__ import annotations

import datetime as dt
import math
import tempfile
from pathlib import Path
from typing import Any

from firmware_host.experiment import analysis, diary
from firmware_host.experiment.design import ACTIVE, RUN_IN
from firmware_host.experiment.plan import Request, plan
from firmware_host.experiment.simulate import Model
from firmware_host.experiment.store import Store
from firmware_host.experiment.unblind import verify
from firmware_host.plan.schedule import night_bounds
from firmware_host.record.journal import Journal
from firmware_host.service.night import run_daemon_virtually, twin_factory
from firmware_host.session.config import load_config

TZ = "Europe/Berlin"
START = dt.date(2026, 3, 2)  # 56 nights from here cross the spring clock change (29 March)


def run_end_to_end(
    model: Model,
    *,
    nights: int,
    block: int,
    seed: int,
    run_in: int = 0,
    meaningful: float | None = None,
) -> str:
    """Plan, run, diary, unblind and analyse one simulated experiment; returns the analysis."""
    import numpy as np

    rng = np.random.default_rng(seed)
    with tempfile.TemporaryDirectory(prefix="pc6-experiment-") as tmp:
        home = Path(tmp)
        config_path = home / "pc6band.toml"
        config_path.write_text(
            f'timezone = "{TZ}"\nrequire_clock_sync = false\n'
            f'[journal]\npath = "{home / "journal.sqlite"}"\n'
            '[daemon]\ncheck_every = "1h"\n'
            '[[schedule]]\nat = "22:30"\nexperiment = "sim"\n'
        )
        config = load_config(config_path, missing_ok=False)
        tz = config.tz
        with Store(config.journal) as store:
            plan(
                Request(
                    "sim",
                    "evening-pc6",
                    "off",
                    nights,
                    run_in,
                    block,
                    "sol",
                    model.better,
                    meaningful,
                    True,
                    START,
                ),
                store,
                kind=config.kind,
                limits=config.limits_for(config.kind),
                dirs=(),
                now=night_bounds(START, tz)[0] - 3600,
                today=START,
            )
        last = START + dt.timedelta(days=nights + run_in - 1)
        with Journal(config.journal) as journal:
            start, end = night_bounds(START, tz)[0], night_bounds(last, tz)[1]
            run_daemon_virtually(config, journal, start, end, twin_factory(config))
            rows = journal.recent(10**9)
        with Store(config.journal) as store:
            _write_diaries(store, model, rng, tz)
            exp = store.experiment("sim")
            assert exp is not None
            verdict = verify(store, exp, {r.id: r.profile for r in rows})
            store.set_state("sim", "unblinded", at=night_bounds(last, tz)[1])
            exp = store.experiment("sim")
            assert exp is not None
            result = analysis.analyse(store, exp, {r.id: r.reason for r in rows})
        checked = "verified" if verdict.ok else "MISMATCH: " + "; ".join(verdict.problems)
        sessions = len(rows)
        return (
            f"SIMULATED end to end: {sessions} sessions on virtual time, unblinding {checked}\n"
            + analysis.describe(result)
        )


def _write_diaries(store: Store, model: Model, rng: Any, tz: dt.tzinfo) -> None:
    """Each morning's diary from the model: sol = mean + effect on active nights + AR(1)."""
    # A mean well above the effect and the SD keeps the diary's "minutes ≥ 0" from
    # clipping many nights (clipping would shrink the effect the analysis should find).
    mean = max(model.mean, abs(model.effect) + 2.5 * model.sd)
    e = 0.0
    scale = math.sqrt(1 - model.autocorr**2)
    for night_text, letter in store.nights("sim"):
        night = dt.date.fromisoformat(night_text)
        e = model.autocorr * e + scale * float(rng.standard_normal())
        shift = model.difference if letter == ACTIVE else 0.0
        sol = max(0, round(mean + shift + model.sd * e))
        guess = "unsure" if letter == RUN_IN else str(rng.choice(["active", "control", "unsure"]))
        answers = {
            "in_bed": "22:40",
            "tried": "22:50",
            "sol": sol,
            "awakenings": int(rng.poisson(2)),
            "waso": int(rng.integers(0, 40)),
            "final_wake": "06:30",
            "out_of_bed": "06:45",
            "quality": int(rng.integers(2, 6)),
            "rested": int(rng.integers(1, 6)),
            "guess": guess,
        }
        now = night_bounds(night, tz)[1]
        store.put_diary(night, diary.build(answers, night, tz, now).row(now))
