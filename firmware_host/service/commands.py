"""The control commands, each declared once: name, arguments, their checks, handler, help.

Both ends are driven from this table: the daemon's control socket (``service/control.py``)
checks a request's fields and calls the handler, and ``pc6 ctl`` (``cli/ctl.py``) builds its
argument parser and its request from it, running the same checks before anything is sent
(so bad input is exit 2 and one line, on either side). Adding a command is one
:func:`command` declaration here; ``docs/architecture.md`` shows one.

This module is imported by ``pc6 ctl`` (the stop button over SSH): keep it cheap, with the
daemon only named for the type checker, and no dataclasses (they import ``inspect``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple

from firmware_host.durations import parse_duration_ms
from firmware_host.errors import DurationError, InvalidInput
from firmware_host.service.authority import LEVEL_MAX, Refused

if TYPE_CHECKING:
    from firmware_host.service.daemon import Daemon

MAX_CONTROL_DELAY_S = 24 * 3600.0  # a snooze or a delayed start: within a day


class BadRequest(InvalidInput):
    """A request that cannot be carried out as written (exit 2 in ``pc6 ctl``)."""


Check = Callable[[Any, str], Any]
Handler = Callable[["Daemon", dict[str, Any], str], Any]


class Arg(NamedTuple):
    """One argument of a command: a JSON field of the request, and a word of ``pc6 ctl``.

    Attributes:
        field: the request's field.
        help: for ``pc6 ctl ACTION --help``.
        check: ``check(value, name)`` → what the handler gets; raises :class:`BadRequest`
            naming ``name`` (the field on the socket, ``label`` on the command line).
        flag: ``"--in"`` for an option of ``pc6 ctl``; None for a positional argument.
        label: the name ``pc6 ctl``'s messages use (the field by default).
        default: the request value when the field is absent (None: required).
        parse: ``pc6 ctl``'s text → the request's value (text by default).
        metavar: how ``pc6 ctl ACTION --help`` shows an option's value.
    """

    field: str
    help: str
    check: Check
    flag: str | None = None
    label: str | None = None
    default: Any = None
    parse: Callable[[str], Any] = str
    metavar: str | None = None

    @property
    def name(self) -> str:
        """How ``pc6 ctl`` names it in messages."""
        return self.label or self.field


class Command(NamedTuple):
    """One control command."""

    name: str
    help: str
    run: Handler
    args: tuple[Arg, ...] = ()

    def checked(self, request: dict[str, Any]) -> dict[str, Any]:
        """The handler's arguments from a request, each checked.

        Raises:
            BadRequest: a field the command does not take, or a value its check refuses.
        """
        allowed = {"cmd", "id", *(a.field for a in self.args)}
        for key in request:
            if key not in allowed:
                raise BadRequest(f"{key}: unknown field for {self.name}")
        return {a.field: a.check(request.get(a.field, a.default), a.field) for a in self.args}

    def request(self, values: dict[str, str | None]) -> dict[str, Any]:
        """The request for ``pc6 ctl``'s words (field → text, None when not given).

        Raises:
            BadRequest: a value the command's check refuses (nothing is sent).
        """
        request: dict[str, Any] = {"cmd": self.name}
        for arg in self.args:
            text = values.get(arg.field)
            if text is None:
                continue
            value = arg.parse(text)
            arg.check(value, arg.name)  # the daemon checks again; this makes it exit 2
            request[arg.field] = value
        return request


#: Every command, by name, in the order ``pc6 ctl --help`` lists them.
COMMANDS: dict[str, Command] = {}


def command(name: str, help: str, *args: Arg) -> Callable[[Handler], Handler]:
    """Declare the decorated ``handler(daemon, args, by)`` as the control command ``name``.

    ``args`` holds the checked values by field; ``by`` says who asked ("alice (uid 1000)
    via pc6 ctl"). The handler returns the reply's fields (a dict), or an awaitable of them.
    """

    def declare(handler: Handler) -> Handler:
        COMMANDS[name] = Command(name, help, handler, args)
        return handler

    return declare


# -- the checks ---------------------------------------------------------------------------


def duration(*, zero_ok: bool, off: bool = False) -> Check:
    """A duration like ``"30m"`` (or seconds as a number), at most a day; ``off`` is 0."""

    def check(raw: Any, name: str) -> float:
        if off and raw in ("off", 0):
            return 0.0
        if raw is None:
            raise BadRequest(f"{name}: required, a duration like '30m'")
        try:
            seconds = parse_duration_ms(raw, allow_zero=zero_ok) / 1000
        except DurationError as err:
            raise BadRequest(f"{name}: {err}") from None
        if seconds > MAX_CONTROL_DELAY_S:
            raise BadRequest(f"{name}: at most 24h, got {raw!r}")
        return seconds

    return check


def profile_name(raw: Any, name: str) -> str:
    """The name of a profile: built in, or in a folder of ``profiles.dirs`` — never a path."""
    if not isinstance(raw, str) or not raw.strip():
        raise BadRequest(f"{name}: required, the name of a profile")
    text = raw.strip()
    if "/" in text or "\\" in text or text.startswith(("~", ".")) or text.endswith(".toml"):
        # Over the socket only names: a client must not make the daemon open any file it
        # can read. Put a profile of your own in a folder of `profiles.dirs`.
        raise BadRequest(
            f"{name}: give the name of a built-in profile or of one in profiles.dirs, "
            f"not a path, got {text!r}"
        )
    return text


def level(raw: Any, name: str) -> float:
    """A level scale from 0 to :data:`LEVEL_MAX`."""
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw):
        raise BadRequest(f"{name}: must be a number, got {raw!r}")
    if not 0 <= raw <= LEVEL_MAX:
        raise BadRequest(f"level must be from 0 to {LEVEL_MAX:g}, got {raw!r}")
    return float(raw)


def _number_or_text(text: str) -> float | str:
    try:
        return float(text)
    except ValueError:
        return text  # the check names it


# -- the commands -------------------------------------------------------------------------


@command("status", "what runs, who is in control and why, what next")
def _status(daemon: Daemon, args: dict[str, Any], by: str) -> dict[str, Any]:
    return daemon.status()


@command(
    "start",
    "start a profile now (or --in 10m)",
    Arg("profile", "a built-in profile or one in profiles.dirs", profile_name),
    Arg(
        "in",
        "start later, e.g. 10m",
        duration(zero_ok=True),
        flag="--in",
        default=0,
        metavar="DURATION",
    ),
)
async def _start(daemon: Daemon, args: dict[str, Any], by: str) -> dict[str, Any]:
    return await daemon.start(args["profile"], by=by, delay_s=args["in"])


@command("stop", "stop the session (soft ramp down) and delayed starts")
async def _stop(daemon: Daemon, args: dict[str, Any], by: str) -> dict[str, Any]:
    return await daemon.stop(by=by)


@command("pause", "pause the session (soft ramp down)")
def _pause(daemon: Daemon, args: dict[str, Any], by: str) -> dict[str, Any]:
    return daemon.pause(by=by)


@command("resume", "resume a paused session (soft ramp up)")
def _resume(daemon: Daemon, args: dict[str, Any], by: str) -> dict[str, Any]:
    return daemon.resume(by=by)


@command(
    "level",
    "scale the running session (1 = as written)",
    Arg(
        "value",
        f"0 to {LEVEL_MAX:g}; the safety limit still applies",
        level,
        label="level",
        parse=_number_or_text,
    ),
)
def _level(daemon: Daemon, args: dict[str, Any], by: str) -> dict[str, Any]:
    return daemon.set_level(args["value"], by=by)


@command(
    "snooze",
    "skip scheduled sessions for a while",
    Arg("duration", "e.g. 30m, 2h; 'off' ends a snooze", duration(zero_ok=True, off=True)),
)
def _snooze(daemon: Daemon, args: dict[str, Any], by: str) -> dict[str, Any]:
    return daemon.snooze(args["duration"], by=by)


@command("reset", "clear a safety trip or a stop-button hold")
def _reset(daemon: Daemon, args: dict[str, Any], by: str) -> dict[str, Any]:
    return daemon.reset(by=by)


@command("reload", "read the config and profiles again")
def _reload(daemon: Daemon, args: dict[str, Any], by: str) -> dict[str, Any]:
    error = daemon.reload()
    changes = daemon.settings.profiles.refresh()
    if error:  # refused: the previous config (if any) stays in use; say why
        raise Refused(f"config: {error}")
    return {"config_error": error, "profiles": [f"{n}: {w}" for n, w in changes]}


@command("report", "last night's morning report, from the journal (pc6 web shows its picture)")
def _report(daemon: Daemon, args: dict[str, Any], by: str) -> dict[str, Any]:
    from firmware_host.service.last_night import last_night  # not needed by `pc6 ctl`

    return last_night(daemon)


#: ``pc6 diary``'s items (experiment/diary.py checks them), as fields of the request.
DIARY_FIELDS = (
    "in_bed", "tried", "sol", "awakenings", "waso", "final_wake", "out_of_bed", "quality",
    "rested", "guess", "naps", "caffeine", "alcohol", "medication", "note",
)  # fmt: skip


def diary_answer(raw: Any, name: str) -> str | None:
    """One diary answer as text (the diary's own checks come after), or None."""
    if raw is None or raw == "":
        return None
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        raise BadRequest(f"{name}: must be text or a number, got {raw!r}")
    text = str(raw)
    if len(text) > 500 or not text.isprintable():
        raise BadRequest(f"{name}: at most 500 printable characters")
    return text


@command(
    "diary",
    "keep this morning's sleep diary (the items of pc6 diary)",
    *(
        Arg(f, f"the diary's {f.replace('_', ' ')}", diary_answer, flag="--" + f.replace("_", "-"))
        for f in DIARY_FIELDS
    ),
)
def _diary(daemon: Daemon, args: dict[str, Any], by: str) -> dict[str, Any]:
    from firmware_host.service.morning_diary import save_diary

    return save_diary(daemon, args)
