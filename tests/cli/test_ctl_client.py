"""`pc6 ctl` never shows a traceback, whatever is on the other end of the socket."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

PC6 = str(Path(sys.executable).parent / "pc6")


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
        run = subprocess.run(
            [PC6, "ctl", "--socket", str(path), "stop"], capture_output=True, text=True, timeout=60
        )
        thread.join(timeout=60)
    assert run.returncode == 1, run
    assert "Traceback" not in run.stderr
    assert message in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1, run.stderr


def test_no_daemon_is_one_line_and_exit_1(tmp_path: Path) -> None:
    run = subprocess.run(
        [PC6, "ctl", "--socket", str(tmp_path / "none.sock"), "status"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 1
    assert "cannot reach the daemon" in run.stderr and "Traceback" not in run.stderr
