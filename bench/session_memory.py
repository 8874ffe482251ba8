"""Peak memory, wall and CPU time of a whole session against its length in breakpoints.

Usage: python bench/session_memory.py [--python PYTHON] [--sizes 10000,100000,1000000] [--parts]

Each size is a pulse train of that many breakpoints (4 per pulse, 50 ms on / 50 ms off:
1M breakpoints is 6.9 virtual hours), played by the real command, ``pc6 run FILE --fast``,
in a child process; its peak RSS and CPU time come from the kernel (``wait4``), its wall
time from the clock. ``--python`` runs another checkout's interpreter (e.g. a ``git
worktree`` of an older commit with its own venv) on the same profiles, for a side-by-side
figure. Last, the slope
of each curve: bytes of peak RSS per breakpoint between the smallest and the largest size.
Goal (issue 10, item 7): memory does not grow with the session's length beyond the
compiled timeline itself (16 bytes a breakpoint).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def profile_text(breakpoints: int) -> str:
    """A pulse train of ``breakpoints`` breakpoints, in steps of at most 50,000 pulses."""
    pulses = max(1, breakpoints // 4)
    text = f'name = "bench-{breakpoints}"\ndescription = "memory bench"\nkinds = ["vibration"]\n'
    while pulses > 0:
        n = min(pulses, 50_000)
        text += f'[[steps]]\npulses = {n}\nlevel = 0.8\non = "50ms"\noff = "50ms"\n'
        pulses -= n
    return text


# The session alone, through the one assembly (no journal, no gate preview), and the
# profile compiled alone: the difference is what the session itself keeps.
SESSION_ONLY = """
import sys, async_solipsism
from firmware_host.clock import LoopClock
from firmware_host.plan.library import resolve as load
from firmware_host.plan.timeline import compile_profile
from firmware_host.session.assembly import Overrides, Session, resolve
from firmware_host.session.config import Config
profile = load(sys.argv[1])
timeline = compile_profile(profile)
if sys.argv[2] == "session":
    async def main():
        setup = resolve(Config(), Overrides(kind="vibration"), profile)
        await Session(setup, profile, timeline, clock=LoopClock()).run()
    loop = async_solipsism.EventLoop()
    loop.run_until_complete(main())
"""


def measure(
    python: str, profile: Path, state: Path, what: str = "run"
) -> tuple[float, float, float, int]:
    """(peak RSS MiB, wall s, CPU s, exit code) of one child: ``pc6 run --fast``, or a part.

    CPU time (user + system, from the kernel) is the figure to compare on a busy machine:
    wall time there counts the other processes' turns too.
    """
    env = {**os.environ, "PC6_STATE_DIR": str(state), "PC6_CONFIG_DIR": str(state / "cfg")}
    start = time.perf_counter()
    command = [python, "-m", "firmware_host.cli.main", "run", str(profile), "--fast"]
    if what != "run":
        command = [python, "-c", SESSION_ONLY, str(profile), what]
    child = subprocess.Popen(
        command,
        cwd=state.parent,  # not a checkout: `python -m` must import the interpreter's own
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    cpu = usage.ru_utime + usage.ru_stime
    return usage.ru_maxrss / 1024, wall, cpu, child.returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--python", default=sys.executable, help="interpreter of the checkout")
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument(
        "--parts",
        action="store_true",
        help="also the profile compiled alone and the session alone (this checkout only)",
    )
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    label = {"run": "pc6 run --fast", "compile": "compile only", "session": "session"}
    peaks: dict[str, list[tuple[int, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="pc6-mem-") as tmp:
        base = Path(tmp)
        for size in sizes:
            profile = base / f"bench-{size}.toml"
            profile.write_text(profile_text(size))
            whats = ["run", "compile", "session"] if args.parts else ["run"]
            for what in whats:
                rss, wall, cpu, code = measure(args.python, profile, base / f"state-{size}", what)
                peaks.setdefault(what, []).append((size, rss))
                print(
                    f"{size:>9} breakpoints, {label[what]:<14}: peak RSS {rss:7.1f} MiB, "
                    f"wall {wall:6.2f} s, CPU {cpu:6.2f} s{'' if code == 0 else f' (exit {code})'}"
                    f"  [{args.python}]",
                    flush=True,
                )
    for what, points in peaks.items():
        (n0, r0), (n1, r1) = min(points), max(points)
        if n1 > n0:
            per = (r1 - r0) * 2**20 / (n1 - n0)
            print(f"{label[what]:<14}: {per:6.1f} B of peak RSS per breakpoint ({n0} → {n1})")


if __name__ == "__main__":
    main()
