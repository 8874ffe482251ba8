"""`pc6 ctl` finds the socket a config names exactly as tomllib reads it, mostly without tomllib."""

from __future__ import annotations

import itertools
import os
import tomllib
from importlib.resources import files
from pathlib import Path

import pytest
from startup_testlib import pc6

from firmware_host.cli.ctl_config import configured_socket, scan
from firmware_host.errors import InvalidInput


def _tomllib_answer(text: str) -> object:
    control = tomllib.loads(text).get("control")
    return control.get("socket") if isinstance(control, dict) else None


def _answer(text: str) -> object:
    """What the scan says, with tomllib where the scan cannot tell."""
    decided, value = scan(text)
    return value if decided else _tomllib_answer(text)


EXAMPLE = files("firmware_host") / "data" / "pc6band.example.toml"

#: Files whose plain form the scan reads itself (no tomllib): what installs and users write.
PLAIN = {
    "the shipped example (socket commented out)": EXAMPLE.read_text(),
    "the shipped example, socket uncommented": EXAMPLE.read_text().replace(
        '# socket = "/run/pc6band/control.sock"', 'socket = "/run/pc6band/control.sock"'
    ),
    "no control table": 'timezone = "UTC"\n[journal]\npath = "/j.sqlite"\n',
    "basic string": '[control]\nsocket = "/run/a.sock"\n',
    "literal string": "[control]\nsocket = '/run/b.sock'\n",
    "no spaces": '[control]\nsocket="/run/c.sock"\n',
    "indented, tabs, trailing comment naming socket": (
        '[control]\n\t  socket\t=\t"/run/d.sock"   # the socket, "quoted" # twice\n'
    ),
    "CRLF": '[control]\r\nsocket = "/run/e.sock"\r\n',
    "header with a comment": '[control] # the daemon\nsocket = "/run/f.sock"\n',
    "comment lines mention socket": '# socket = "/x"\n[control]\n# socket = "/y"\ngroup = "g"\n',
    "a later table": '[control]\nsocket = "/run/g.sock"\n[daemon]\nwatchdog = true\n',
    "a hash inside another value": '[control]\ngroup = "a#b"\nsocket = "/run/h.sock"\n',
    "relative": '[control]\nsocket = "here.sock"\n',
    "home": '[control]\nsocket = "~/pc6.sock"\n',
    "hash in the value": '[control]\nsocket = "/t/a#b.sock"\n',
    "empty (refused after, as tomllib's empty string is)": '[control]\nsocket = ""\n',
}

#: Files the scan must hand to tomllib (and tomllib's answer is the right one).
TRICKY = {
    "dotted key at the top": 'control.socket = "/t/1.sock"\n',
    "inline table": 'control = { socket = "/t/2.sock" }\n',
    "dotted key in the table": '[control]\nsocket.path = "/t/3"\n',
    "quoted key": '[control]\n"socket" = "/t/4.sock"\n',
    "escaped key spelling socket": '[control]\n"\\u0073ocket" = "/t/5.sock"\n',
    "escape in the value": '[control]\nsocket = "/t/\\u0036.sock"\n',
    "header with spaces": '[ control ]\nsocket = "/t/7.sock"\n',
    "quoted header": '["control"]\nsocket = "/t/8.sock"\n',
    "array of tables": '[[control]]\nsocket = "/t/9.sock"\n',
    "a sub-table": '[control.extra]\nsocket = "/t/10.sock"\n',
    "another table": '[daemon]\nsocket = "/t/11.sock"\n',
    "at the top level": 'socket = "/t/12.sock"\n',
    "inside a multi-line string": 'note = """\n[control]\nsocket = "/t/13"\n"""\n',
    "inside a multi-line literal": "note = '''\n[control]\nsocket = '/t/14'\n'''\n",
    "value mentions socket elsewhere": '[journal]\npath = "/var/socket/j.sqlite"\n',
    "not a string": "[control]\nsocket = 5\n",
    "sockets is another key": '[control]\nsockets = "/t/15"\n',
    "a nested array line": '[control]\nx = [\n  [1],\n]\nsocket = "/t/16.sock"\n',
    "array value": '[control]\nsocket = ["/t/17"]\n',
    "literal with a backslash": "[control]\nsocket = 'C:\\t\\18.sock'\n",
}


