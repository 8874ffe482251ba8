"""The morning report: what happened in one night, from the journal.

Sessions with their start, who started them and how they ended; minutes of stimulation per
actuator and the dose; every interruption and its cause; scheduled sessions that were
skipped or missed, and why.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from firmware_host.durations import format_duration
from firmware_host.plan.schedule import night_bounds, night_of
from firmware_host.record.journal import Journal, SessionRow

INTERRUPTIONS = ("trip", "limit", "fault", "link", "link lost", "button", "paused")
KILLED = "killed"
NOT_RAN = ("schedule",)  # skipped or missed scheduled sessions
HIDDEN_TOTALS = "  stimulation and dose: hidden while the experiment is blind"


def check_night(text: str) -> str:
    """``text`` if it names a night (a date, or ``last``).

    Raises:
        InvalidInput: not a date.
    """
    from firmware_host.errors import InvalidInput

    if text != "last":
        try:
            dt.date.fromisoformat(text)
        except ValueError:
            raise InvalidInput(
                f"--night: must be a date like 2026-03-29 or 'last', got {text!r}"
            ) from None
    return text


def pick_night(journal: Journal, text: str, tz: dt.tzinfo) -> dt.date | None:
    """The night named by ``text``: a date, or ``last`` for the latest with a session.

    Raises:
        InvalidInput: not a date.
    """
    if check_night(text) == "last":
        rows = journal.recent(1)
        return night_of(rows[0].started_at, tz) if rows else None
    return dt.date.fromisoformat(text)


def morning_report(journal: Journal, night: dt.date, tz: dt.tzinfo) -> str:
    """The report of the night of ``night`` as text."""
    start, end = night_bounds(night, tz)
    sessions = journal.sessions_between(start, end)
    events = journal.events_between(start, end)
    sim = " — SIMULATED" if any(s.simulated for s in sessions) else ""
    lines = [f"Night of {night} (12:00 to 12:00, {tz}){sim}"]
    change = _clock_change(start, end, tz)
    if change:
        lines.append(f"  {change}")

    def hm(when: float | None) -> str:
        return _hm(when, tz)

    if not sessions:
        lines.append("  no sessions")
    else:
        lines.append(f"  sessions: {len(sessions)}")
        lines += [f"    {_session_line(s, sessions, hm)}" for s in sessions]
        # A blind experiment's nights (see experiment/blind.py) come without dose or on-time.
        hidden: set[int] = getattr(journal, "blinded", set())
        blind = hidden & {s.id for s in sessions}
        lines += [HIDDEN_TOTALS] if blind else _totals(sessions)
    ended_early = [s for s in sessions if _ended_early(s, sessions)]
    interruptions = _separate_interruptions(events, ended_early)
    lines.append(f"  interruptions: {len(interruptions) + len(ended_early)}")
    for s in ended_early:
        lines.append(
            f"    {hm(s.ended_at or s.started_at)} {s.profile} {_reason(s, sessions)}"
            f"{': ' + s.detail if s.detail else ''}"
        )
    lines += [f"    {hm(at)} {kind}: {detail}" for at, _, kind, detail in interruptions]
    not_run = [e for e in events if e[2] in NOT_RAN]
    if not_run:
        lines.append(f"  scheduled but not run: {len(not_run)}")
        lines += [f"    {hm(at)} {detail}" for at, _, _, detail in not_run]
    problems = [e for e in events if e[2] in ("config", "profile")]
    lines += [f"  {kind}: {detail}" for _, _, kind, detail in problems]
    return "\n".join(lines)


def _clock_change(start: float, end: float, tz: dt.tzinfo) -> str:
    """A note when daylight saving changed the local clock during the night."""
    a, b = dt.datetime.fromtimestamp(start, tz), dt.datetime.fromtimestamp(end, tz)
    shift = (b.utcoffset() or dt.timedelta()) - (a.utcoffset() or dt.timedelta())
    if not shift:
        return ""
    way = "forward" if shift > dt.timedelta() else "back"
    return (
        f"clocks went {way} {abs(shift.total_seconds()) / 3600:g} h this night "
        f"({a.tzname()} → {b.tzname()}); times below are local"
    )


#: End reasons, and the event kinds whose last occurrence in the session is that end's cause
#: (the event is then the same interruption, not a second one).
CAUSED_BY = {"limit": ("limit",), "tripped": ("trip",), "link lost": ("link lost", "link")}


def _ended_early(s: SessionRow, sessions: list[SessionRow]) -> bool:
    return _reason(s, sessions) not in ("completed", "running or killed")


def _reason(s: SessionRow, sessions: list[SessionRow]) -> str:
    """How ``s`` ended; an open session that a later one followed was killed."""
    if s.reason:
        return s.reason
    if any(o.started_at > s.started_at for o in sessions):
        return KILLED
    return "running or killed"


def _separate_interruptions(
    events: list[tuple[float, int | None, str, str]], ended_early: list[SessionRow]
) -> list[tuple[float, int | None, str, str]]:
    """Interruption events, less the one that is the cause of a session's early end."""
    causes: set[tuple[float, int | None, str, str]] = set()
    for s in ended_early:
        kinds = CAUSED_BY.get(s.reason or "", ())
        mine = [e for e in events if e[1] == s.id and e[2] in kinds]
        if mine:
            causes.add(mine[-1])
    return [e for e in events if e[2] in INTERRUPTIONS and e not in causes]


