"""The ctl command table drives both ends: the daemon's dispatch and ``pc6 ctl``'s parser.

A command is one declaration in ``service/commands.py``; its checks run on the command line
(exit 2, nothing sent) and again in the daemon (an error reply).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import pytest
from daemon_testlib import ME, T0, ctl, local, night, run_virtual, until, write_config

from firmware_host.cli import ctl as ctl_cli
from firmware_host.clock import LoopClock
from firmware_host.errors import InvalidInput
from firmware_host.service.commands import COMMANDS, Arg, BadRequest, command
from firmware_host.service.control import handle_line
from firmware_host.service.daemon import Daemon


def parse(*words: str) -> dict[str, Any]:
    """What ``pc6 ctl WORDS`` would send."""
    parser = argparse.ArgumentParser(prog="pc6")
    ctl_cli.register(parser.add_subparsers(dest="command"))
    return ctl_cli.request_for(parser.parse_args(["ctl", *words]))


def test_snooze_off_from_the_command_line_ends_a_snooze(home: Path) -> None:
    # `pc6 ctl snooze off` is what its help says; the client used to refuse it (exit 2).
    request = parse("snooze", "off")
    assert request == {"cmd": "snooze", "duration": "off"}
    config = write_config(home, "")
    seen: dict[str, Any] = {}

    async def script(daemon: Daemon, clock: LoopClock) -> None:
        await until(clock, local(22, 0))
        assert (await ctl(daemon, "snooze", duration="2h"))["snoozed_until"]
        line = json.dumps(request).encode()
        seen["reply"] = await handle_line(daemon, line, ME)
        seen["status"] = await ctl(daemon, "status")

    run_virtual(lambda: night(config, T0, local(22, 1), during=script))
    assert seen["reply"]["ok"] and seen["reply"]["snoozed_until"] is None
    assert seen["status"]["snoozed_until"] is None


def test_the_client_runs_the_daemons_checks_before_sending() -> None:
    for words, message in [
        (("level", "loud"), "level: must be a number, got 'loud'"),
        (("level", "7"), "level must be from 0 to 2"),
        (("start", "/etc/passwd"), "not a path"),
        (("start", "short", "--in", "25h"), "in: at most 24h"),
        (("snooze", "soon"), "duration: cannot read duration 'soon'"),
    ]:
        with pytest.raises(InvalidInput, match=message):
            parse(*words)


def shout(raw: Any, name: str) -> str:
    if not isinstance(raw, str) or not raw:
        raise BadRequest(f"{name}: required, some text")
    return raw.upper()


def test_one_declaration_adds_a_command_to_both_ends(home: Path) -> None:
    @command("shout", "say it louder", Arg("text", "what to say", shout))
    def _shout(daemon: Daemon, args: dict[str, Any], by: str) -> dict[str, Any]:
        return {"heard": args["text"], "state": daemon.status()["state"], "by": by}

    try:
        assert parse("shout", "hello") == {"cmd": "shout", "text": "hello"}
        with pytest.raises(InvalidInput, match="text: required"):
            parse("shout", "")
        config = write_config(home, "")
        seen: dict[str, Any] = {}

        async def script(daemon: Daemon, clock: LoopClock) -> None:
            await until(clock, local(22, 0))
            seen["ok"] = await ctl(daemon, "shout", text="hello")
            seen["extra"] = await ctl(daemon, "shout", text="hi", loud=True)
            seen["empty"] = await ctl(daemon, "shout")

        run_virtual(lambda: night(config, T0, local(22, 1), during=script))
    finally:
        COMMANDS.pop("shout")
    assert seen["ok"] == {
        "ok": True,
        "cmd": "shout",
        "heard": "HELLO",
        "state": "idle",
        "by": f"{ME.name} via pc6 ctl",
    }
    assert seen["extra"] == {"ok": False, "error": "loud: unknown field for shout"}
    assert seen["empty"] == {"ok": False, "error": "text: required, some text"}
