"""Code in a submission that attacks the grading from inside the kernel (a static scan).

A test cell passes when it raises nothing, so a student cell that replaces the self-checks
(``setattr(reclab.checks.x, "check_y", lambda *a: None)``, ``check_y = lambda *a: None``),
makes IPython swallow exceptions (``get_ipython().set_custom_exc(...)``), or patches
``builtins`` / ``sys.modules`` / tracing could pass every test with nothing answered. The
grader reads the submitted cells *outside* the kernel, before grading, and reports each such
cell; the test cells after the first one get no points and the row's status is
``tampered``. What it covers: those operations written in the cells. What it cannot see:
code hidden from a static reading — so ``exec``/``eval``/``compile``/``__import__`` and
``importlib`` calls in a student cell are reported as tampering too (no lab needs them).

Example:
    >>> scan_source("get_ipython().set_custom_exc((Exception,), lambda *a, **k: None)")
    ['changes how IPython handles exceptions (set_custom_exc)']
    >>> scan_source("def mean(values):\\n    return sum(values) / len(values)")
    []
"""

from __future__ import annotations

import ast

__all__ = ["scan_cells", "scan_source"]

#: attributes whose use changes how the kernel reports errors or runs cells
_IPYTHON = {"set_custom_exc", "showtraceback", "_showtraceback", "showsyntaxerror",
            "run_cell", "run_cell_async", "events", "input_transformers_post",
            "ast_transformers", "custom_exceptions"}
_HIDDEN = {"exec", "eval", "compile", "__import__"}
_PATCHED = {"builtins", "__builtins__", "sys", "reclab", "nbgrader", "IPython"}


def _root(node: ast.AST) -> str:
    """The leftmost name of ``a.b.c`` / ``a[0].b`` (``""`` when there is none)."""
    while isinstance(node, ast.Attribute | ast.Subscript | ast.Call):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else ""


def _parse(source: str) -> ast.Module | None:
    lines = [line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))]
    try:
        return ast.parse("\n".join(lines))
    except SyntaxError:
        return None  # it will raise in the kernel; nothing runs from it


def _imports(tree: ast.AST | None) -> dict[str, str]:
    """Local name → the module or object it names, for every import in ``tree``."""
    modules: dict[str, str] = {}
    for node in ast.walk(tree) if tree is not None else ():
        if isinstance(node, ast.Import):
            for alias in node.names:
                modules[alias.asname or alias.name.split(".")[0]] = (
                    alias.name if alias.asname else alias.name.split(".")[0])
        elif isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                modules[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return modules


def scan_cells(cells: list[tuple[str, bool]]) -> list[tuple[int, list[str]]]:
    """``(index, reasons)`` of each student cell that tampers; ``cells`` are (source,
    written by the student). Names imported anywhere in the notebook count in every cell.

    Example:
        >>> scan_cells([("from reclab.checks.x import check_y", False),
        ...             ("check_y = lambda *a: None", True)])
        [(1, ['redefines reclab.checks.x.check_y'])]
    """
    trees = [_parse(source) for source, _ in cells]
    imported: dict[str, str] = {}
    for tree in trees:
        imported.update(_imports(tree))
    found = []
    for index, ((_, student), tree) in enumerate(zip(cells, trees, strict=True)):
        reasons = _scan(tree, imported) if student and tree is not None else []
        if reasons:
            found.append((index, reasons))
    return found


def scan_source(source: str) -> list[str]:
    """Why ``source`` (one student cell) tampers with the grading; empty when it does not.

    Example:
        >>> scan_source("import reclab.checks.biased_mf as c\\nc.check_biased_mf = print")
        ['replaces reclab.checks.biased_mf.check_biased_mf']
    """
    tree = _parse(source)
    return [] if tree is None else _scan(tree, {})


def _scan(tree: ast.Module, imported: dict[str, str]) -> list[str]:
    modules = {**imported, **_imports(tree)}
    guarded = {name: full for name, full in modules.items()
               if full.split(".")[0] in _PATCHED}
    found: list[str] = []

    def add(reason: str) -> None:
        if reason not in found:
            found.append(reason)

    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in _IPYTHON:
            add(f"changes how IPython handles exceptions ({node.attr})"
                if "exc" in node.attr or "traceback" in node.attr
                else f"changes how IPython runs cells ({node.attr})")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            name = node.func.id
            if name in _HIDDEN:
                add(f"runs code the grader cannot read ({name})")
            elif name in ("setattr", "delattr") and node.args:
                target = _root(node.args[0])
                if target in guarded or target in ("builtins", "sys"):
                    owner = ast.unparse(node.args[0]).replace(
                        target, guarded.get(target, target), 1)
                    add(f"{'replaces' if name == 'setattr' else 'deletes'} an attribute of "
                        f"{owner}")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if _root(node.func) in modules and modules[_root(node.func)] == "importlib":
                add("runs code the grader cannot read (importlib)")
            if node.func.attr in ("settrace", "setprofile", "excepthook"):
                add(f"installs a tracer or exception hook ({node.func.attr})")
        if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign | ast.Delete):
            targets = (node.targets if isinstance(node, ast.Assign | ast.Delete)
                       else [node.target])
            for target in targets:
                root = _root(target)
                if isinstance(target, ast.Name) and root in guarded:
                    add(f"redefines {guarded[root]}")
                elif not isinstance(target, ast.Name) and (root in guarded
                                                            or root in ("sys", "builtins")):
                    dotted = ast.unparse(target).replace(root, guarded.get(root, root), 1)
                    add(f"replaces {dotted}")
        elif isinstance(node, ast.FunctionDef | ast.ClassDef) and node.name in guarded:
            add(f"redefines {guarded[node.name]}")
    return found
