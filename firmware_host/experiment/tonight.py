"""The daemon's hook: a schedule entry with ``experiment = "NAME"`` plays tonight's arm.

The arm is looked up at session start, from the stored schedule, for the night (noon to
noon) the start falls in. While the experiment is blind the running session is shown as
"experiment night"; the journal records the real profile, and ``experiment_sessions`` the
arm, for safety audits and for unblinding.
"""

from __future__ import annotations

import logging
from typing import Any

from firmware_host.experiment.design import ACTIVE, RUN_IN
from firmware_host.experiment.store import Store
from firmware_host.plan.schedule import EXPERIMENT_PREFIX, night_of

logger = logging.getLogger(__name__)

BLIND_LABEL = "experiment night"


def start_scheduled(daemon: Any, profile: str, why: str) -> str | None:
    """Start a scheduled session (tonight's arm for an experiment entry).

    Returns:
        None when a session started, else the outcome to journal (a run-in night, an
        experiment that is not running).

    Raises:
        PC6Error: what :meth:`Daemon.start_now` raises.
    """
    if not profile.startswith(EXPERIMENT_PREFIX):
        daemon.start_now(profile, origin="schedule", why=why)
        return None
    name = profile.removeprefix(EXPERIMENT_PREFIX)
    night = night_of(daemon.clock.wall(), daemon.config.tz)
    with Store(daemon.journal.path) as store:
        exp = store.experiment(name)
        if exp is None:
            return f"skipped: no experiment {name!r} (pc6 experiment plan {name} ...)"
        if exp.state != "planned":
            return f"skipped: experiment {name} is {exp.state}"
        arm = store.arm_on(name, night)
        if arm is None:
            return f"skipped: night {night} is outside experiment {name}"
        if arm == RUN_IN:
            return f"experiment {name}: run-in night, diary only, no session"
        target = exp.active if arm == ACTIVE else exp.control_profile
        running = daemon.start_now(target, origin="schedule", why=f"experiment {name}, {why}")

        def record(session_id: int) -> None:  # a band may say its kind first (see Running)
            with Store(daemon.journal.path) as journaled:
                journaled.record_session(session_id, name, night, arm, target)

        running.on_journaled(record)
        if exp.blinded:
            running.profile = BLIND_LABEL
    return None
