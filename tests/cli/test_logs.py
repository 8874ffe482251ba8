"""Log lines carry their priority to journald, so `journalctl -p err` shows errors alone."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

from daemon_testlib import write_config

PC6 = str(Path(sys.executable).parent / "pc6")


def _daemon_log(home: Path, *, as_journal: bool) -> list[str]:
    """`pc6 daemon` with a missing control.group (an error) until READY, then SIGTERM."""
    config = write_config(home, "")
    text = config.read_text().replace("[control]\n", '[control]\ngroup = "pc6-no-such-group"\n')
    config.write_text(text)
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(home / "notify.sock"))
    notify.settimeout(60)
    read_end, write_end = os.pipe()
    st = os.fstat(write_end)
    env = {**os.environ, "NOTIFY_SOCKET": str(home / "notify.sock")}
    # As systemd does it: JOURNAL_STREAM names the very stream stderr is connected to.
    env["JOURNAL_STREAM"] = f"{st.st_dev}:{st.st_ino}" if as_journal else "0:0"
    daemon = subprocess.Popen(
        [PC6, "daemon", "--config", str(config)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=write_end,
    )
    os.close(write_end)
    try:
        assert notify.recv(4096).startswith(b"READY=1")
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=60)
        notify.close()
    with os.fdopen(read_end) as log:
        return log.read().splitlines()


def test_under_systemd_each_line_starts_with_its_priority(home: Path) -> None:
    lines = _daemon_log(home, as_journal=True)
    errors = [line for line in lines if line.startswith("<3>")]
    assert any("control.group 'pc6-no-such-group' does not exist" in line for line in errors)
    assert any(
        line.startswith("<6>firmware_host.service.control: control API on") for line in lines
    )
    logged = [line for line in lines if "firmware_host." in line]
    assert logged and all(line[:1] == "<" and line[2:3] == ">" for line in logged), lines


def test_elsewhere_lines_name_their_level(home: Path) -> None:
    lines = _daemon_log(home, as_journal=False)
    assert any(
        line.startswith("ERROR firmware_host.service.control: control.group") for line in lines
    )
    assert not any(line.startswith("<") for line in lines)
