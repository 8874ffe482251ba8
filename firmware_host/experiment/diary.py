"""The morning diary: the core items of the Consensus Sleep Diary, in this project's words.

Times are local clock times ("23:10"); the night is the journal's noon-to-noon night named by
its evening's date. A time from noon on belongs to that evening, a time before noon to the
next morning. Durations between them are real elapsed time, so a night when the clocks
change is counted right. Fill it in within an hour of getting up: a diary is what makes the
experiment, and it becomes reliable after about a week.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from firmware_host.errors import InvalidInput
from firmware_host.plan.schedule import night_of

GUESSES = ("active", "control", "unsure")
_CLOCK = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")

#: (field, question) in the order the interactive diary asks.
QUESTIONS = (
    ("in_bed", "What time did you get into bed? (HH:MM)"),
    ("tried", "What time did you try to go to sleep? (HH:MM)"),
    ("sol", "How many minutes did it take you to fall asleep?"),
    ("awakenings", "How many times did you wake up, not counting the final waking?"),
    ("waso", "In total, how many minutes were you awake after first falling asleep?"),
    ("final_wake", "What time was your final awakening? (HH:MM)"),
    ("out_of_bed", "What time did you get out of bed for the day? (HH:MM)"),
    ("quality", "How would you rate your sleep? (1 very poor … 5 very good)"),
    ("rested", "How rested do you feel? (1 not at all … 5 very)"),
    ("guess", "Which night do you think it was? (active, control, unsure)"),
)
QUESTIONS_FIELDS = tuple(f for f, _ in QUESTIONS)
#: A plausible night, for examples and the simulator (same order as QUESTIONS).
DEFAULTS = ("22:40", "22:50", 20, 1, 15, "06:30", "06:45", 3, 3, "unsure")
OPTIONAL = (
    ("naps", "Minutes napped yesterday (Enter to skip)"),
    ("caffeine", "Caffeinated drinks yesterday (Enter to skip)"),
    ("alcohol", "Alcoholic drinks yesterday (Enter to skip)"),
    ("medication", "Sleep medication or aids taken (Enter to skip)"),
    ("note", "Anything else about the night (Enter to skip)"),
)


@dataclass(frozen=True)
class Entry:
    """A validated diary entry; instants are epoch seconds."""

    night: dt.date
    in_bed: float
    tried: float
    sol_min: float
    awakenings: int
    waso_min: float
    final_wake: float
    out_of_bed: float
    quality: int
    rested: int
    guess: str
    naps_min: float | None = None
    caffeine: int | None = None
    alcohol: int | None = None
    medication: str | None = None
    note: str | None = None

    def row(self, entered_at: float) -> dict[str, Any]:
        """The columns of the ``diary`` table."""
        values = dict(self.__dict__)
        values.pop("night")
        return {"entered_at": entered_at, **values}


def clock_on_night(text: str, night: dt.date, tz: dt.tzinfo, field: str) -> float:
    """Epoch seconds of a local ``HH:MM`` in the night of ``night``."""
    match = _CLOCK.match(text.strip()) if isinstance(text, str) else None
    if not match:
        raise InvalidInput(f"{field}: must be a time like 23:10, got {text!r}")
    clock = dt.time(int(match.group(1)), int(match.group(2)))
    day = night if clock >= dt.time(12) else night + dt.timedelta(days=1)
    return dt.datetime.combine(day, clock, tzinfo=tz).timestamp()


def _number(
    text: Any, field: str, *, integer: bool = False, low: float = 0, high: float = 1440
) -> float:
    try:
        value = int(str(text)) if integer else float(str(text))
    except ValueError:
        kind = "a whole number" if integer else "a number"
        raise InvalidInput(f"{field}: must be {kind}, got {text!r}") from None
    if not low <= value <= high:
        raise InvalidInput(f"{field}: must be from {low:g} to {high:g}, got {text}")
    return value


def build(answers: dict[str, Any], night: dt.date, tz: dt.tzinfo, now: float) -> Entry:
    """Validate the answers of one morning.

    Raises:
        InvalidInput: one line naming the item and the reason.
    """
    if night > night_of(now, tz):
        raise InvalidInput(f"--night: {night} has not begun yet")
    for field, _ in QUESTIONS:
        if answers.get(field) in (None, ""):
            raise InvalidInput(f"{field.replace('_', '-')}: required")
    times = {
        f: clock_on_night(answers[f], night, tz, f.replace("_", "-"))
        for f in ("in_bed", "tried", "final_wake", "out_of_bed")
    }
    order = ("in_bed", "tried", "final_wake", "out_of_bed")
    for a, b in zip(order, order[1:], strict=False):
        if times[b] < times[a]:
            raise InvalidInput(
                f"{b.replace('_', '-')}: must not be before {a.replace('_', '-')}"
                f" ({answers[b]} < {answers[a]})"
            )
    if times["out_of_bed"] > now:
        raise InvalidInput(f"out-of-bed: {answers['out_of_bed']} on that night is in the future")
    sol = _number(answers["sol"], "sol")
    waso = _number(answers["waso"], "waso")
    span = (times["final_wake"] - times["tried"]) / 60
    if sol + waso > span + 1e-9:
        raise InvalidInput(
            f"waso: minutes to fall asleep ({sol:g}) and awake ({waso:g}) exceed the"
            f" {span:g} minutes from trying to sleep to the final awakening"
        )
    guess = str(answers["guess"]).strip().lower()
    if guess not in GUESSES:
        raise InvalidInput(f"guess: must be one of {', '.join(GUESSES)}, got {answers['guess']!r}")
    return Entry(
        night=night,
        in_bed=times["in_bed"],
        tried=times["tried"],
        sol_min=sol,
        awakenings=int(_number(answers["awakenings"], "awakenings", integer=True, high=100)),
        waso_min=waso,
        final_wake=times["final_wake"],
        out_of_bed=times["out_of_bed"],
        quality=int(_number(answers["quality"], "quality", integer=True, low=1, high=5)),
        rested=int(_number(answers["rested"], "rested", integer=True, low=1, high=5)),
        guess=guess,
        **_optional(answers),
    )


def _optional(answers: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if answers.get("naps") not in (None, ""):
        out["naps_min"] = _number(answers["naps"], "naps")
    for field in ("caffeine", "alcohol"):
        if answers.get(field) not in (None, ""):
            out[field] = int(_number(answers[field], field, integer=True, high=50))
    for field in ("medication", "note"):
        text = answers.get(field)
        if text not in (None, ""):
            if len(str(text)) > 500:
                raise InvalidInput(f"{field}: at most 500 characters")
            out[field] = str(text)
    return out


def outcomes(row: dict[str, Any]) -> dict[str, float]:
    """Every outcome of a stored diary row; efficiency derived from the times."""
    tib = (row["out_of_bed"] - row["in_bed"]) / 60
    tst = max(0.0, (row["final_wake"] - row["tried"]) / 60 - row["sol_min"] - row["waso_min"])
    return {
        "sol": float(row["sol_min"]),
        "waso": float(row["waso_min"]),
        "awakenings": float(row["awakenings"]),
        "quality": float(row["quality"]),
        "tst": tst,
        "se": 100 * tst / tib if tib > 0 else 0.0,
    }
