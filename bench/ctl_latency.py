"""How long `pc6 ctl status` takes end to end, installed the way people install pc6band.

The stop button over SSH is a fresh process, so what counts is start-up, and start-up
depends on the install: an editable install adds an import finder (~13 ms), and the
console-script shim pip writes imports `re` (with `enum`, ~4 ms) unless pip is 25.0 or
newer. So this builds throw-away venvs, each a plain (non-editable) `pip install` of a
source tree, the two ways the docs install pc6band:

- `setup.sh`: `python3 -m venv`, pip upgraded, `pip install .` (the README quick start);
- `Debian pip`: `/usr/bin/python3 -m venv` with the pip that Debian 12's python3-venv
  bundles (23.0.1), then `pip install .`, as docs/install-pi.md does on a Pi.

It starts a real `pc6 daemon` on the simulated backend as the system service is set up (a
system root in a temporary folder: /etc/pc6band/pc6band.toml without a socket line, the
socket in /run/pc6band), then runs each command RUNS times as a fresh process, the venvs
interleaved so that a change of load touches them alike, and prints the best and the
median wall time (and the median CPU time, which a busy machine inflates less):

- `pc6 ctl --socket S status`;
- `pc6 ctl --config C status`, a user's config that names the socket;
- `pc6 ctl status`, no flags: a builder in the service's group on a Pi, whose pc6 finds
  the system config and from it the system socket.

    .venv/bin/python bench/ctl_latency.py [RUNS] [--before TREE] [--no-deps] [--venvs DIR]

--before TREE also installs another checkout (e.g. `git worktree add /tmp/old main~3`) both
ways, for a before/after table. --no-deps installs only pc6band (quicker; `pc6 ctl` imports
none of the dependencies, but a dependency's .pth file would cost start-up, so the default
installs them as a user would). --venvs DIR builds the venvs there and reuses the ones
already built (to time again at a quieter moment without reinstalling).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SYSTEM_CONFIG = """\
timezone = "UTC"
require_clock_sync = false
[journal]
path = "{home}/journal.sqlite"
[control]
# socket = "/run/pc6band/control.sock"       # default: $RUNTIME_DIRECTORY/control.sock
"""
USER_CONFIG = """\
[control]
socket = "{socket}"
"""
DEBIAN_PYTHON = Path("/usr/bin/python3")


def build(tree: Path, venv: Path, python: str, *, upgrade_pip: bool, deps: bool) -> str:
    """A venv at ``venv`` with ``tree`` installed (not editable); a line saying how."""
    quiet = ["-q", "--disable-pip-version-check"]
    subprocess.run([python, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip"]
    note = ""
    if upgrade_pip:
        upgraded = subprocess.run(
            [*pip, "install", *quiet, "--upgrade", "pip"], check=False, stderr=subprocess.DEVNULL
        )
        note = "" if upgraded.returncode == 0 else " (pip upgrade FAILED: the bundled pip)"
    no_deps = [] if deps else ["--no-deps"]
    subprocess.run(
        [*pip, "install", *quiet, *no_deps, str(tree)],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    version = subprocess.run([*pip, "--version"], capture_output=True, text=True, check=True)
    shim = (venv / "bin" / "pc6").read_text()
    imports_re = any(line.strip() == "import re" for line in shim.splitlines())
    return (
        f"{version.stdout.split(' from ')[0]}, {_python_version(venv)}; "
        f"its pc6 shim {'imports' if imports_re else 'does not import'} re{note}"
    )


def _python_version(venv: Path) -> str:
    python = venv / "bin" / "python"
    done = subprocess.run([str(python), "-V"], capture_output=True, text=True, check=True)
    return done.stdout.strip()


def _cpu_ms() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (usage.ru_utime + usage.ru_stime) * 1000


class Timings:
    """Wall and CPU milliseconds of fresh runs, per row."""

    def __init__(self) -> None:
        self.wall: dict[str, list[float]] = {}
        self.cpu: dict[str, list[float]] = {}

    def run(self, name: str, command: list[str], env: dict[str, str]) -> None:
        """One fresh run of ``command`` (it must exit 0), timed under ``name``."""
        start, cpu0 = time.perf_counter(), _cpu_ms()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, env=env)
        self.wall.setdefault(name, []).append((time.perf_counter() - start) * 1000)
        self.cpu.setdefault(name, []).append(_cpu_ms() - cpu0)

    def row(self, name: str) -> str:
        """One printed line: best and median wall time, median CPU time."""
        wall, cpu = self.wall[name], self.cpu[name]
        return (
            f"{name:<46} best {min(wall):6.1f} ms  median {statistics.median(wall):6.1f} ms  "
            f"CPU median {statistics.median(cpu):6.1f} ms"
        )


def answer_ms(path: Path, runs: int) -> list[float]:
    """The daemon's reply time to `status` over one connection (no process start-up)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.connect(str(path))
        reader = sock.makefile("rb")
        out = []
        for _ in range(runs):
            start = time.perf_counter()
            sock.sendall(b'{"cmd": "status"}\n')
            reader.readline()
            out.append((time.perf_counter() - start) * 1000)
    return out


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without pc6band's or XDG's overrides (as a login shell has)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PC6_", "XDG_"))}
    env.pop("RUNTIME_DIRECTORY", None)
    env.update(extra)
    return env


