"""``pc6 experiment unblind``: re-derive the schedule from the seed and check it.

Three checks, each named in the answer: the schedule derived again from the seed equals the
stored one, the commitment printed at plan time matches, and every session the daemon ran
for the experiment played the arm the committed schedule gave that night.
"""

from __future__ import annotations

from dataclasses import dataclass

from firmware_host.experiment.design import ACTIVE
from firmware_host.experiment.plan import design_of
from firmware_host.experiment.store import Experiment, Store

WORD = {"A": "active", "C": "control", "R": "run-in"}


@dataclass(frozen=True)
class Verdict:
    """What unblinding found."""

    schedule: list[tuple[str, str]]
    problems: list[str]

    @property
    def ok(self) -> bool:
        """True when the schedule, the commitment and the sessions all agree."""
        return not self.problems


def verify(store: Store, exp: Experiment, journal_profiles: dict[int, str]) -> Verdict:
    """Check the stored experiment against its seed, its commitment and the journal.

    ``journal_profiles`` maps journal session ids to the profile name the journal recorded.
    """
    design = design_of(exp)
    derived = [(n.isoformat(), x) for n, x in design.schedule(exp.seed)]
    stored = store.nights(exp.name)
    problems = []
    if design.commitment(exp.seed) != exp.commitment:
        problems.append(
            "the seed and plan do not match the commitment printed at plan time"
            f" ({exp.commitment[:16]}…)"
        )
    want = dict(derived)
    for night, letter in stored:
        if want.get(night) != letter:
            problems.append(
                f"night {night}: stored as {WORD.get(letter, letter)}, the committed schedule"
                f" says {WORD.get(want.get(night, '?'), 'nothing')}"
            )
    if len(stored) != len(derived):
        problems.append(f"{len(stored)} nights stored, the committed schedule has {len(derived)}")
    names = _arm_names(exp)
    for sid, night, arm, _ in store.sessions(exp.name):
        if want.get(night) != arm:
            problems.append(
                f"session #{sid} on {night} played {WORD.get(arm, arm)}, the committed"
                f" schedule says {WORD.get(want.get(night, '?'), 'nothing')}"
            )
        ran = journal_profiles.get(sid)
        if ran is not None and names.get(arm) and ran != names[arm]:
            problems.append(
                f"session #{sid} on {night}: the journal shows {ran!r}, the {WORD[arm]} arm"
                f" is {names[arm]!r}"
            )
    return Verdict(derived, problems)


def _arm_names(exp: Experiment) -> dict[str, str]:
    """The profile names the journal records for each arm (None where unknown)."""
    from firmware_host.errors import ProfileError
    from firmware_host.experiment.plan import load_arm

    out = {}
    for arm, name in ((ACTIVE, exp.active), ("C", exp.control_profile)):
        try:
            out[arm] = load_arm(name, ()).name
        except ProfileError:
            continue  # a profile from a directory this process does not know
    return out
