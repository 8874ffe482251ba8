"""``pc6 web`` reaches the daemon only through its socket: it imports nothing that drives."""

from __future__ import annotations

import ast
from pathlib import Path

import firmware_host.web

#: What the page may use from the rest of firmware_host: errors, paths, the bounded file
#: reader, the profile library (names for the start menu) and config reading (the socket's
#: path). No daemon, engine,
#: gate, actuator or journal.
ALLOWED = (
    "firmware_host.web",
    "firmware_host.errors",
    "firmware_host.files",
    "firmware_host.paths",
    "firmware_host.plan.library",
    "firmware_host.session.config",
)


def _imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.append(node.module)
    return [name for name in found if name.startswith("firmware_host")]


def test_the_web_package_imports_no_daemon_engine_gate_or_actuator() -> None:
    root = Path(firmware_host.web.__file__).parent
    modules = sorted(root.glob("*.py"))
    assert len(modules) >= 8
    wrong = [
        f"{path.name}: {name}"
        for path in modules
        for name in _imports(path)
        if not any(name == ok or name.startswith(ok + ".") for ok in ALLOWED)
    ]
    assert wrong == []


def test_what_the_running_server_loads() -> None:
    """Config reading pulls in data tables (kinds, limits), never a driver or the daemon."""
    import subprocess
    import sys

    code = (
        "import sys, firmware_host.web.server as s, firmware_host.web.app\n"
        "s.profile_names(None)\n"
        "print('\\n'.join(m for m in sys.modules if m.startswith(('firmware_host', 'pc6_'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(out.stdout.split())
    forbidden = (
        "firmware_host.service",
        "firmware_host.play",
        "firmware_host.guard.gate",
        "firmware_host.drive.gpio",
        "firmware_host.drive.band",
        "firmware_host.record",
        "pc6_sim",
    )
    assert "firmware_host.web.app" in loaded
    assert [m for m in loaded if m.startswith(forbidden)] == []
