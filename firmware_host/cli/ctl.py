"""``pc6 ctl``: the daemon's client, one request and one reply over its Unix socket.

This module is the stop button's start-up path (``cli/entry.py`` comes here for a command
without arguments), so it imports almost nothing at the top: no ``pathlib``, ``json``,
``contextlib`` or ``typing``, each of which (with the ``re`` and ``enum`` they pull in) costs
the stop button milliseconds. ``bench/ctl_latency.py`` prints the time.
"""

from __future__ import annotations

import errno
import os
import sys
import time

# The C half of `socket`: the same socket objects (socket.socket subclasses this type and
# adds nothing used here), without the enum and selectors imports that cost ~3 ms.
from _socket import AF_UNIX, SOCK_STREAM
from _socket import socket as unix_socket

from firmware_host.errors import InvalidInput, PC6Error

# Not `from typing import TYPE_CHECKING`: importing typing is a tenth of pc6 ctl's time.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable
    from typing import Any

REPLY_TIMEOUT_S = 120.0  # `stop` answers once the soft ramp down has finished
CONNECT_RETRY_S = 2.0
MAX_REPLY = 1 << 20


def register(sub: Any) -> None:
    """Add ``pc6 ctl`` to the ``pc6`` subcommands: one action per command of the table."""
    import argparse

    from firmware_host.service.commands import COMMANDS

    ctl = sub.add_parser("ctl", help="control the running daemon (status, start, stop, …)")
    ctl.add_argument("--socket", metavar="PATH", help="the daemon's socket (default: from config)")
    ctl.add_argument("--config", metavar="FILE", help="config file that names the socket")
    ctl.add_argument("--json", action="store_true", help="print the daemon's JSON reply")
    actions = ctl.add_subparsers(dest="action", metavar="ACTION", required=True)
    for command in COMMANDS.values():
        action = actions.add_parser(command.name, help=command.help)
        # Also accepted after the action (`pc6 ctl status --json`); SUPPRESS keeps the other.
        action.add_argument("--json", action="store_true", default=argparse.SUPPRESS)
        for arg in command.args:
            if arg.flag:
                action.add_argument(
                    arg.flag, dest=arg.field, metavar=arg.field.upper(), help=arg.help
                )
            else:
                action.add_argument(arg.field, metavar=arg.name, help=arg.help)
    ctl.set_defaults(handler=main_args)


def request_for(args: argparse.Namespace) -> dict[str, Any]:
    """The JSON request for the parsed command line, checked as the daemon will check it.

    Raises:
        InvalidInput: a value the command refuses (nothing is sent).
    """
    from firmware_host.service.commands import COMMANDS

    command = COMMANDS[args.action]
    return command.request({a.field: getattr(args, a.field, None) for a in command.args})


def socket_path(args: Any) -> str:
    """``--socket``, else the config's ``control.socket``, else the default.

    Only ``control.socket`` is read from the config (see ``cli/ctl_config.py``), not the
    whole file with the validating reader, which costs more than the rest of ``pc6 ctl``:
    the stop button has to work even while the rest of a config is being edited into shape.

    Raises:
        InvalidInput: ``--config`` names no file, or the file is not TOML.
        PC6Error: the config file cannot be read.
    """
    if args.socket:
        return str(args.socket)
    from firmware_host import places
    from firmware_host.cli.ctl_config import configured_socket

    config = str(args.config) if args.config else places.default_config()
    named = args.config is not None
    return configured_socket(config, named=named) or places.default_socket(config)


def call(
    path: str | os.PathLike[str], request: dict[str, Any], timeout: float = REPLY_TIMEOUT_S
) -> dict[str, Any]:
    """Send one request and wait for its reply.

    A full listen backlog (the daemon busy accepting) is retried for up to
    :data:`CONNECT_RETRY_S`; every other failure is one sentence.

    Raises:
        PC6Error: the daemon is not there, hung up without a reply, or sent no JSON.
    """
    import json

    return exchange(os.fspath(path), json.dumps(request).encode() + b"\n", timeout)


def quick_request(action: str) -> bytes:
    """The request line for a command without arguments, as ``call`` would encode it.

    Written out rather than ``json.dumps``-ed: ``json`` imports ``re``, and ``action`` is
    one of the plain words of ``cli.entry.NO_ARGUMENT_ACTIONS``.
    """
    return b'{"cmd": "' + action.encode("ascii") + b'"}\n'


def exchange(path: str, line: bytes, timeout: float = REPLY_TIMEOUT_S) -> dict[str, Any]:
    """Send one request ``line`` (JSON and a newline) to ``path``; the reply, decoded.

    Raises:
        PC6Error: as :func:`call`.
    """
    sock = _connect(path)
    try:
        sock.settimeout(timeout)
        # It may have answered and hung up before reading (a refusal): read that answer.
        # (Not contextlib.suppress: importing contextlib costs the stop button ~0.7 ms.)
        try:  # noqa: SIM105
            sock.sendall(line)
        except OSError:
            pass
        data = _read_reply(sock, path, timeout)
    finally:
        sock.close()
    if not data.strip():
        raise PC6Error(
            f"the daemon at {path} closed the connection without a reply; "
            "see its log (journalctl -u pc6band)"
        )
    from firmware_host.cli.json_reply import decode

    try:
        reply = decode(data)
    except ValueError as err:
        raise PC6Error(f"the daemon sent something that is not JSON: {data[:80]!r}") from err
    if not isinstance(reply, dict):
        raise PC6Error(f"the daemon sent something that is not a reply: {data[:80]!r}")
    return reply