@pytest.mark.parametrize("text", PLAIN.values(), ids=PLAIN.keys())
def test_the_plain_forms_are_read_without_tomllib(text: str) -> None:
    decided, value = scan(text)
    assert decided
    assert value == _tomllib_answer(text)


@pytest.mark.parametrize("text", TRICKY.values(), ids=TRICKY.keys())
def test_tricky_files_go_to_tomllib(text: str) -> None:
    assert scan(text) == (False, None)


# Lines to combine: every file of up to three of them that tomllib accepts must get
# tomllib's answer.
FRAGMENTS = [
    "[control]",
    "[ control ]",
    "[control.sub]",
    "[[control]]",
    "[daemon]",
    "[control] # socket",
    'socket = "/f/a.sock"',
    "socket = '/f/b.sock'",
    'socket="/f/c.sock" # socket',
    'socket = "/f/d\\".sock"',
    '"socket" = "/f/e.sock"',
    'control.socket = "/f/f.sock"',
    'control = { socket = "/f/g.sock" }',
    'sockets = "/f/h.sock"',
    'group = "socket"',
    'x = "# socket"',
    "y = 1 # socket",
    'socket.z = "/f/i"',
    'note = """',
    '"""',
    "# socket = '/f/j.sock'",
]


def test_every_small_combination_gets_tomllib_s_answer() -> None:
    checked = 0
    for size in (1, 2, 3):
        for lines in itertools.product(FRAGMENTS, repeat=size):
            text = "\n".join(lines) + "\n"
            try:
                expected = _tomllib_answer(text)
            except tomllib.TOMLDecodeError:
                continue
            assert _answer(text) == expected, text
            checked += 1
    assert checked > 1000  # the product is not mostly invalid TOML


def test_a_file_resolves_relative_and_home_paths(tmp_path: Path) -> None:
    config = tmp_path / "pc6band.toml"
    config.write_text('[control]\nsocket = "run/ctl.sock"\n')
    assert configured_socket(str(config), named=True) == str(tmp_path / "run/ctl.sock")
    config.write_text("[control]\nsocket = '~/ctl.sock'\n")
    assert configured_socket(str(config), named=True) == os.path.expanduser("~/ctl.sock")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[control]\nsocket = "\t "\n', "control.socket: must be the path of the socket"),
        ("[control]\nsocket = 5\n", "control.socket: must be the path of the socket"),
        ('[control]\nsocket = "/a" "b"\n', "not valid TOML"),
        ('[control]\nsocket = "/a"\nsocket = "/b"\n', "not valid TOML"),
        ('[control]\nsocket = "/a\x01"\n', "not valid TOML"),
    ],
)
def test_bad_values_are_refused_naming_the_file(tmp_path: Path, text: str, message: str) -> None:
    config = tmp_path / "pc6band.toml"
    config.write_text(text)
    with pytest.raises(InvalidInput, match=message) as caught:
        configured_socket(str(config), named=True)
    assert str(caught.value).startswith(f"{config}: ")


def test_the_stop_button_works_while_another_line_is_being_edited(tmp_path: Path) -> None:
    # Half-way through an edit: the file is not TOML, but its socket line is plain. The
    # stop button still goes to that socket (here nobody listens: the message names it).
    config = tmp_path / "pc6band.toml"
    sock = tmp_path / "ctl.sock"
    config.write_text(f'[control]\nsocket = "{sock}"\n[limits.vibration]\nmax_level = \n')
    run = pc6("ctl", "--config", str(config), "stop")
    assert run.returncode == 1, run
    assert f"cannot reach the daemon at {sock}:" in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1, run.stderr


def test_a_named_config_that_is_missing_is_exit_2(tmp_path: Path) -> None:
    run = pc6("ctl", "--config", str(tmp_path / "none.toml"), "stop")
    assert run.returncode == 2
    assert run.stderr == f"pc6: error: {tmp_path / 'none.toml'}: no such config file\n"
