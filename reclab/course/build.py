"""Build the student labs (``labs/``) from the instructor notebooks (``solutions/``).

``solutions/NN_name.ipynb`` carries nbgrader markup (see CONTRIBUTING.md). nbgrader's own
``generate_assignment`` (run by :mod:`reclab.course.driver` in a scratch course) turns each into
``labs/NN_name.ipynb``: solution regions become a one-line stub that raises
``NotImplementedError``, hidden tests are removed, outputs cleared, cells locked, checksums
computed. reclab then keeps only portable metadata and writes stable JSON, so the build is
the same byte for byte on every machine and ``--check`` can compare.

Example:
    >>> build_labs(Path("solutions"), Path("labs"))          # doctest: +SKIP
    [PosixPath('labs/00_movielens_tour.ipynb'), ...]
    >>> check_labs(Path("solutions"), Path("labs"))          # doctest: +SKIP
    []
"""

from __future__ import annotations

import copy
import json
import re
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
from nbformat import NotebookNode

from reclab.course.driver import Course, create_course
from reclab.errors import ReclabError

__all__ = [
    "NOTEBOOK_METADATA",
    "LabsError",
    "Problem",
    "build_labs",
    "build_labs_cli",
    "check_labs",
    "generate_labs",
    "lab_text",
    "normalise_metadata",
    "reference_submission",
    "solution_notebooks",
    "validate_solution",
]

BEGIN_SOLUTION, END_SOLUTION = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
MARKERS = (BEGIN_SOLUTION, END_SOLUTION, BEGIN_HIDDEN, END_HIDDEN)
#: The notebook metadata every solution and lab carries: exactly what JupyterLab 4.6 writes on
#: save with ipykernel on Python 3.11.7 (measured), so opening a notebook creates no diff.
#: A machine on another 3.11.x patch sees a one-line ``version`` change on save, nothing else.
NOTEBOOK_METADATA: dict[str, Any] = {
    "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python",
                   "name": "python3"},
    "language_info": {
        "codemirror_mode": {"name": "ipython", "version": 3},
        "file_extension": ".py",
        "mimetype": "text/x-python",
        "name": "python",
        "nbconvert_exporter": "python",
        "pygments_lexer": "ipython3",
        "version": "3.11.7",
    },
}

#: cell metadata a lab keeps: nbgrader's, the lock flags LockCells sets, and tags
KEPT_CELL_METADATA = ("deletable", "editable", "nbgrader", "tags")
_CELL_ID = re.compile(r"^[a-z0-9]+(?:[-_][a-z0-9]+)*$")


class LabsError(ReclabError):
    """``solutions/`` cannot be turned into labs (the message says which notebook and cell)."""


@dataclass(frozen=True)
class Problem:
    """Something wrong in a solution notebook.

    ``fatal`` problems stop the build (nbgrader could not grade the lab); the others break a
    CONTRIBUTING.md convention and fail the tests.

    Example:
        >>> str(Problem("00_tour.ipynb", "ex-mean", "has no test cell right below it"))
        '00_tour.ipynb, cell ex-mean: has no test cell right below it'
    """

    notebook: str
    cell: str
    message: str
    fatal: bool = False

    def __str__(self) -> str:
        where = f"{self.notebook}, cell {self.cell}" if self.cell else self.notebook
        return f"{where}: {self.message}"


def solution_notebooks(solutions_dir: Path) -> list[Path]:
    """The solution notebooks, in order: ``solutions_dir/*.ipynb`` (no hidden files).

    Example:
        >>> solution_notebooks(Path("no-such-folder"))
        Traceback (most recent call last):
        ...
        reclab.course.build.LabsError: no solutions folder at no-such-folder
    """
    solutions_dir = Path(solutions_dir)
    if not solutions_dir.is_dir():
        raise LabsError(f"no solutions folder at {solutions_dir}")
    return sorted(p for p in solutions_dir.glob("*.ipynb") if not p.name.startswith("."))