def _connect(path: str) -> unix_socket:
    deadline = time.monotonic() + CONNECT_RETRY_S
    pause = 0.005
    while True:
        sock = unix_socket(AF_UNIX, SOCK_STREAM)
        # With a timeout the socket is non-blocking, so a full backlog is EAGAIN at once
        # (handled below) instead of a wait in the kernel with no end.
        sock.settimeout(CONNECT_RETRY_S)
        try:
            sock.connect(path)
            return sock
        except OSError as err:
            sock.close()
            # EAGAIN: the backlog is full for a moment; anything else will not get better.
            if err.errno == errno.EAGAIN and time.monotonic() + pause < deadline:
                time.sleep(pause)
                pause = min(pause * 2, 0.1)
                continue
            raise PC6Error(_unreachable(path, err)) from None


def _unreachable(path: str, err: OSError) -> str:
    if err.errno == errno.EAGAIN:
        return (
            f"the daemon at {path} did not accept within {CONNECT_RETRY_S:g} s "
            "(too many clients connecting); try again"
        )
    if err.errno in (errno.EACCES, errno.EPERM):
        return (
            f"cannot reach the daemon at {path}: permission denied; are you in its group "
            "(id -nG; sudo usermod -aG pc6band $USER, then log in again)?"
        )
    return (
        f"cannot reach the daemon at {path}: {err.strerror or err}; is `pc6 daemon` "
        "running (systemctl status pc6band), and are you in its group?"
    )


def _read_reply(sock: unix_socket, path: str, timeout: float) -> bytes:
    data = b""
    while not data.endswith(b"\n") and len(data) <= MAX_REPLY:
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            raise PC6Error(f"no reply from the daemon at {path} within {timeout:g} s") from None
        except OSError:
            break  # a reset after its reply: what came before still counts
        if not chunk:
            break
        data += chunk
    return data


def main_args(args: argparse.Namespace) -> int:
    """Run ``pc6 ctl``: 0 when the daemon did it, 1 when it refused, 2 on bad input."""
    request = request_for(args)
    return _show(args, call(socket_path(args), request))


def _show(args: Any, reply: dict[str, Any]) -> int:
    ok = reply.get("ok") is True
    if args.json:
        import json

        print(json.dumps(reply, indent=2))
    if not ok:
        print(
            f"pc6 ctl: {reply.get('error') or 'the daemon refused, without a reason'}",
            file=sys.stderr,
        )
    elif not args.json:
        print(describe(reply))
    return 0 if ok else 1


def describe(reply: dict[str, Any]) -> str:
    """A reply as a person reads it."""
    if reply.get("cmd") == "status":
        return _status_text(reply)
    if reply.get("cmd") == "report":
        return str(reply.get("text"))
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


def run_quick(options: dict[str, Any]) -> int:
    """``pc6 ctl ACTION`` for a command without arguments, without argparse or the table.

    ``options`` holds ``socket``, ``config``, ``json`` and ``action`` (see cli/entry.py).
    """
    args = _QuickArgs(options)
    return _guarded(lambda: _show(args, exchange(socket_path(args), quick_request(args.action))))


class _QuickArgs:
    """The options of a quick line, named as argparse names them (not ``types``: ~0.3 ms)."""

    def __init__(self, options: dict[str, Any]) -> None:
        self.socket = options["socket"]
        self.config = options["config"]
        self.json = options["json"]
        self.action = options["action"]


def _guarded(run: Callable[[], int]) -> int:
    """Our errors as one line and an exit code; never a traceback."""
    try:
        return run()
    except InvalidInput as err:
        print(f"pc6: error: {err}", file=sys.stderr)
        return 2
    except PC6Error as err:
        print(f"pc6: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("pc6 ctl: interrupted (the daemon may still carry out the request)", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 1
    except Exception as err:  # the last line of defence: one sentence, never a traceback
        print(f"pc6 ctl: unexpected error: {type(err).__name__}: {err}", file=sys.stderr)
        return 1


def main(argv: list[str] | None = None) -> int:
    """``pc6 ctl …`` (and ``python -m firmware_host.cli.ctl``): never a traceback.

    ``pc6`` comes here directly, without building its whole parser: this is the stop
    button over SSH, and importing the rest of the CLI would triple its time.
    """
    import argparse

    parser = argparse.ArgumentParser(prog="pc6")
    register(parser.add_subparsers(dest="command"))

    def run() -> int:
        args = parser.parse_args(["ctl", *(sys.argv[1:] if argv is None else argv)])
        return int(args.handler(args))

    return _guarded(run)


if __name__ == "__main__":
    sys.exit(main())
