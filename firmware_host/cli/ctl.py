"""``pc6 ctl``: the daemon's client, one request and one reply over its Unix socket."""

from __future__ import annotations

import argparse
import json
import socket
import sys
from pathlib import Path
from typing import Any

from firmware_host.errors import InvalidInput, PC6Error

REPLY_TIMEOUT_S = 120.0  # `stop` answers once the soft ramp down has finished


def register(sub: Any) -> None:
    """Add ``pc6 ctl`` to the ``pc6`` subcommands."""
    ctl = sub.add_parser("ctl", help="control the running daemon (status, start, stop, …)")
    ctl.add_argument("--socket", metavar="PATH", help="the daemon's socket (default: from config)")
    ctl.add_argument("--config", metavar="FILE", help="config file that names the socket")
    ctl.add_argument("--json", action="store_true", help="print the daemon's JSON reply")
    actions = ctl.add_subparsers(dest="action", metavar="ACTION", required=True)
    status = actions.add_parser("status", help="what runs, who is in control and why, what next")
    # Also accepted after the action (`pc6 ctl status --json`); SUPPRESS keeps the other.
    status.add_argument("--json", action="store_true", default=argparse.SUPPRESS)
    start = actions.add_parser("start", help="start a profile now (or --in 10m)")
    start.add_argument("profile")
    start.add_argument("--in", dest="delay", metavar="DURATION", help="start later, e.g. 10m")
    actions.add_parser("stop", help="stop the session (soft ramp down) and delayed starts")
    actions.add_parser("pause", help="pause the session (soft ramp down)")
    actions.add_parser("resume", help="resume a paused session (soft ramp up)")
    level = actions.add_parser("level", help="scale the running session (1 = as written)")
    level.add_argument("value", help="0 to 2; the safety limit still applies")
    snooze = actions.add_parser("snooze", help="skip scheduled sessions for a while")
    snooze.add_argument("duration", help="e.g. 30m, 2h; 'off' ends a snooze")
    actions.add_parser("reset", help="clear a safety trip or a stop-button hold")
    actions.add_parser("reload", help="read the config and profiles again")
    ctl.set_defaults(handler=main_args)


def request_for(args: argparse.Namespace) -> dict[str, Any]:
    """The JSON request for the parsed command line.

    Raises:
        InvalidInput: a level that is not a number.
    """
    import math

    from firmware_host.durations import parse_duration_ms

    request: dict[str, Any] = {"cmd": args.action}
    if args.action == "start":
        request["profile"] = args.profile
        if args.delay:
            parse_duration_ms(args.delay)  # bad input is caught here, with exit code 2
            request["in"] = args.delay
    elif args.action == "level":
        try:
            value = float(args.value)
        except ValueError:
            value = math.nan
        if not 0 <= value <= 2:
            raise InvalidInput(f"level: must be a number from 0 to 2, got {args.value!r}")
        request["value"] = value
    elif args.action == "snooze":
        parse_duration_ms(args.duration, allow_zero=True)
        request["duration"] = args.duration
    return request


def socket_path(args: argparse.Namespace) -> Path:
    """``--socket``, else the config's ``control.socket``, else the default."""
    if args.socket:
        return Path(args.socket)
    from firmware_host.session.config import load_config

    return load_config(args.config).socket


def call(path: Path, request: dict[str, Any], timeout: float = REPLY_TIMEOUT_S) -> dict[str, Any]:
    """Send one request and wait for its reply.

    Raises:
        PC6Error: the daemon is not there, or the reply is not JSON.
    """
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.connect(str(path))
        except OSError as err:
            raise PC6Error(
                f"cannot reach the daemon at {path}: {err.strerror or err}; is `pc6 daemon` "
                "running (systemctl status pc6band), and are you in its group?"
            ) from err
        sock.sendall(json.dumps(request).encode() + b"\n")
        data = b""
        while not data.endswith(b"\n"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    try:
        reply: dict[str, Any] = json.loads(data)
    except json.JSONDecodeError as err:
        raise PC6Error(f"the daemon sent something that is not JSON: {data[:80]!r}") from err
    return reply


def main_args(args: argparse.Namespace) -> int:
    """Run ``pc6 ctl``: 0 when the daemon did it, 1 when it refused, 2 on bad input."""
    request = request_for(args)
    reply = call(socket_path(args), request)
    if args.json:
        print(json.dumps(reply, indent=2))
    elif not reply.get("ok"):
        print(f"pc6 ctl: {reply.get('error')}", file=sys.stderr)
    else:
        print(describe(reply))
    return 0 if reply.get("ok") else 1


def describe(reply: dict[str, Any]) -> str:
    """A reply as a person reads it."""
    if reply.get("cmd") == "status":
        return _status_text(reply)
    shown = {k: v for k, v in reply.items() if k not in ("ok", "cmd", "id")}
    parts = [f"{k} {v}" for k, v in shown.items() if v not in (None, [], "")]
    return f"{reply.get('cmd')}: ok" + (f" ({', '.join(parts)})" if parts else "")


def _status_text(s: dict[str, Any]) -> str:
    lines = []
    if s.get("simulated"):
        lines.append("SIMULATED — nothing physical moves")
    lines.append(f"state    {s['state']}  ({s.get('backend')}/{s.get('kind')})")
    lines.append(f"control  {s['control']['by']}: {s['control']['why']}")
    session = s.get("session")
    if session:
        lines.append(
            f"session  {session['profile']} ({session['origin']}) since {session['started']}, "
            f"{session['remaining_s']:.0f} s left, {_output(session['output'])}, "
            f"level ×{session['level']:g}{', PAUSED' if session['paused'] else ''}"
        )
    for key, label in (
        ("trip", "TRIP"),
        ("hold", "held"),
        ("snoozed_until", "snoozed"),
        ("config_error", "CONFIG"),
    ):
        if s.get(key):
            lines.append(f"{label:<8} {s[key]}")
    for name, error in (s.get("profile_errors") or {}).items():
        lines.append(f"profile  {name}: edit ignored, previous version in use: {error}")
    for item in s.get("next") or []:
        note = f"  ({item['note']})" if item.get("note") else ""
        lines.append(f"next     {item['at']}  {item['profile']}{note}")
    return "\n".join(lines)


def _output(value: float | None) -> str:
    return "output hidden (experiment night)" if value is None else f"output {value:.2f}"


def main(argv: list[str] | None = None) -> int:
    """``python -m firmware_host.cli.ctl``: the same as ``pc6 ctl``."""
    parser = argparse.ArgumentParser(prog="pc6")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["ctl", *(sys.argv[1:] if argv is None else argv)])
    try:
        return int(args.handler(args))
    except InvalidInput as err:
        print(f"pc6: error: {err}", file=sys.stderr)
        return 2
    except PC6Error as err:
        print(f"pc6: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
