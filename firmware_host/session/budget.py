"""The nightly budget: how much stimulation tonight has had, and charging a session for it.

One function answers "how much is used" (:func:`used_tonight`) for ``pc6 run`` and the
daemon alike: the on-time of every session of that kind started tonight (noon to noon,
local time), including one that is still running or was killed — a running session
checkpoints its on-time every :data:`CHECKPOINT_EVERY_S` seconds (:class:`BudgetMeter`), so a
SIGKILL or a power cut loses at most that much of the charge. Real and simulated sessions
are separate budgets: a run on the simulator never uses up a real night.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable

from firmware_host.clock import Clock
from firmware_host.drive.actuator import ActuatorKind
from firmware_host.errors import PC6Error
from firmware_host.guard.limits import Limits
from firmware_host.plan.schedule import night_bounds, night_of
from firmware_host.record.journal import Journal

logger = logging.getLogger(__name__)

CHECKPOINT_EVERY_S = 10.0
MIN_CHECKPOINT_EVERY_S = 0.25
VIRTUAL_CHECKPOINT_EVERY_S = 600.0
BUDGET_SLACK_S = 1e-3  # less than this left is nothing left: a gate would spin in place


class BudgetUsedUp(PC6Error, RuntimeError):
    """Tonight's budget for this kind is used up; nothing starts."""


def used_tonight(
    journal: Journal, kind: ActuatorKind, *, wall: float, tz: dt.tzinfo, simulated: bool
) -> float:
    """Seconds of ``kind`` output already charged tonight (the night holding ``wall``).

    Sessions whose process died are closed as killed first, keeping their checkpointed
    on-time, so what they used is charged.
    """
    journal.close_killed()
    start, end = night_bounds(night_of(wall, tz), tz)
    return journal.on_time_between(start, end, kind.value, simulated=simulated)


def check_budget(used_s: float, limits: Limits, kind: ActuatorKind) -> None:
    """Refuse to start with nothing left.

    Raises:
        BudgetUsedUp: ``used_s`` reaches the nightly budget.
    """
    budget = limits.nightly_budget_s
    if used_s >= budget - BUDGET_SLACK_S:
        raise BudgetUsedUp(
            f"tonight's {kind} budget ({budget:g} s) is used up ({used_s:.0f} s so far); "
            "it renews at noon"
        )


def checkpoint_interval(limits: Limits, used_s: float, clock: Clock) -> float:
    """How often a session checkpoints its on-time: every 10 s, more often near the end.

    A kill loses at most one interval of charge; with little budget left that would be a
    large part of it, so the interval shrinks to a quarter of what is left (not below
    0.25 s). On a virtual clock nothing can kill the session between two of its own
    wake-ups that the journal would survive, so it checkpoints every 10 virtual minutes.
    """
    if clock.simulated:
        return VIRTUAL_CHECKPOINT_EVERY_S
    left = max(0.0, limits.nightly_budget_s - used_s)
    return max(MIN_CHECKPOINT_EVERY_S, min(CHECKPOINT_EVERY_S, left / 4))


class BudgetMeter:
    """Charges one running session: checkpoints its on-time, and the final figure.

    ``on_s()`` reads the session's own on-time so far (the gate's count, minus what was used
    before it started); ``progress()`` gives ``(duration_s, dose)`` for the checkpoint.
    """

    def __init__(
        self,
        journal: Journal,
        session_id: int,
        clock: Clock,
        on_s: Callable[[], float],
        progress: Callable[[], tuple[float, float]],
        *,
        every_s: float = CHECKPOINT_EVERY_S,
    ) -> None:
        self.journal = journal
        self.session_id = session_id
        self.clock = clock
        self._on_s = on_s
        self._progress = progress
        self.every_s = every_s
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Checkpoint every ``every_s`` seconds until :meth:`stop`."""
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        next_at = self.clock.now() + self.every_s
        while True:
            await self.clock.sleep_until(next_at)
            next_at += self.every_s
            self.checkpoint()

    def checkpoint(self) -> None:
        """Write the charge so far (a journal that fails is logged, never fatal)."""
        duration, dose = self._progress()
        try:
            self.journal.checkpoint(
                self.session_id,
                at=self.clock.wall(),
                on_s=self._on_s(),
                duration_s=duration,
                dose=dose,
            )
        except PC6Error:
            logger.exception("could not checkpoint session %s", self.session_id)

    def stop(self) -> None:
        """No more checkpoints (the session's end is journaled by its owner)."""
        if self._task is not None:
            self._task.cancel()
            self._task = None
