"""The house's rules, checked on the import graph of ``firmware_host/`` (ast only).

Every module belongs to one stage of the flow, read bottom-up; a module may import its own
stage or an earlier one, never a later one; nothing imports the simulator; and there is no
import cycle. Imports inside functions and under ``TYPE_CHECKING`` count too: a lazy import
is still a dependency a reader has to follow.

The checker is run first on small made-up trees, so each rule is shown to catch what it is
for, and then on the real package.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: Stage order: a module may import only its own stage or earlier ones.
STAGES = (
    "ground",
    "plan",
    "drive",
    "guard",
    "play",
    "record",
    "experiment",
    "session",
    "service",
    "cli",
    "web",
)
#: Top-level import names of the simulator (the folder is ``sim/``, installed as ``pc6_sim``).
SIM_NAMES = ("pc6_sim", "sim")


@dataclass(frozen=True)
class Import:
    """One import statement: who imports what, and where."""

    importer: str
    target: str
    line: int


def module_name(package_dir: Path, path: Path) -> str:
    """Dotted name of ``path`` inside the package rooted at ``package_dir``."""
    parts = list(path.relative_to(package_dir.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def stage_of(package: str, module: str) -> str:
    """The stage a module of ``package`` belongs to: its first sub-package, or ground."""
    parts = module.split(".")
    if len(parts) >= 2 and parts[1] in STAGES:
        return parts[1]
    if len(parts) == 1 or len(parts) == 2:
        return "ground"  # the package itself and its top-level modules (errors, clock ...)
    raise AssertionError(f"{module} is in {parts[1]!r}, which is not a stage: {STAGES}")


def imports_of(package_dir: Path) -> Iterator[Import]:
    """Every import in every module under ``package_dir``, relative ones resolved."""
    modules = {module_name(package_dir, p) for p in package_dir.rglob("*.py")}
    for path in sorted(package_dir.rglob("*.py")):
        name = module_name(package_dir, path)
        is_package = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    yield Import(name, alias.name, node.lineno)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    here = name.split(".") if is_package else name.split(".")[:-1]
                    here = here[: len(here) - (node.level - 1)]
                    base = ".".join([*here, base] if base else here)
                for alias in node.names:
                    sub = f"{base}.{alias.name}"
                    # ``from pkg import module`` depends on the module, not only on pkg.
                    yield Import(name, sub if sub in modules else base, node.lineno)


def violations(package_dir: Path) -> list[str]:
    """What breaks the house's rules in the package at ``package_dir`` (empty when none)."""
    package = package_dir.name
    found: list[str] = []
    graph: dict[str, set[str]] = {
        module_name(package_dir, p): set() for p in package_dir.rglob("*.py")
    }
    for imp in imports_of(package_dir):
        top = imp.target.split(".")[0]
        where = f"{imp.importer} line {imp.line}"
        if top in SIM_NAMES:
            found.append(f"{where}: imports the simulator ({imp.target})")
            continue
        if top != package:
            continue
        parts = imp.target.split(".")
        # Importing a.b.c runs a/__init__ and a/b/__init__ first: those are edges too.
        for i in range(1, len(parts) + 1):
            target = ".".join(parts[:i])
            if target in graph and target != imp.importer:
                graph[imp.importer].add(target)
        mine, theirs = stage_of(package, imp.importer), stage_of(package, imp.target)
        if STAGES.index(theirs) > STAGES.index(mine):
            found.append(f"{where}: {mine} imports {imp.target}, of the later stage {theirs}")
    found = list(dict.fromkeys(found))  # one line per statement, not per imported name
    found.extend(f"import cycle: {' -> '.join(cycle)}" for cycle in cycles(graph))
    return found


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle (as a closed path) per strongly connected group of modules."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan's algorithm; the graph is small
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group: list[str] = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                group.append(top)
                if top == node:
                    break
            if len(group) > 1:
                groups.append(group)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return [closed_path(graph, set(group)) for group in groups]


def closed_path(graph: dict[str, set[str]], group: set[str]) -> list[str]:
    """A path inside ``group`` from its first module back to itself, for the message."""
    start = min(group)
    path, seen = [start], {start}
    while True:
        nxt = min(n for n in graph[path[-1]] if n in group)
        if nxt == start or nxt in seen:
            return [*path[path.index(nxt) :], nxt] if nxt != start else [*path, start]
        path.append(nxt)
        seen.add(nxt)


def write_tree(root: Path, files: dict[str, str]) -> Path:
    """A made-up package ``fh`` under ``root``; returns its directory."""
    for rel, text in files.items():
        path = root / "fh" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root / "fh"


CLEAN = {
    "__init__.py": "",
    "errors.py": "",
    "plan/__init__.py": "",
    "plan/timeline.py": "from fh.errors import X\n",
    "drive/__init__.py": "",
    "drive/actuator.py": "from fh.plan import timeline\nimport fh.errors\n",
}


def test_a_tree_that_keeps_the_rules_passes(tmp_path: Path) -> None:
    assert violations(write_tree(tmp_path, CLEAN)) == []


def test_an_import_from_a_later_stage_is_named(tmp_path: Path) -> None:
    files = {**CLEAN, "plan/store.py": "def f():\n    from fh.drive.actuator import A\n"}
    assert violations(write_tree(tmp_path, files)) == [
        "fh.plan.store line 2: plan imports fh.drive.actuator, of the later stage drive"
    ]


@pytest.mark.parametrize("statement", ["import sim.gpio_pins", "from pc6_sim.band import B"])
def test_an_import_of_the_simulator_is_named(tmp_path: Path, statement: str) -> None:
    files = {**CLEAN, "drive/actuator.py": f"import typing\n{statement}\n"}
    [message] = violations(write_tree(tmp_path, files))
    assert message.startswith("fh.drive.actuator line 2: imports the simulator")


def test_a_cycle_is_named_with_its_path(tmp_path: Path) -> None:
    files = {
        **CLEAN,
        "plan/a.py": "from fh.plan import b\n",
        "plan/b.py": "from . import c\n",  # relative imports are followed too
        "plan/c.py": "import fh.plan.a\n",
    }
    assert violations(write_tree(tmp_path, files)) == [
        "import cycle: fh.plan.a -> fh.plan.b -> fh.plan.c -> fh.plan.a"
    ]


def test_a_module_outside_every_stage_is_refused(tmp_path: Path) -> None:
    files = {**CLEAN, "misc/__init__.py": "", "misc/x.py": "from fh.errors import X\n"}
    with pytest.raises(AssertionError, match="'misc', which is not a stage"):
        violations(write_tree(tmp_path, files))


def test_firmware_host_keeps_the_rules() -> None:
    assert violations(ROOT / "firmware_host") == []
