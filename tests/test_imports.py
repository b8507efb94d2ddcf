"""No import cycles anywhere in ``reclab/``, counting imports inside functions too.

A cycle that only a function-level import closes is still a cycle (the old
``course.py ⇄ labs.py`` was one): the modules cannot be understood, tested or moved apart.
The graph is built from the source with ``ast``, so nothing is imported to test it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "reclab"


def module_name(path: Path, root: Path = PACKAGE) -> str:
    """``reclab/course/build.py`` → ``reclab.course.build``; a package is its ``__init__``."""
    parts = [root.name, *path.relative_to(root).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules(root: Path = PACKAGE) -> dict[str, Path]:
    return {module_name(p, root): p for p in sorted(root.rglob("*.py"))}


def imported(path: Path, name: str, known: set[str]) -> set[str]:
    """The package's modules that ``path`` (module ``name``) imports, at any depth of the code."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            # `from reclab.course import build` imports the submodule reclab.course.build
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base
                       for a in node.names]
        for target in targets:
            while target and target not in known:  # `import reclab.checks.x.y` → closest module
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def import_graph(root: Path = PACKAGE) -> dict[str, set[str]]:
    found = modules(root)
    known = set(found)
    return {name: imported(path, name, known) for name, path in found.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected component with more than one module (Tarjan), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def test_the_package_has_no_import_cycle() -> None:
    graph = import_graph()
    assert len(graph) > 10 and any(graph.values()), "the walk found the package's modules"
    found = cycles(graph)
    assert not found, "import cycles in reclab/: " + "; ".join(" ⇄ ".join(c) for c in found)


@pytest.mark.parametrize(("files", "expected"), [
    ({"a.py": "from pkg import b", "b.py": "def f():\n    from pkg.a import x"},
     [["pkg.a", "pkg.b"]]),
    ({"a.py": "import pkg.b", "b.py": "import pkg.c", "c.py": "from . import a"},
     [["pkg.a", "pkg.b", "pkg.c"]]),
    ({"__init__.py": "", "sub/__init__.py": "", "sub/x.py": "from ..y import f",
      "y.py": "from pkg.sub import x"}, [["pkg.sub.x", "pkg.y"]]),
    ({"a.py": "import numpy\nfrom pkg import b", "b.py": "import os"}, []),
])
def test_the_cycle_finder_finds_cycles_through_functions_relative_and_from_imports(
    tmp_path: Path, files: dict[str, str], expected: list[list[str]]
) -> None:
    root = tmp_path / "pkg"
    for name, source in {"__init__.py": "", **files}.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(source, encoding="utf-8")
    assert cycles(import_graph(root)) == expected
