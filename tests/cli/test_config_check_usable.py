"""``pc6 config check`` refuses what the daemon could not use, each in one line, exit 2."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

PC6 = str(Path(sys.executable).parent / "pc6")


def _check(tmp_path: Path, body: str) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "c.toml"
    config.write_text('timezone = "UTC"\n' + body)
    env = {**os.environ, "HOME": str(tmp_path), "PC6_STATE_DIR": str(tmp_path / "state")}
    return subprocess.run(
        [PC6, "config", "check", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=tmp_path,
    )


LONG = "/tmp/" + "s" * 110 + ".sock"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            f'[control]\nsocket = "{LONG}"\n',
            "c.toml:3: control.socket: 120 bytes long; a Unix socket path may be at most 107",
        ),
        (
            '[control]\nsocket = "here.sock"\n',
            "c.toml:3: control.socket: must be an absolute path, got 'here.sock'",
        ),
        (
            '[daemon]\ncheck_every = "1ms"\n',
            "c.toml:3: daemon.check_every: must be at least 1s",
        ),
        (
            '[journal]\npath = "{tmp}"\n',
            "c.toml:3: journal.path: {tmp} is a folder",
        ),
        (
            '[journal]\npath = "{tmp}/notes.txt"\n',
            "c.toml:3: journal.path: {tmp}/notes.txt is not a pc6 journal",
        ),
        (
            '[journal]\npath = "{tmp}/typo/j.sqlite"\n',
            "c.toml:3: journal.path: no such folder {tmp}/typo",
        ),
        (
            '[control]\ngroup = "pc6-no-such-group"\n',
            "c.toml:3: control.group: no group 'pc6-no-such-group' on this machine",
        ),
    ],
)
def test_config_check_refuses_what_the_daemon_cannot_use(
    tmp_path: Path, body: str, message: str
) -> None:
    (tmp_path / "notes.txt").write_text("not a database\n")
    run = _check(tmp_path, body.format(tmp=tmp_path))
    assert run.returncode == 2, (run.stdout, run.stderr)
    lines = run.stderr.splitlines()
    assert len(lines) == 1 and "Traceback" not in run.stderr
    assert lines[0].startswith("pc6: error: ") and message.format(tmp=tmp_path) in lines[0]
    assert run.stdout == ""


def test_config_check_accepts_an_existing_journal_and_group(tmp_path: Path) -> None:
    import grp

    group = grp.getgrgid(os.getgid()).gr_name
    journal = tmp_path / "j.sqlite"
    run = _check(tmp_path, f'[journal]\npath = "{journal}"\n[control]\ngroup = "{group}"\n')
    assert run.returncode == 0, run.stderr
    subprocess.run(
        [PC6, "run", "fitting-test", "--fast", "--journal", str(journal)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    run = _check(tmp_path, f'[journal]\npath = "{journal}"\n[control]\ngroup = "{group}"\n')
    assert run.returncode == 0 and run.stdout.startswith("ok "), run.stderr