def _session_line(s: SessionRow, sessions: list[SessionRow], hm: Any) -> str:
    span = f"{hm(s.started_at)}–{hm(s.ended_at) if s.ended_at else '??:??'}"
    on = format_duration((s.on_s or 0) * 1000)
    delivered = f"on {on:>7}  dose {s.dose or 0:7.1f}  peak {s.peak or 0:.2f}"
    if s.dose is None and s.on_s is None and s.ended_at is not None:
        delivered = "on, dose and peak hidden"  # a blind experiment night
    return (
        f"{span}  {s.profile:<18} {s.origin or '-':<8} {s.kind:<9} "
        f"{_reason(s, sessions):<10} {delivered}{'  ' + s.detail if s.detail else ''}"
    )


def _totals(sessions: list[SessionRow]) -> list[str]:
    kinds: dict[str, float] = {}
    for s in sessions:
        kinds[s.kind] = kinds.get(s.kind, 0.0) + (s.on_s or 0.0)
    stim = ", ".join(f"{k} {v / 60:.1f} min" for k, v in sorted(kinds.items()))
    dose = sum(s.dose or 0 for s in sessions)
    return [f"  stimulation: {stim}", f"  dose: {dose:.1f} level·s"]


def _hm(when: float | None, tz: dt.tzinfo) -> str:
    """Local ``HH:MM``; with the UTC offset inside an hour the clock shows twice."""
    local = dt.datetime.fromtimestamp(when or 0, tz)
    if local.replace(fold=1 - local.fold).utcoffset() != local.utcoffset():
        return local.strftime("%H:%M%z")[:-2] + ":" + local.strftime("%z")[-2:]
    return local.strftime("%H:%M")


def session_rows(
    journal: Journal, *, night: dt.date | None = None, tz: dt.tzinfo | None = None
) -> Iterator[list[Any]]:
    """CSV rows of every session (of the night of ``night`` in ``tz``), header first."""
    yield [
        "id",
        "started_at",
        "ended_at",
        "profile",
        "origin",
        "backend",
        "kind",
        "simulated",
        "reason",
        "detail",
        "duration_s",
        "on_s",
        "dose",
        "peak",
        "max_lateness_ms",
    ]
    if night is None:
        sessions = list(reversed(journal.recent(10**9)))
    else:
        sessions = journal.sessions_between(*night_bounds(night, tz or dt.UTC))
    for s in sessions:
        yield [
            s.id,
            _iso(s.started_at),
            _iso(s.ended_at),
            s.profile,
            s.origin or "",
            s.backend,
            s.kind,
            int(s.simulated),
            s.reason or "",
            s.detail or "",
            s.duration_s,
            s.on_s,
            s.dose,
            s.peak,
            s.max_lateness_ms,
        ]


def event_rows(
    journal: Journal, *, night: dt.date | None = None, tz: dt.tzinfo | None = None
) -> Iterator[list[Any]]:
    """CSV rows of every event (of the night of ``night`` in ``tz``), header first."""
    yield ["at", "session_id", "kind", "detail"]
    start, end = (0.0, float("inf")) if night is None else night_bounds(night, tz or dt.UTC)
    for at, session_id, kind, detail in journal.events_between(start, end):
        yield [_iso(at), session_id if session_id is not None else "", kind, detail]


def _iso(when: float | None) -> str:
    if when is None:
        return ""
    return dt.datetime.fromtimestamp(when, dt.UTC).isoformat(timespec="milliseconds")


def plot_night(journal: Journal, night: dt.date, tz: dt.tzinfo, out: str) -> None:
    """Draw the night to a picture file; the drawing lives in :mod:`.night_plot`."""
    from firmware_host.record.night_plot import plot_night as draw

    draw(journal, night, tz, out)
