"""What ``pc6 ctl status`` and systemd's status line say: state, who is in control and why.

Everything here reads a :class:`Snapshot`, a frozen copy of the daemon's state taken by
``Daemon.snapshot()``; nothing here can change the daemon or write the journal, so asking
"what is going on?" never changes the answer (a stop-button hold that has run out shows as
gone; the daemon's own loop clears it).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from firmware_host.drive.actuator import backend_is_simulated
from firmware_host.experiment.tonight import BLIND_LABEL
from firmware_host.plan.schedule import Occurrence
from firmware_host.service.authority import hhmm
from firmware_host.session.config import Config


@dataclass(frozen=True)
class SessionView:
    """The running session, as status shows it."""

    profile: str
    origin: str
    why: str
    started_wall: float
    elapsed_s: float
    remaining_s: float
    paused: bool
    output: float
    level: float
    ceiling: float = 1.0
    kind: str | None = None  # what the actuator drives, once known (a band may say)


@dataclass(frozen=True)
class Snapshot:
    """The daemon's state at one instant, copied: status is built from this alone.

    Attributes:
        wall: the wall-clock time it was taken.
        hold: a stop-button hold still in force (one that has run out is None here).
        pending: ``(profile, seconds until due)`` of each delayed manual start.
        upcoming: the next scheduled starts.
    """

    wall: float
    config: Config | None
    config_error: str | None
    trip: str | None
    hold: tuple[str, float] | None
    snoozed_until: float | None
    synced: bool
    session: SessionView | None
    profile_errors: Mapping[str, str] = field(default_factory=dict)
    pending: tuple[tuple[str, float], ...] = ()
    upcoming: tuple[Occurrence, ...] = ()

    @property
    def tz(self) -> dt.tzinfo:
        """The schedule's time zone (UTC without a config)."""
        return self.config.tz if self.config else dt.UTC


def status(s: Snapshot) -> dict[str, Any]:
    """Everything ``pc6 ctl status`` shows."""
    config, tz, running = s.config, s.tz, s.session
    session = None
    if running is not None:
        session = {
            "profile": running.profile,
            "origin": running.origin,
            "why": running.why,
            "started": iso(running.started_wall, tz),
            "elapsed_s": round(running.elapsed_s, 3),
            "remaining_s": round(running.remaining_s, 3),
            "paused": running.paused,
            # A blind experiment night: the output would name the arm.
            "output": None if running.profile == BLIND_LABEL else round(running.output, 4),
            "level": running.level,
            "ceiling": round(running.ceiling, 4),  # the limit the gate clips to
        }
    by, why = authority(s)
    return {
        "state": state(s),
        "control": {"by": by, "why": why},
        "simulated": simulated(s),
        "backend": config.backend if config else None,
        "kind": (running.kind if running and running.kind else None)
        or (config.kind.value if config else None),
        "session": session,
        "trip": s.trip,
        "hold": s.hold[0] if s.hold else None,
        "snoozed_until": iso(s.snoozed_until, tz) if s.snoozed_until else None,
        "config": config.source if config else None,
        "config_error": s.config_error,
        "profile_errors": dict(s.profile_errors),
        "clock_synced": s.synced or not (config and config.require_clock_sync),
        "pending": [{"profile": p, "in_s": round(in_s, 3)} for p, in_s in s.pending],
        "next": [
            {
                "at": iso(o.when, tz),
                "profile": o.profile,
                **({"note": o.note} if o.note else {}),
            }
            for o in s.upcoming[:3]
        ],
    }


def state(s: Snapshot) -> str:
    """One word: config-invalid, tripped, running, paused, held or idle."""
    if s.config is None:
        return "config-invalid"
    if s.trip:
        return "tripped"
    if s.session is not None:
        return "paused" if s.session.paused else "running"
    return "held" if s.hold else "idle"


def authority(s: Snapshot) -> tuple[str, str]:
    """Who is in control, and why: safety > stop button > the session's origin > schedule."""
    if s.trip:
        return "safety", f"trip latched: {s.trip}"
    if s.hold:
        return "stop-button", s.hold[0]
    if s.session is not None:
        return s.session.origin, s.session.why
    if s.config is None:
        return "none", f"config invalid: {s.config_error}"
    if s.config.require_clock_sync and not s.synced:
        return "schedule", "waiting for the system clock to be synchronized"
    if s.snoozed_until and s.wall < s.snoozed_until:
        return "schedule", f"snoozed until {hhmm(s.snoozed_until, s.tz)}"
    if not s.upcoming:
        return "schedule", "nothing scheduled"
    nxt = s.upcoming[0]
    return "schedule", f"next: {nxt.profile} at {iso(nxt.when, s.tz)}"


def simulated(s: Snapshot) -> bool:
    """Nothing physical moves: no usable config, or the backend says it is simulated."""
    return s.config is None or backend_is_simulated(s.config.backend, s.config.backend_options)


def status_line(s: Snapshot) -> str:
    """One line for systemd and logs."""
    by, why = authority(s)
    tag = " · SIMULATED" if simulated(s) else ""
    return f"{state(s)} · {by}: {why}{tag}"


def summary(s: Snapshot) -> str:
    """The config in one line, for the journal when the daemon starts."""
    if s.config is None:
        return f"config invalid: {s.config_error}"
    sim = "SIMULATED — nothing physical moves; " if simulated(s) else ""
    return (
        f"{sim}backend {s.config.backend}/{s.config.kind}, "
        f"{len(s.config.schedule)} schedule entries, config {s.config.source}"
    )


def iso(when: float, tz: dt.tzinfo) -> str:
    """Local ISO 8601 with offset, to the second."""
    return dt.datetime.fromtimestamp(when, tz).isoformat(timespec="seconds")
