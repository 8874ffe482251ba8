"""Every way out of ``pc6 run`` that Python can catch, on mock gpio pins and on a band (pty).

The end of the profile, a bug in the session, SIGINT once and twice, SIGTERM, SIGHUP (an SSH
drop), SIGQUIT, SIGUSR1/2 and the reader of stdout going away: each must end with the output
at 0 where the wearer feels it (the pin, the band's own output), the trace's last row 0, the
session journaled with the true reason, and a clean exit code with no traceback.

The real ``pc6 run`` runs as a child; its pins (``PC6_SIM_PINS_LOG``) and the band's output
(``pc6 sim band --trace``) come through FIFOs, so the test waits on pipes, never on sleeps.
Before the session assembly, SIGHUP and SIGQUIT killed it with the motor at duty 0.70 and the
servo pressing, and a second Ctrl-C ended in a CancelledError traceback, exit 1, journaled
"tripped: did not start".
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from exit_testlib import FifoWatch, last_session, paired_sim_band, pin_line, trace_rows

PC6 = [sys.executable, "-m", "firmware_host.cli.main"]
# A bug injected into the real command: the engine raises at its next command once the
# test, having seen the output on, creates the file $PC6_TEST_BUG (PROFILE_BUG has a command
# a second later) — so no load can make the bug win the race against the watcher.
BUGGY = [
    sys.executable,
    "-c",
    "import os, sys\n"
    "from firmware_host.play import engine\n"
    "original = engine.Engine._note_lateness\n"
    "def broken(self, t_ms):\n"
    "    original(self, t_ms)\n"
    "    if os.path.exists(os.environ['PC6_TEST_BUG']):\n"
    "        raise RuntimeError('injected bug')\n"
    "engine.Engine._note_lateness = broken\n"
    "from firmware_host.cli.main import main\n"
    "sys.exit(main())\n",
]
PROFILE = """name = "long"
description = "long enough to be ended in the middle"
kinds = ["vibration", "pressure"]
[[steps]]
ramp = 0.7
over = "300ms"
[[steps]]
hold = "60s"
[[steps]]
ramp = 0.0
over = "300ms"
"""
SHORT = PROFILE.replace('"60s"', '"500ms"')
PROFILE_BUG = PROFILE.replace(  # a command every 0.5 s, whenever the test sets the bug off
    '[[steps]]\nhold = "60s"\n',
    '[[steps]]\npulses = 120\nlevel = 0.6\non = "300ms"\noff = "200ms"\n',
)
SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2"]
WAYS = ["end", "exception", *SIGNALS, "SIGINT-twice", "stdout-closed"]
OUTPUT_PIN = {"vibration": "GPIO13", "pressure": "GPIO18"}
ON = {"vibration": 0.0, "pressure": 0.06}  # a servo at rest still pulses at 0.05 duty


def _env(tmp: Path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "PC6_STATE_DIR": str(tmp / "state"),
        "PC6_CONFIG_DIR": str(tmp / "cfg"),
        "PYTHONUNBUFFERED": "1",
        "PC6_TEST_BUG": str(tmp / "bug"),
        **extra,
    }


def _profile(way: str) -> str:
    return {"end": SHORT, "exception": PROFILE_BUG}.get(way, PROFILE)


def _expected(way: str) -> tuple[int, str, str]:
    """Exit code, journaled reason, and a word of its detail."""
    if way == "end":
        return 0, "completed", ""
    if way == "exception":
        return 1, "tripped", "internal error: RuntimeError: injected bug"
    if way == "stdout-closed":
        return 0, "stopped", "stdout closed"
    if way == "SIGINT-twice":
        return 0, "stopped", "SIGINT twice"
    return 0, "stopped", way


def _act(child: subprocess.Popen[str], way: str, tmp: Path) -> None:
    if way == "exception":
        (tmp / "bug").touch()  # the engine's next command raises
    elif way in SIGNALS:
        child.send_signal(getattr(signal, way))
    elif way == "SIGINT-twice":
        child.send_signal(signal.SIGINT)
        # The kernel merges a signal still pending: wait until the first was taken.
        assert child.stderr is not None
        for line in child.stderr:
            if "stopping with a soft ramp down" in line:
                break
        child.send_signal(signal.SIGINT)
    elif way == "stdout-closed":
        assert child.stdout is not None
        child.stdout.close()  # the reader goes away (`pc6 run … | head -1`)
        child.stdout = None


def _finish(child: subprocess.Popen[str], watch: FifoWatch, deadline: float) -> str:
    """Wait for the child to end, reading what it writes meanwhile; returns its stderr."""
    try:
        while child.poll() is None:
            try:
                watch.read(min(deadline, time.monotonic() + 0.5))
            except TimeoutError:
                if time.monotonic() > deadline:
                    raise
        _, err = child.communicate(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    watch.drain()
    return err


def _check(tmp: Path, way: str, code: int, err: str) -> None:
    want_code, want_reason, want_detail = _expected(way)
    assert code == want_code, err
    assert "Traceback" not in err, err
    reason, detail, ended = last_session(tmp / "j.sqlite")
    assert (reason, ended is not None) == (want_reason, True), (reason, detail)
    assert want_detail in (detail or ""), detail
    rows = trace_rows(tmp / "trace.csv")
    assert rows[-1][1] == 0.0 and max(v for _, v in rows) > 0


def _command(way: str, profile: Path, tmp: Path, *backend: str) -> list[str]:
    base = BUGGY if way == "exception" else PC6
    trace = ["--trace", str(tmp / "trace.csv"), "--journal", str(tmp / "j.sqlite")]
    if way == "SIGINT-twice" and "--config" not in backend:
        # A long soft stop, so that the second Ctrl-C surely comes in the middle of it.
        config = tmp / "slow-stop.toml"
        config.write_text("[limits.vibration]\nsoft_stop_s = 10\n")
        trace += ["--config", str(config)]
    return [*base, "run", str(profile), *backend, *trace]


# Every way on the motor; on the pad, the ways that once left it pressing.
GPIO_CASES = [("vibration", w) for w in WAYS] + [
    ("pressure", w) for w in ("SIGHUP", "SIGQUIT", "SIGINT-twice", "exception")
]


@pytest.mark.realtime
@pytest.mark.parametrize(("kind", "way"), GPIO_CASES)
def test_every_way_out_on_gpio(tmp_path: Path, way: str, kind: str) -> None:
    profile = tmp_path / "p.toml"
    profile.write_text(_profile(way))
    watch = FifoWatch(tmp_path / "pins.fifo", pin_line)
    backend = ["--backend", "gpio", "--sim-pins", "--kind", kind]
    if kind == "pressure":
        backend += ["--config", str(_pressure_config(tmp_path))]
    child = subprocess.Popen(
        _command(way, profile, tmp_path, *backend),
        env=_env(tmp_path, PC6_SIM_PINS_LOG=str(tmp_path / "pins.fifo")),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120.0
    pin = OUTPUT_PIN[kind]
    try:
        watch.wait_for(pin, lambda v: v > ON[kind])
        _act(child, way, tmp_path)
        err = _finish(child, watch, deadline)
    finally:
        watch.close()
    assert watch.last(pin) == 0.0, watch.values[pin][-5:]
    _check(tmp_path, way, child.returncode, err)


def _pressure_config(tmp: Path) -> Path:
    path = tmp / "pressure.toml"
    path.write_text(
        '[backend]\nname = "gpio"\nkind = "pressure"\nsensor_channel = 0\n'
        "[limits.pressure]\nsoft_stop_s = 10\n"
    )
    return path


@pytest.fixture
def band(tmp_path: Path) -> Iterator[tuple[str, FifoWatch]]:
    """A paired simulated band on a pty; its output arrives through a FIFO."""
    with paired_sim_band(tmp_path, PC6, _env(tmp_path)) as found:
        yield found


@pytest.mark.realtime
@pytest.mark.parametrize("way", WAYS)
def test_every_way_out_on_a_band(tmp_path: Path, band: tuple[str, FifoWatch], way: str) -> None:
    port, watch = band
    profile = tmp_path / "p.toml"
    profile.write_text(_profile(way).replace(', "pressure"', ""))
    child = subprocess.Popen(
        _command(way, profile, tmp_path, "--backend", "serial", "--port", port),
        env=_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120.0
    watch.wait_for("band", lambda v: v > 0)
    _act(child, way, tmp_path)
    err = _finish(child, watch, deadline)
    # The host turned the band off itself (acknowledged before it exited), not the lease.
    assert watch.last("band") == 0.0, watch.values["band"][-5:]
    _check(tmp_path, way, child.returncode, err)
