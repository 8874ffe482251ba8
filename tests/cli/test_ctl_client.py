"""`pc6 ctl` never shows a traceback, whatever is on the other end of the socket."""

from __future__ import annotations

import argparse
import ast
import json
import socket
import threading
from pathlib import Path

import pytest
from startup_testlib import bare_python, pc6


def _answer_once(listener: socket.socket, reply: bytes) -> None:
    conn, _ = listener.accept()
    with conn:
        conn.recv(4096)
        conn.sendall(reply)


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (b"[1, 2]\n", "not a reply"),
        (b"", "closed the connection without a reply"),
        (b"{not json\n", "not JSON"),
    ],
)
def test_a_broken_answer_is_one_line_and_exit_1(tmp_path: Path, reply: bytes, message: str) -> None:
    # A hand-written stand-in for a daemon gone wrong (or something else on the path): the
    # real daemon cannot be made to send these.
    path = tmp_path / "other.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        listener.bind(str(path))
        listener.listen(1)
        thread = threading.Thread(target=_answer_once, args=(listener, reply))
        thread.start()
        run = pc6("ctl", "--socket", str(path), "stop")
        thread.join(timeout=60)
    assert run.returncode == 1, run
    assert "Traceback" not in run.stderr
    assert message in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1, run.stderr


def test_no_daemon_is_one_line_and_exit_1(tmp_path: Path) -> None:
    run = pc6("ctl", "--socket", str(tmp_path / "none.sock"), "status")
    assert run.returncode == 1
    assert "cannot reach the daemon" in run.stderr and "Traceback" not in run.stderr


#: What the stop button must not import: each costs it milliseconds (bench/ctl_latency.py).
COSTLY = {
    "argparse", "collections", "contextlib", "dataclasses", "enum", "functools", "inspect",
    "json", "pathlib", "re", "selectors", "socket", "tomllib", "types", "typing", "urllib",
}  # fmt: skip


def test_ctl_imports_only_its_client(tmp_path: Path) -> None:
    # The stop button over SSH: `pc6 ctl stop` must not pay for the rest of the CLI, nor for
    # the standard library's heavier modules (a budget of modules, not of milliseconds;
    # bench/ctl_latency.py prints the time). Without `site`, so nothing is imported first.
    path = tmp_path / "ctl.sock"
    config = tmp_path / "pc6band.toml"
    config.write_text(f'[control]\nsocket = "{path}"  # the socket\n')
    code = (
        "import sys; before = set(sys.modules); from firmware_host.cli.entry import main; "
        f"sys.argv = ['pc6', 'ctl', '--config', {str(config)!r}, 'stop']; rc = main(); "
        "print(rc, sorted(set(sys.modules) - before))"
    )
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        listener.bind(str(path))
        listener.listen(1)
        # A hand-written stand-in for the daemon: a real one would import nothing less here.
        reply = b'{"ok": true, "cmd": "stop", "id": 1}\n'
        thread = threading.Thread(target=_answer_once, args=(listener, reply))
        thread.start()
        run = bare_python(code)
        thread.join(timeout=60)
    said, last = run.stdout.splitlines()
    rc, modules = last.split(" ", 1)
    assert said == "stop: ok", run
    assert rc == "0", run
    imported = set(ast.literal_eval(modules))
    assert sorted(m for m in imported if m.startswith("firmware_host")) == [
        "firmware_host",
        "firmware_host.cli",
        "firmware_host.cli.ctl",
        "firmware_host.cli.ctl_config",
        "firmware_host.cli.entry",
        "firmware_host.cli.json_reply",
        "firmware_host.errors",
        "firmware_host.files",  # the bounded reader: a FIFO as the config must not hang it
        "firmware_host.places",
    ]
    assert not {m.partition(".")[0] for m in imported} & COSTLY, sorted(imported)


def test_the_quick_request_is_the_request_the_full_parser_builds() -> None:
    from firmware_host.cli.ctl import quick_request, register, request_for
    from firmware_host.cli.entry import NO_ARGUMENT_ACTIONS

    parser = argparse.ArgumentParser(prog="pc6")
    register(parser.add_subparsers(dest="command"))
    for action in NO_ARGUMENT_ACTIONS:
        line = quick_request(action)
        assert line.endswith(b"\n") and line.count(b"\n") == 1
        assert json.loads(line) == request_for(parser.parse_args(["ctl", action])), action


def test_the_quick_path_covers_exactly_the_commands_without_arguments() -> None:
    from firmware_host.cli.entry import NO_ARGUMENT_ACTIONS, quick_ctl_options
    from firmware_host.service.commands import COMMANDS

    assert {c.name for c in COMMANDS.values() if not c.args} == NO_ARGUMENT_ACTIONS
    assert quick_ctl_options(["--socket", "/s", "stop"]) == {
        "socket": "/s", "config": None, "json": False, "action": "stop",
    }  # fmt: skip
    assert quick_ctl_options(["status", "--json", "--config=/c"]) == {
        "socket": None, "config": "/c", "json": True, "action": "status",
    }  # fmt: skip
    for argv in (["stop", "now"], ["--help"], ["level", "0.5"], ["--socket"], ["stop", "stop"]):
        assert quick_ctl_options(argv) is None, argv  # the full parser answers these


@pytest.mark.parametrize(
    "argv", [["ctl", "--socket"], ["ctl", "stop", "now"], ["ctl", "--bogus", "stop"]]
)
def test_a_malformed_quick_line_gets_the_full_parser_s_message(argv: list[str]) -> None:
    run = pc6(*argv)
    assert run.returncode == 2 and "usage: pc6" in run.stderr and "Traceback" not in run.stderr