def start_daemon(root: Path, home: Path) -> subprocess.Popen[bytes]:
    """``pc6 daemon`` (this venv's) on the system config below ``root``; waits for its socket."""
    config = root / "etc/pc6band/pc6band.toml"
    config.parent.mkdir(parents=True)
    config.write_text(SYSTEM_CONFIG.format(home=home))
    sock = root / "run/pc6band/control.sock"
    sock.parent.mkdir(parents=True)
    env = clean_env(PC6_SYSTEM_ROOT=str(root), PC6_STATE_DIR=str(home), HOME=str(home))
    daemon = subprocess.Popen(
        [str(BIN / "pc6"), "daemon", "--config", str(config)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while not sock.exists():  # a bench, not a test: polling is fine here
        if time.monotonic() > deadline or daemon.poll() is not None:
            daemon.kill()
            raise SystemExit("the daemon did not start")
        time.sleep(0.05)
    return daemon


def main() -> None:
    """Build the venvs, start the daemon, time everything, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("runs", nargs="?", type=int, default=20)
    parser.add_argument("--before", type=Path, help="another source tree to install and time")
    parser.add_argument("--no-deps", action="store_true", help="install only pc6band")
    parser.add_argument("--venvs", type=Path, help="build the venvs here; reuse those built")
    options = parser.parse_args()
    trees = [("now", HERE)]
    if options.before:
        trees.insert(0, ("before", options.before.resolve()))
    ways = [("setup.sh", shutil.which("python3") or sys.executable, True)]
    if DEBIAN_PYTHON.exists():
        ways.append(("Debian pip", str(DEBIAN_PYTHON), False))
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        venvs: dict[str, Path] = {}
        for label, tree in trees:
            for way, python, upgrade in ways:
                name = f"{label}, {way}"
                slug = f"{label}-{way.replace(' ', '-').replace('.', '-')}"
                venvs[name] = (options.venvs or work) / slug
                if (venvs[name] / "bin" / "pc6").exists():
                    print(f"{name:<20} reusing {venvs[name]}")
                    continue
                deps = not options.no_deps
                how = build(tree, venvs[name], python, upgrade_pip=upgrade, deps=deps)
                print(f"{name:<20} {tree}: {how}")
        root, home = work / "system", work / "home"
        home.mkdir()
        sock = root / "run/pc6band/control.sock"
        user_config = home / "user.toml"
        user_config.write_text(USER_CONFIG.format(socket=sock))
        builder = clean_env(PC6_SYSTEM_ROOT=str(root), HOME=str(home))
        daemon = start_daemon(root, home)
        try:
            timings = Timings()
            for _ in range(options.runs):
                for name, venv in venvs.items():
                    pc6 = str(venv / "bin" / "pc6")
                    timings.run(
                        f"{name}: python -c pass", [str(venv / "bin/python"), "-c", "pass"], builder
                    )
                    timings.run(
                        f"{name}: pc6 ctl --socket S status",
                        [pc6, "ctl", "--socket", str(sock), "status"],
                        builder,
                    )
                    timings.run(
                        f"{name}: pc6 ctl --config C status",
                        [pc6, "ctl", "--config", str(user_config), "status"],
                        builder,
                    )
                    timings.run(f"{name}: pc6 ctl status", [pc6, "ctl", "status"], builder)
            load = os.getloadavg()[0]
            print(f"{options.runs} runs each, {os.cpu_count()} cores, load {load:.1f} at the end")
            for name in timings.wall:
                print(timings.row(name))
            answer = answer_ms(sock, options.runs * 5)
            print(
                f"{'daemon answer (one connection)':<46} best {min(answer):6.2f} ms  "
                f"median {statistics.median(answer):6.2f} ms"
            )
        finally:
            daemon.terminate()
            daemon.wait(timeout=60)


if __name__ == "__main__":
    main()
