"""What ``pc6 ctl status`` and systemd's status line say: state, who is in control and why."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from firmware_host.service.daemon import Daemon


def status(d: Daemon) -> dict[str, Any]:
    """Everything ``pc6 ctl status`` shows."""
    d.expire_hold()
    config = d.config
    tz = config.tz if config else dt.UTC
    running = d.running
    session = None
    if running is not None:
        engine = running.engine
        session = {
            "profile": running.profile,
            "origin": running.origin,
            "why": running.why,
            "started": iso(running.started_wall, tz),
            "elapsed_s": round(engine.elapsed_s, 3),
            "remaining_s": round(engine.remaining_s, 3),
            "paused": engine.paused,
            "output": round(running.gate.output, 4),
            "level": engine.scale,
            "ceiling": round(running.gate.max_level, 4),  # the limit the gate clips to
        }
    by, why = authority(d)
    return {
        "state": state(d),
        "control": {"by": by, "why": why},
        "simulated": simulated(d),
        "backend": config.backend if config else None,
        "kind": config.kind.value if config else None,
        "session": session,
        "trip": d.trip,
        "hold": d.hold[0] if d.hold else None,
        "snoozed_until": iso(d.snoozed_until, tz) if d.snoozed_until else None,
        "config": config.source if config else None,
        "config_error": d.config_error,
        "profile_errors": dict(d.profiles.errors),
        "clock_synced": d.synced or not (config and config.require_clock_sync),
        "pending": [
            {"profile": p.profile, "in_s": round(p.due - d.clock.now(), 3)} for p in d.pending
        ],
        "next": [
            {
                "at": iso(o.when, tz),
                "profile": o.profile,
                **({"note": o.note} if o.note else {}),
            }
            for o in d.upcoming(3)
        ],
    }


def state(d: Daemon) -> str:
    if d.config is None:
        return "config-invalid"
    if d.trip:
        return "tripped"
    if d.running is not None:
        return "paused" if d.running.engine.paused else "running"
    return "held" if d.hold else "idle"


def authority(d: Daemon) -> tuple[str, str]:
    if d.trip:
        return "safety", f"trip latched: {d.trip}"
    if d.hold:
        return "stop-button", d.hold[0]
    if d.running is not None:
        return d.running.origin, d.running.why
    if d.config is None:
        return "none", f"config invalid: {d.config_error}"
    if d.config.require_clock_sync and not d.synced:
        return "schedule", "waiting for the system clock to be synchronized"
    if d.snoozed_until and d.clock.wall() < d.snoozed_until:
        return "schedule", f"snoozed until {hhmm(d.snoozed_until, d.config.tz)}"
    upcoming = d.upcoming(1)
    if not upcoming:
        return "schedule", "nothing scheduled"
    nxt = upcoming[0]
    return "schedule", f"next: {nxt.profile} at {iso(nxt.when, d.config.tz)}"


def simulated(d: Daemon) -> bool:
    return (
        d.config is None
        or d.config.backend == "sim"
        or bool(d.config.backend_options.get("sim_pins"))
    )


def status_line(d: Daemon) -> str:
    """One line for systemd and logs."""
    by, why = authority(d)
    tag = " · SIMULATED" if simulated(d) else ""
    return f"{state(d)} · {by}: {why}{tag}"


def summary(d: Daemon) -> str:
    if d.config is None:
        return f"config invalid: {d.config_error}"
    sim = "SIMULATED — nothing physical moves; " if simulated(d) else ""
    return (
        f"{sim}backend {d.config.backend}/{d.config.kind}, "
        f"{len(d.config.schedule)} schedule entries, config {d.config.source}"
    )


def hhmm(when: float, tz: dt.tzinfo) -> str:
    """Local ``HH:MM``."""
    return dt.datetime.fromtimestamp(when, tz).strftime("%H:%M")


def iso(when: float, tz: dt.tzinfo) -> str:
    """Local ISO 8601 with offset, to the second."""
    return dt.datetime.fromtimestamp(when, tz).isoformat(timespec="seconds")
