"""Structure figures of a checkout: modules per package, the largest module and class, the
daemon's module and class, and every place that builds a SafetyGate (production, tests,
bench).

    .venv/bin/python bench/structure.py [ROOT]

ROOT defaults to this checkout; to measure an older commit, extract it first, e.g.
``mkdir /tmp/old && git archive f0fa39f | tar -x -C /tmp/old``. Module counts include
``__init__.py``.
"""

from __future__ import annotations

import ast
import collections
import re
import sys
from pathlib import Path

#: Split in two so that this file does not count itself.
GATE_BUILT = re.compile(r"\bSafety" r"Gate\(")


def main(root: Path) -> None:
    """Print the figures for the checkout at ``root``."""
    counts: collections.Counter[str] = collections.Counter()
    largest_module = (0, "")
    largest_class = (0, 0, "")
    for path in sorted((root / "firmware_host").rglob("*.py")):
        rel = path.relative_to(root)
        counts[str(rel.parent)] += 1
        text = path.read_text()
        largest_module = max(largest_module, (len(text.splitlines()), str(rel)))
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ClassDef):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                methods = sum(
                    isinstance(b, ast.FunctionDef | ast.AsyncFunctionDef) for b in node.body
                )
                largest_class = max(largest_class, (lines, methods, f"{rel}:{node.name}"))
    print("modules per package:")
    for package, n in sorted(counts.items()):
        print(f"  {package:34} {n}")
    print(f"total modules: {sum(counts.values())}")
    print(f"largest module: {largest_module[1]} ({largest_module[0]} lines)")
    lines, methods, name = largest_class
    print(f"largest class: {name} ({lines} lines, {methods} methods)")
    _print_class(root / "firmware_host" / "service" / "daemon.py", "Daemon")
    where: collections.Counter[str] = collections.Counter()
    for top in ("firmware_host", "sim", "tests", "bench"):
        for path in sorted((root / top).rglob("*.py")):
            for i, line in enumerate(path.read_text().splitlines(), 1):
                code = line.lstrip()
                if GATE_BUILT.search(code) and not code.startswith(("class ", "#")):
                    where[top] += 1
                    print(f"  a gate is built at {path.relative_to(root)}:{i}")
    print(f"SafetyGate constructions: {dict(where)}, total {sum(where.values())}")


def _print_class(path: Path, name: str) -> None:
    """One module's length and one of its classes' (the daemon, split by concern)."""
    if not path.exists():
        return
    text = path.read_text()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.ClassDef) and node.name == name:
            lines = (node.end_lineno or node.lineno) - node.lineno + 1
            methods = sum(isinstance(b, ast.FunctionDef | ast.AsyncFunctionDef) for b in node.body)
            print(
                f"{path.name}: {len(text.splitlines())} lines; "
                f"class {name}: {lines} lines, {methods} methods"
            )


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[1])