def _nbgrader(cell: dict[str, Any]) -> dict[str, Any]:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def _source(cell: dict[str, Any]) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def validate_solution(path: Path) -> list[Problem]:
    """Check a solution notebook against nbgrader's needs and CONTRIBUTING.md.

    Fatal: unreadable JSON, a cell without an id, duplicate ids or grade_ids, a graded cell
    without positive points, unbalanced or misplaced ``### BEGIN/END`` markers, no graded
    cell. Conventions: slug cell ids, ``ex_``/``test_`` grade_ids, the exercise cell's
    metadata, a test cell right below each exercise, a ``# Hint:`` outside the solution
    region, ``schema_version`` 3, no outputs, notebook metadata of kernelspec and
    ``language_info.name`` only.

    Example:
        >>> validate_solution(Path("solutions/00_movielens_tour.ipynb"))  # doctest: +SKIP
        []
    """
    name = Path(path).name
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
        cells = raw["cells"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return [Problem(name, "", f"is not a readable notebook ({exc})", fatal=True)]
    problems: list[Problem] = []

    def add(cell: str, message: str, fatal: bool = False) -> None:
        problems.append(Problem(name, cell, message, fatal))

    if raw.get("metadata", {}) != NOTEBOOK_METADATA:
        add("", "notebook metadata must be exactly reclab.course.build.NOTEBOOK_METADATA "
            "(what JupyterLab writes on save); set it with `reclab labs normalise`")
    ids: set[str] = set()
    grade_ids: set[str] = set()
    n_graded = 0
    for index, cell in enumerate(cells):
        cell_id = cell.get("id")
        label = cell_id or f"#{index}"
        meta = _nbgrader(cell)
        source = _source(cell)
        if not cell_id:
            add(label, "has no id (nbformat 4.5 cell ids keep the labs reproducible)", True)
        elif cell_id in ids:
            add(label, "id is used twice", True)
        elif not _CELL_ID.match(cell_id):
            add(label, "id should be a readable slug like 'ex-average-rating'")
        ids.add(cell_id or label)
        if cell.get("outputs") or cell.get("execution_count") is not None:
            add(label, "has outputs or an execution count; commit notebooks cleared")
        problems += _marker_problems(name, label, meta, source)
        if not meta:
            continue
        grade_id = meta.get("grade_id", "")
        if not grade_id:
            add(label, "nbgrader cell without a grade_id", True)
        elif grade_id in grade_ids:
            add(label, f"grade_id {grade_id!r} is used twice", True)
        grade_ids.add(grade_id)
        if meta.get("schema_version") != 3:
            add(label, "nbgrader metadata needs schema_version 3")
        if meta.get("grade"):
            n_graded += 1
            points = meta.get("points")
            if not isinstance(points, int | float) or points <= 0:
                add(label, f"graded cell {grade_id!r} needs positive points", True)
            if cell.get("cell_type") == "code" and not meta.get("solution"):
                if not grade_id.startswith("test_") or meta.get("locked") is not True:
                    add(label, "a test cell is locked and its grade_id starts with 'test_'")
        if meta.get("solution") and not meta.get("grade"):
            if not grade_id.startswith("ex_") or meta.get("locked") is not False:
                add(label, "an exercise cell is unlocked and its grade_id starts with 'ex_'")
            following = cells[index + 1] if index + 1 < len(cells) else {}
            if not _nbgrader(following).get("grade"):
                add(label, "has no graded test cell right below it")
            outside = _outside_solution(source)
            if cell.get("cell_type") == "code" and "# Hint:" not in outside:
                add(label, "keep a one-line '# Hint:' comment outside the solution region")
    if n_graded == 0:
        add("", "has no graded cell: nothing to grade", True)
    return problems


def _marker_problems(name: str, label: str, meta: dict[str, Any], source: str) -> list[Problem]:
    """Markers must pair up, not nest, and sit in the right kind of cell."""
    problems = []
    for begin, end, kind, allowed in (
        (BEGIN_SOLUTION, END_SOLUTION, "solution", meta.get("solution")),
        (BEGIN_HIDDEN, END_HIDDEN, "hidden-test", meta.get("grade")),
    ):
        depth = 0
        seen = False
        for line in source.splitlines():
            if begin in line:
                depth, seen = depth + 1, True
                if depth > 1:
                    break
            elif end in line:
                depth -= 1
                if depth < 0:
                    break
        if depth != 0:
            problems.append(Problem(name, label, f"unbalanced {kind} markers", True))
        if seen and not allowed:
            cell_kind = "solution" if kind == "solution" else "graded"
            problems.append(Problem(
                name, label, f"{kind} markers in a cell that is not a {cell_kind} cell", True))
    return problems


def _outside_solution(source: str) -> str:
    """The lines of a cell outside its ``### BEGIN/END SOLUTION`` region."""
    kept, inside = [], False
    for line in source.splitlines():
        if BEGIN_SOLUTION in line:
            inside = True
        elif END_SOLUTION in line:
            inside = False
        elif not inside:
            kept.append(line)
    return "\n".join(kept)


def lab_text(notebook: NotebookNode) -> str:
    """Serialise a generated lab: portable metadata only, stable JSON, one final newline.

    Notebook metadata becomes :data:`NOTEBOOK_METADATA` (what JupyterLab writes on save);
    cell metadata keeps ``nbgrader``, ``deletable``, ``editable`` and ``tags``; cell ids are
    kept.

    Example:
        >>> kernel = {"name": "python3", "display_name": "Python 3"}
        >>> nb = nbformat.v4.new_notebook(metadata={"kernelspec": kernel, "widgets": {}})
        >>> json.loads(lab_text(nb))["metadata"]["kernelspec"]["display_name"]
        'Python 3 (ipykernel)'
    """
    notebook = copy.deepcopy(notebook)
    notebook["metadata"] = nbformat.from_dict(copy.deepcopy(NOTEBOOK_METADATA))
    for cell in notebook.cells:
        cell["metadata"] = nbformat.from_dict(
            {k: v for k, v in cell.get("metadata", {}).items() if k in KEPT_CELL_METADATA})
        if cell.cell_type == "code":
            cell["outputs"], cell["execution_count"] = [], None
    nbformat.validate(notebook)
    return nbformat.writes(notebook, version=4).rstrip("\n") + "\n"


def generate_labs(solutions_dir: Path, scratch: Path | None = None) -> dict[str, str]:
    """Run nbgrader on ``solutions_dir`` and return ``{lab file name: lab JSON text}``.

    Raises :class:`LabsError` listing the fatal problems of any solution notebook.
    ``scratch`` (an empty folder) keeps the nbgrader course for inspection; by default it is
    a temporary folder, deleted afterwards.

    Example:
        >>> sorted(generate_labs(Path("solutions")))   # doctest: +SKIP
        ['00_movielens_tour.ipynb', '01_regression_dot.ipynb', ...]
    """
    notebooks = solution_notebooks(solutions_dir)
    if not notebooks:
        raise LabsError(f"no solution notebooks (*.ipynb) in {solutions_dir}")
    fatal = [p for nb in notebooks for p in validate_solution(nb) if p.fatal]
    if fatal:
        raise LabsError("cannot build the labs:\n  " + "\n  ".join(map(str, fatal)))
    if scratch is not None:
        return _labs_from_course(create_course(notebooks, Path(scratch)))
    with tempfile.TemporaryDirectory(prefix="reclab-labs-") as tmp:
        return _labs_from_course(create_course(notebooks, Path(tmp) / "course"))


def _labs_from_course(course: Course) -> dict[str, str]:
    return {
        f"{lab}.ipynb": lab_text(nbformat.read(course.release(lab), as_version=4))
        for lab in course.labs()
    }


def _is_generated(path: Path) -> bool:
    """Whether a notebook in ``labs/`` looks generated (it carries nbgrader checksums)."""
    try:
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return any("checksum" in _nbgrader(cell) for cell in cells)


def _extra_labs(labs_dir: Path, expected: Iterable[str]) -> list[Path]:
    return sorted(p for p in labs_dir.glob("*.ipynb") if p.name not in set(expected))


def build_labs(solutions_dir: Path, labs_dir: Path) -> list[Path]:
    """Write ``labs_dir`` from ``solutions_dir``; return the lab files that changed.

    Unchanged files are not rewritten; a generated lab whose solution is gone is removed.

    Example:
        >>> build_labs(Path("solutions"), Path("labs"))   # doctest: +SKIP
        [PosixPath('labs/01_regression_dot.ipynb')]
    """
    labs = generate_labs(solutions_dir)
    labs_dir = Path(labs_dir)
    labs_dir.mkdir(parents=True, exist_ok=True)
    changed = []
    for name, text in labs.items():
        target = labs_dir / name
        if not target.is_file() or target.read_text(encoding="utf-8") != text:
            tmp = target.with_name(f".{name}.tmp")
            tmp.write_text(text, encoding="utf-8")
            tmp.replace(target)
            changed.append(target)
    for extra in _extra_labs(labs_dir, labs):
        if _is_generated(extra):
            extra.unlink()
            changed.append(extra)
    return changed


def check_labs(solutions_dir: Path, labs_dir: Path) -> list[str]:
    """Compare ``labs_dir`` with what :func:`build_labs` would write; writes nothing.

    Returns one line per lab that differs, is missing, or is extra; empty when up to date.

    Example:
        >>> check_labs(Path("solutions"), Path("labs"))   # doctest: +SKIP
        ['labs/01_regression_dot.ipynb differs from what solutions/ generates']
    """
    labs = generate_labs(solutions_dir)
    labs_dir = Path(labs_dir)
    problems = []
    for name, text in labs.items():
        target = labs_dir / name
        if not target.is_file():
            problems.append(f"{target} is missing")
        elif target.read_bytes() != text.encode("utf-8"):
            problems.append(f"{target} differs from what {Path(solutions_dir)} generates")
    for extra in _extra_labs(labs_dir, labs):
        problems.append(f"{extra} is extra: there is no {Path(solutions_dir) / extra.name}")
    return problems


def reference_submission(lab: NotebookNode, solution: NotebookNode) -> NotebookNode:
    """The lab with every stub replaced by the solution's code: a perfect submission.

    Each exercise cell (matched by ``grade_id``) takes the solution cell's source without
    the ``### BEGIN/END SOLUTION`` lines; test cells stay as in the lab (no hidden tests).

    Example:
        >>> lab = nbformat.read("labs/00_movielens_tour.ipynb", as_version=4)  # doctest: +SKIP
        >>> sol = nbformat.read("solutions/00_movielens_tour.ipynb", 4)         # doctest: +SKIP
        >>> filled = reference_submission(lab, sol)                             # doctest: +SKIP
    """
    answers = {
        _nbgrader(cell)["grade_id"]: cell.source
        for cell in solution.cells
        if _nbgrader(cell).get("solution") and _nbgrader(cell).get("grade_id")
    }
    filled = copy.deepcopy(lab)
    for cell in filled.cells:
        meta = _nbgrader(cell)
        if meta.get("solution") and meta.get("grade_id") in answers:
            lines = answers[meta["grade_id"]].split("\n")
            cell.source = "\n".join(
                line for line in lines if BEGIN_SOLUTION not in line and END_SOLUTION not in line
            )
    return filled


def normalise_metadata(solutions_dir: Path) -> list[Path]:
    """Give every solution notebook exactly :data:`NOTEBOOK_METADATA`; return those changed.

    Only the notebook-level metadata changes (cells are left alone), so an instructor can run
    it after saving a notebook from another Jupyter: ``reclab labs normalise``.

    Example:
        >>> normalise_metadata(Path("solutions"))  # doctest: +SKIP
        []
    """
    changed = []
    for path in solution_notebooks(solutions_dir):
        notebook = nbformat.reads(path.read_text(encoding="utf-8"), as_version=4)
        if notebook.metadata == NOTEBOOK_METADATA:
            continue
        notebook["metadata"] = nbformat.from_dict(copy.deepcopy(NOTEBOOK_METADATA))
        path.write_text(nbformat.writes(notebook, version=4).rstrip("\n") + "\n",
                        encoding="utf-8")
        changed.append(path)
    return changed


def build_labs_cli(*, solutions_dir: Path, labs_dir: Path, check: bool = False) -> int:
    """``reclab labs build [--check]``: build ``labs/``, or say which labs are out of date.

    Returns 0 when done or up to date, 1 when ``--check`` finds differences.
    """
    if check:
        problems = check_labs(solutions_dir, labs_dir)
        for line in problems:
            print(line)
        if problems:
            print(f"{labs_dir}/ is out of date: run `reclab labs build` (it overwrites "
                  f"{labs_dir}/; never edit labs by hand)")
            return 1
        print(f"{labs_dir}/ is up to date with {solutions_dir}/")
        return 0
    changed = build_labs(solutions_dir, labs_dir)
    for path in changed:
        print(f"{'removed' if not path.exists() else 'wrote'} {path}")
    n_labs = len(solution_notebooks(solutions_dir))
    print(f"{labs_dir}/: {n_labs} labs, {len(changed)} changed")
    return 0
