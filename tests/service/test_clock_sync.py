"""The clock-sync check: a sandbox that refuses adjtimex() must not read as "synchronized".

The refusal comes from a real seccomp filter installed in a child process (the same kernel
mechanism as the unit's SystemCallFilter=), answering clock_adjtime with EPERM.
"""

from __future__ import annotations

import errno
import logging
import platform
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from firmware_host.service.clock_sync import (
    ClockSync,
    ClockSyncCheck,
    Sync,
    clock_sync,
)

# x86_64 numbers: clock_adjtime 305, adjtimex 159 (glibc's adjtimex() uses clock_adjtime).
SECCOMP_CHILD = textwrap.dedent(
    """
    import ctypes, json, sys
    from pathlib import Path

    class Filter(ctypes.Structure):
        _fields_ = [("code", ctypes.c_ushort), ("jt", ctypes.c_ubyte),
                    ("jf", ctypes.c_ubyte), ("k", ctypes.c_uint)]

    class Prog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(Filter))]

    LD, JEQ, RET = 0x20, 0x15, 0x06
    EPERM_ANSWER, ALLOW = 0x00050000 | 1, 0x7FFF0000
    code = [(LD, 0, 0, 0), (JEQ, 2, 0, 305), (JEQ, 1, 0, 159), (RET, 0, 0, ALLOW),
            (RET, 0, 0, EPERM_ANSWER)]
    filters = (Filter * len(code))(*[Filter(*c) for c in code])
    prog = Prog(len(code), filters)
    libc = ctypes.CDLL(None, use_errno=True)
    assert libc.prctl(38, 1, 0, 0, 0) == 0  # PR_SET_NO_NEW_PRIVS
    assert libc.prctl(22, 2, ctypes.byref(prog), 0, 0) == 0  # PR_SET_SECCOMP, FILTER

    from firmware_host.service.clock_sync import clock_sync
    result = clock_sync(flag=Path(sys.argv[1]))
    print(json.dumps([result.state.name, result.how]))
    """
)


def _filtered(flag: Path) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", SECCOMP_CHILD, str(flag)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    import json

    return list(json.loads(done.stdout))


@pytest.mark.skipif(
    platform.machine() != "x86_64", reason="the seccomp filter uses x86_64 syscall numbers"
)
def test_adjtimex_refused_by_seccomp_is_not_trusted(tmp_path: Path) -> None:
    state, how = _filtered(tmp_path / "no-such-flag")
    assert state == "UNKNOWN"
    assert "EPERM" in how


@pytest.mark.skipif(
    platform.machine() != "x86_64", reason="the seccomp filter uses x86_64 syscall numbers"
)
def test_adjtimex_refused_but_timesyncd_says_synchronized(tmp_path: Path) -> None:
    flag = tmp_path / "synchronized"
    flag.touch()
    state, how = _filtered(flag)
    assert state == "SYNCED"
    assert "timesyncd" in how


def test_unfiltered_kernel_answers() -> None:
    # Outside a sandbox the kernel answers (whatever this machine's clock state is).
    assert "kernel" in clock_sync().how


@pytest.mark.parametrize(("state", "expected"), [(0, Sync.SYNCED), (5, Sync.UNSYNCED)])
def test_kernel_state_decides(state: int, expected: Sync, tmp_path: Path) -> None:
    flag = tmp_path / "synchronized"
    flag.touch()  # ignored: the kernel's own answer wins
    assert clock_sync(lambda: (state, 0), flag).state is expected


def test_daemon_check_warns_once_and_does_not_trust(caplog: pytest.LogCaptureFixture) -> None:
    unknown = ClockSync(Sync.UNKNOWN, "adjtimex refused: EPERM; no flag")
    check = ClockSyncCheck(lambda: unknown)
    with caplog.at_level(logging.WARNING):
        assert check() is False
        assert check() is False
    warnings = [r for r in caplog.records if "cannot tell" in r.getMessage()]
    assert len(warnings) == 1
    assert "scheduled sessions wait" in warnings[0].getMessage()


def test_errno_named(tmp_path: Path) -> None:
    result = clock_sync(lambda: (-1, errno.EPERM), tmp_path / "none")
    assert result == ClockSync(Sync.UNKNOWN, f"adjtimex refused: EPERM; no {tmp_path / 'none'}")
