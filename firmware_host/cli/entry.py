"""The ``pc6`` console script: the stop button first, then the rest of the command line.

``pc6 ctl stop`` is what a person types over SSH when the band must go quiet, so it must
not wait for Python to import the whole CLI (argparse, the command table, every
subcommand): a command without arguments, with at most ``--socket``/``--config``/``--json``,
goes straight to the client. Anything else, help included, takes the full parser.
"""

from __future__ import annotations

import sys

#: The ctl commands that take no argument (a test keeps this equal to the command table).
NO_ARGUMENT_ACTIONS = frozenset({"status", "stop", "pause", "resume", "reset", "reload", "report"})


def main() -> int:
    """Entry point of ``pc6``: Ctrl-C before a command took over its signals is one line.

    A KeyboardInterrupt that gets here has already unwound every ``finally`` on its way
    (a session's outputs off); ``pc6 run`` and the daemon handle SIGINT themselves.
    """
    try:
        return _main()
    except KeyboardInterrupt:
        print("pc6: interrupted", file=sys.stderr)
        return 130  # 128 + SIGINT, as a shell reports it


def _main() -> int:
    argv = sys.argv[1:]
    if argv[:1] == ["ctl"]:
        options = quick_ctl_options(argv[1:])
        if options is not None:
            from firmware_host.cli.ctl import run_quick

            return run_quick(options)
    from firmware_host.cli.main import main as full

    return full(argv)


def quick_ctl_options(argv: list[str]) -> dict[str, object] | None:
    """``socket``, ``config``, ``json`` and ``action`` of a simple ``pc6 ctl`` line, or None."""
    found: dict[str, object] = {"socket": None, "config": None, "json": False, "action": None}
    rest = list(argv)
    while rest:
        word = rest.pop(0)
        name, eq, value = word.partition("=")
        if name in ("--socket", "--config"):
            if not eq:
                if not rest:
                    return None
                value = rest.pop(0)
            if not value or value.startswith("-"):
                return None
            found[name[2:]] = value
        elif word == "--json":
            found["json"] = True
        elif word in NO_ARGUMENT_ACTIONS and found["action"] is None:
            found["action"] = word
        else:
            return None  # help, arguments, typos: the full parser says what is wrong
    return found if found["action"] else None
