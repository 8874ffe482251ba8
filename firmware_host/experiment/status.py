"""``pc6 experiment status``: how far an experiment is, in words that name no arm."""

from __future__ import annotations

import datetime as dt
import math

from firmware_host.experiment import diary as diary_mod
from firmware_host.experiment.design import RUN_IN
from firmware_host.experiment.store import Experiment, Store
from firmware_host.plan.schedule import night_of


def status_text(store: Store, exp: Experiment, tz: dt.tzinfo, now: float) -> str:
    """Nights done, diaries in, missing nights, the run-in's variability — no arms."""
    today = night_of(now, tz)
    nights = store.nights(exp.name)
    diaries = store.diaries()
    past = [(n, x) for n, x in nights if dt.date.fromisoformat(n) < today]
    ran = {night for _, night, _, _ in store.sessions(exp.name)}
    run_in = [
        diary_mod.outcomes(diaries[n])[exp.outcome] for n, x in past if x == RUN_IN and n in diaries
    ]
    allocated = [n for n, x in past if x != RUN_IN]
    missing = [n for n in allocated if n not in diaries]
    state = exp.state
    if state == "planned":
        state = "finished: every night is past" if len(past) == len(nights) else "running"
    lines = [
        f"{exp.name}: {state}{' (blind)' if exp.blinded else ''}; nights {nights[0][0]}"
        f" to {nights[-1][0]}",
        f"  past nights: {len(past)} of {len(nights)} ({sum(x == RUN_IN for _, x in past)} run-in)",
        f"  diaries: {sum(n in diaries for n, _ in past)} of {len(past)} past nights;"
        f" missing: {', '.join(missing) or 'none'}",
        f"  experiment sessions started: {sum(n in ran for n in allocated)} of {len(allocated)}",
    ]
    if len(run_in) > 2:
        mean = sum(run_in) / len(run_in)
        sd = math.sqrt(sum((v - mean) ** 2 for v in run_in) / (len(run_in) - 1))
        lines.append(f"  run-in {exp.outcome}: mean {mean:.1f}, night-to-night SD {sd:.1f}")
    if exp.blinded:
        lines.append("  the arms stay hidden until `pc6 experiment unblind`")
    return "\n".join(lines)
