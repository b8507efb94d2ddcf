"""Grade a class: ``SUBMISSIONS/<student>/<lab>.ipynb`` → ``grades.csv`` and feedback.

Each submission is graded by nbgrader's ``autograde`` and ``generate_feedback`` in a scratch
course of its own (:mod:`reclab.course.driver`): the file is *copied* in (the original is never
opened for writing), test cells are restored from ``solutions/`` whatever the student did
(a deleted one is put back), hidden tests are inserted, every cell runs under a timeout in a
fresh kernel, and the course — with its own SQLite gradebook — is deleted once its result is
read. ``--jobs N`` runs N such workers at once.

Every (student, lab) gets a row with a ``status``:

=========  ===================================================================
ok         graded normally (failed tests simply score 0)
tampered   graded normally, but test cells were edited or deleted and restored
error      a cell outside the test cells raised an exception (score as graded)
timeout    a cell ran longer than ``--timeout`` seconds and was interrupted
missing    no ``<lab>.ipynb`` in the student's folder (0)
empty      a 0-byte file or a notebook without cells (0)
invalid    not a notebook (bad JSON, wrong format) or nbgrader refused it (0)
=========  ===================================================================

Example:
    >>> rows = grade(Path("submissions"), Path("out"), Path("solutions"))  # doctest: +SKIP
    >>> print(summary(rows))                                               # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import html
import json
import queue
import shutil
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat

from reclab.course import sandbox as sandboxing
from reclab.course.build import solution_notebooks
from reclab.course.driver import STUB_MESSAGE, Course, Worker, copy_course, create_course
from reclab.course.gradebook import (
    SHARD_FILE,
    CellGrade,
    Grade,
    GradingError,
    _num,
    merge,
    shard_of,
    summary,
    write_canvas_csv,
    write_grades_csv,
    write_wide_csv,
)
from reclab.course.integrity import scan_cells
from reclab.course.progress import Progress
from reclab.errors import ReclabError

__all__ = ["available_cores", "grade", "grade_cli", "hash_tree", "merge_cli"]

TIMEOUT_ERROR = "CellTimeoutError"


@dataclass(frozen=True)
class _Lab:
    """What grading needs to know about a lab: its test cells' checksums and points."""

    name: str
    tests: dict[str, str]  # grade_id -> checksum of the released test cell
    max_score: float
    n_code_cells: int

    @classmethod
    def from_release(cls, path: Path) -> _Lab:
        notebook = nbformat.read(path, as_version=4)
        tests, total = {}, 0.0
        for cell in notebook.cells:
            meta = cell.metadata.get("nbgrader", {})
            if meta.get("grade"):
                tests[meta["grade_id"]] = meta.get("checksum", "")
                total += float(meta.get("points", 0))
        n_code = sum(cell.cell_type == "code" for cell in notebook.cells)
        return cls(path.stem, tests, total, n_code)


# ---------------------------------------------------------------------- inspection ---


def _read_submission(path: Path, lab: _Lab) -> tuple[bytes | None, Grade | None, list[str]]:
    """Read a submission once: its bytes, or the row when it cannot be graded; tamper notes."""
    student = path.parent.name

    def row(status: str, message: str) -> Grade:
        return Grade(student, lab.name, 0.0, lab.max_score, status, message)

    if not path.is_file():
        others = sorted(p.name for p in path.parent.glob("*.ipynb"))
        hint = f" (found: {', '.join(others)})" if others else ""
        return None, row("missing", f"no {path.name} in {student}/{hint}"), []
    data = path.read_bytes()
    if not data.strip():
        return None, row("empty", f"the file is empty ({len(data)} bytes)"), []
    try:
        raw = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        return None, row("invalid", "not a notebook: the file is not UTF-8 text"), []
    except json.JSONDecodeError as exc:
        return None, row(
            "invalid",
            f"not a notebook: invalid JSON at line {exc.lineno}, column {exc.colno} "
            f"({exc.msg}); save it again from Jupyter",
        ), []
    try:
        notebook = nbformat.reads(json.dumps(raw), as_version=4)
        nbformat.validate(notebook)
    except Exception as exc:  # nbformat raises several kinds; all mean the same here
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return None, row("invalid", f"not a valid Jupyter notebook: {first[:160]}"), []
    if not notebook.cells:
        return None, row("empty", "the notebook has no cells"), []
    return data, None, _tamper_notes(notebook, lab)


def _tamper_notes(notebook: nbformat.NotebookNode, lab: _Lab) -> list[str]:
    """Which test cells were deleted or edited (nbgrader restores both before grading)."""
    from nbgrader.utils import compute_checksum

    found: dict[str, list[str]] = {}
    for cell in notebook.cells:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if grade_id in lab.tests:
            try:
                checksum = compute_checksum(cell)
            except Exception:  # metadata mangled: nbgrader will restore the cell anyway
                checksum = ""
            found.setdefault(grade_id, []).append(checksum)
    notes = []
    for grade_id, checksum in lab.tests.items():
        if grade_id not in found:
            notes.append(f"test cell {grade_id} was deleted: restored from the solutions "
                         "and graded")
        elif checksum not in found[grade_id]:
            notes.append(f"test cell {grade_id} was edited: the original was restored "
                         "and graded")
    return notes


# ------------------------------------------------------------------------- grading ---


def _kernel_tampering(data: bytes) -> list[tuple[str, str]]:
    """``(cell id, reason)`` of each student cell that attacks the grading from the kernel."""
    notebook = nbformat.reads(data.decode("utf-8"), as_version=4)
    code = [c for c in notebook.cells if c.cell_type == "code"]
    cells = [(c.source, not c.get("metadata", {}).get("nbgrader", {}).get("locked", False))
             for c in code]
    return [(code[i].get("id", "") or f"cell {i}", "; ".join(reasons))
            for i, reasons in scan_cells(cells)]


def _grade_one(
    template: Course, lab: _Lab, student: str, path: Path, workdir: Path, *,
    timeout: int, env: Mapping[str, str], feedback: Path, worker: Worker,
    sandbox: str = "none", limits: sandboxing.Limits | None = None,
) -> Grade:
    """Grade one submission in a scratch course of its own; write its feedback HTML."""
    data, early, notes = _read_submission(path, lab)
    feedback.unlink(missing_ok=True)
    if early is not None:
        if early.status != "missing":
            _write_plain_feedback(feedback, early)
        return early
    private = workdir / "kernel"  # the kernel's own writable folder (HOME, results, sockets)
    extra = sandboxing.nbgrader_config(private) if sandbox == "bwrap" else None
    course = copy_course(template, lab.name, workdir / "course", timeout=timeout, extra=extra)
    submitted = course.submitted(student, lab.name)
    submitted.parent.mkdir(parents=True)
    submitted.write_bytes(data or b"")
    limit = timeout * (lab.n_code_cells + 2) + 120
    kernel_env = {"RECLAB_RESULTS": str(private / "results"), **env}
    if sandbox == "bwrap":
        limits = limits or sandboxing.Limits()
        limits = dataclasses.replace(limits, cpu_seconds=limits.cpu_seconds or int(limit))
        kernel_env.update(sandboxing.kernel_spec(private, [course.root / "autograded"], limits))
    start = time.monotonic()
    result = worker.run(
        {"task": "autograde", "root": str(course.root), "lab": lab.name, "student": student},
        cwd=workdir, env=kernel_env, limit=limit,
    )
    grade_row = dataclasses.replace(
        _interpret(student, lab, result.answer, notes, result.killed_after, result.stderr,
                   _kernel_tampering(data or b"")),
        seconds=round(time.monotonic() - start, 1),
    )
    produced = course.feedback(student, lab.name)
    if produced.is_file():
        feedback.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(produced, feedback)
    else:
        _write_plain_feedback(feedback, grade_row)
    return grade_row


def _interpret(
    student: str, lab: _Lab, answer: Mapping[str, Any] | None, notes: list[str],
    killed_after: float | None, stderr: str, tampering: Sequence[tuple[str, str]] = (),
) -> Grade:
    """Turn a worker's answer into a score, a status and a plain message.

    ``tampering`` (from :mod:`reclab.course.integrity`): the test cells after the first such
    cell score 0 whatever they printed.
    """
    if answer is None:
        if killed_after is not None:
            message = (f"grading was stopped after {killed_after:.0f} s: the notebook kept "
                       "running past every cell's time limit")
            return Grade(student, lab.name, 0.0, lab.max_score, "timeout", message)
        last = stderr.strip().splitlines()[-1] if stderr.strip() else "no details"
        return Grade(student, lab.name, 0.0, lab.max_score, "error",
                     f"the grader crashed: {last[:200]}")
    grades = {g["name"]: g for g in answer.get("grades", [])}
    cells = answer.get("cells", [])
    errors_by_cell = {c["grade_id"] or c["id"] or f"cell {c['index']}": c for c in cells}
    position = {c["id"]: c["index"] for c in cells if c["id"]}
    in_notebook_order = {name: cell.get("index", 10**9) for name, cell in errors_by_cell.items()}
    unanswered = sorted(
        (c["name"] for c in answer.get("comments", []) if c.get("auto_comment") == "No response."),
        key=lambda name: (in_notebook_order.get(name, 10**9), name),
    )
    subverted_from = min((position.get(cell_id, -1) for cell_id, _ in tampering), default=None)
    cell_grades = []
    for grade_id, g in sorted(grades.items(),
                              key=lambda kv: (in_notebook_order.get(kv[0], 10**9), kv[0])):
        errs = errors_by_cell.get(grade_id, {}).get("errors", [])
        score = float(g["score"] or 0.0)
        if subverted_from is not None and (
                errors_by_cell.get(grade_id, {}).get("index", 10**9) > subverted_from):
            score = 0.0
        cell_grades.append(CellGrade(grade_id, score, float(g["max_score"] or 0.0),
                                     _error_text(errs[0]) if errs else ""))
    score = sum(c.score for c in cell_grades)
    max_score = sum(c.max_score for c in cell_grades) or lab.max_score

    timeouts, crashes, knock_on = [], [], 0
    for name, cell in errors_by_cell.items():
        enames = [err["ename"] for err in cell["errors"]]
        if TIMEOUT_ERROR in enames:  # the interrupt also shows up as a KeyboardInterrupt
            timeouts.append(name)
        elif cell["errors"] and not cell["grade"]:
            if _is_stub_error(cell["errors"][0]):
                knock_on += not cell["solution"]
            else:
                crashes.append(f"{name} raised {_error_text(cell['errors'][0])}")
    first_exercise = next((c["index"] for c in cells if c["solution"]), None)
    early_errors = tuple(
        f"{name} raised {cell['errors'][0]['ename']}"
        for name, cell in errors_by_cell.items()
        if cell["errors"] and (first_exercise is None or cell["index"] < first_exercise)
    )

    autograde = answer.get("autograde", {})
    if not autograde.get("success", False):  # the notes would promise a grading that failed
        reason = _nbgrader_failure(autograde)
        status = "invalid" if "metadata" in reason.lower() else "error"
        return Grade(student, lab.name, score, max_score, status,
                     f"nbgrader could not grade it: {reason}", tuple(cell_grades), early_errors)
    parts = list(notes)
    if tampering:
        cell_id, reason = tampering[0]
        more = f" (+{len(tampering) - 1} more cells)" if len(tampering) > 1 else ""
        parts.insert(0, f"cell {cell_id} {reason}{more}: the tests after it get no points")
    if timeouts:
        parts.append(f"{_listing(timeouts)} ran longer than the time limit and "
                     f"{'was' if len(timeouts) == 1 else 'were'} stopped")
    if unanswered:
        later = (f" ({knock_on} later cell{'s' if knock_on > 1 else ''} failed because of it)"
                 if knock_on else "")
        parts.append(f"not answered: {', '.join(unanswered)}{later}")
    if crashes:
        parts.append(_listing(crashes, limit=3))
    failed = [c for c in cell_grades if c.score < c.max_score]
    if failed:
        details = [f"{c.grade_id} ({_num(c.score)}/{_num(c.max_score)})"
                   + (f" {c.error}" if c.error else "") for c in failed]
        parts.append(f"passed {len(cell_grades) - len(failed)} of {len(cell_grades)} tests; "
                     f"failed {_listing(details, limit=3)}")
    elif len(cell_grades) == 1:
        parts.append("the test passed")
    else:
        parts.append(f"all {len(cell_grades)} tests passed")
    status = ("tampered" if tampering else "timeout" if timeouts else "error" if crashes
              else "tampered" if notes else "ok")
    return Grade(student, lab.name, score, max_score, status, "; ".join(parts),
                 tuple(cell_grades), early_errors)


def _nbgrader_failure(result: Mapping[str, Any]) -> str:
    text = (result.get("log", "") or "") + "\n" + (result.get("error", "") or "")
    if "DeadKernelError" in text or "Kernel died" in text:
        return "the kernel died (the notebook crashed Python or ran out of memory)"
    if "UnresponsiveKernelError" in text or "became unresponsive" in text:
        return "the kernel stopped responding and could not be interrupted"
    if "add_missing_grade_cells" in text:
        return ("exercise and test cells are missing or lost their nbgrader metadata (was the "
                "work copied into a new notebook?), so the tests cannot be put back; paste "
                "the answers into a fresh copy of the lab")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    telling = [line for line in lines if "Error" in line or "error" in line]
    return _one_line((telling or lines or ["unknown failure"])[-1].removeprefix("[ERROR] "))


def _is_stub_error(error: Mapping[str, str]) -> bool:
    """Whether an error is the lab's stub: an exercise left unanswered."""
    return error.get("ename") == "NotImplementedError" and error.get("evalue") == STUB_MESSAGE


def _error_text(error: Mapping[str, str]) -> str:
    """``ValueError: bad shape`` on one line (just the name when there is no value).

    Example:
        >>> _error_text({"ename": "NotImplementedError", "evalue": STUB_MESSAGE})
        'NotImplementedError (exercise not answered)'
    """
    if _is_stub_error(error):
        return "NotImplementedError (exercise not answered)"
    value = (error.get("evalue") or "").strip()
    return _one_line(f"{error['ename']}: {value}" if value else error["ename"])


def _one_line(text: str) -> str:
    # whole, on one line: grades.csv keeps the full message (the summary table shows none)
    return " ".join(text.split())


def _listing(items: Sequence[str], limit: int = 5) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" (+{len(items) - limit} more)" if len(items) > limit else "")


def _write_plain_feedback(path: Path, grade_row: Grade) -> None:
    """Feedback for a submission nbgrader could not run: the score and why."""
    path.parent.mkdir(parents=True, exist_ok=True)
    title = html.escape(f"{grade_row.lab} — {grade_row.student}")
    path.write_text(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
        f"<title>{title}</title></head><body>\n<h1>{title}</h1>\n"
        f"<p>Score: {_num(grade_row.score)} / {_num(grade_row.max_score)} "
        f"({html.escape(grade_row.status)})</p>\n<p>{html.escape(grade_row.message)}</p>\n"
        "</body></html>\n",
        encoding="utf-8",
    )


# ---------------------------------------------------------------------------- class ---


def hash_tree(folder: Path) -> dict[str, str]:
    """sha256 of every file under ``folder`` (relative path → hex digest).

    Example:
        >>> hash_tree(Path("no-such-folder"))
        {}
    """
    folder = Path(folder)
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*")) if p.is_file()
    }


def _students(submissions: Path) -> list[str]:
    return sorted(
        p.name for p in submissions.iterdir() if p.is_dir() and not p.name.startswith(".")
    )


def grade(
    submissions: Path,
    out: Path,
    solutions_dir: Path,
    *,
    jobs: int = 1,
    timeout: int = 300,
    labs: Sequence[str] | None = None,
    scratch: Path | None = None,
    env: Mapping[str, str] | None = None,
    sandbox: str = "auto",
    limits: sandboxing.Limits | None = None,
    canvas: bool = False,
    shard: tuple[int, int] | None = None,
    progress: bool | None = None,
) -> list[Grade]:
    """Grade every ``submissions/<student>/<lab>.ipynb``; write ``out/grades.csv`` (long),
    ``out/grades_wide.csv`` (a row per student), with ``canvas`` ``out/canvas.csv``, and
    ``out/feedback/<student>/<lab>.html``; return the rows (sorted by student, lab).

    ``labs`` defaults to every lab that at least one student submitted. ``scratch`` keeps
    the scratch courses (for debugging; default: a temporary folder, deleted). ``env`` adds
    variables to the kernels' environment. The original files are never written to.
    ``sandbox`` (``auto``, ``bwrap``, ``none``; see :mod:`reclab.course.sandbox`) isolates each
    kernel; ``auto`` prints a warning when it has to fall back to ``none``. ``shard=(i, n)``
    grades only the students of shard ``i`` of ``n`` (:func:`shard_of`) and writes
    ``out/shard.json``; :func:`merge` combines the shards' folders. ``progress`` draws a
    :class:`~reclab.course.progress.Progress` line on stderr (default: when it is a terminal).

    Example:
        >>> rows = grade(Path("submissions"), Path("graded"), Path("solutions"))  # doctest: +SKIP
        >>> rows[0].status                                                        # doctest: +SKIP
        'ok'
    """
    submissions, out = Path(submissions).resolve(), Path(out).resolve()
    if not submissions.is_dir():
        raise GradingError(f"no submissions folder at {submissions}")
    if out == submissions or submissions in out.parents:
        raise GradingError("--out must be outside the submissions folder")
    if jobs < 1 or timeout < 1:
        raise GradingError("--jobs and --timeout must be at least 1")
    known = {p.stem: p for p in solution_notebooks(solutions_dir)}
    students = _students(submissions)
    if shard is not None:
        index, count = shard
        if not 1 <= index <= count:
            raise GradingError(f"--shard {index}/{count}: i must be between 1 and n")
        students = [s for s in students if shard_of(s, count) == index]
    elif not students:
        raise GradingError(f"no student folders in {submissions}: expected "
                           f"{submissions.name}/<student>/<lab>.ipynb")
    chosen = _choose_labs(submissions, _students(submissions), known, labs)
    mode, note = sandboxing.resolve(sandbox)
    if mode != sandbox:
        print(note, file=sys.stderr)
    before = hash_tree(submissions)

    workers = [Worker() for _ in range(jobs)]
    idle: queue.SimpleQueue[Worker] = queue.SimpleQueue()
    with contextlib.ExitStack() as stack:
        tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="reclab-grade-"))
        for worker in workers:
            stack.callback(worker.close)
        for worker in workers[1:]:
            worker.start()  # their imports overlap the template's generate_assignment
        base = Path(scratch).resolve() if scratch is not None else Path(tmp)
        template = create_course([known[lab] for lab in chosen], base / "template",
                                 worker=workers[0])
        for worker in workers:
            idle.put(worker)
        lab_info = {lab: _Lab.from_release(template.release(lab)) for lab in chosen}
        tasks = [(student, lab) for student in students for lab in chosen]
        bar = Progress(len(tasks), enabled=progress)
        stack.callback(bar.close)

        def work(index: int) -> Grade:
            student, lab = tasks[index]
            workdir = base / "submissions" / f"{index:04d}"
            workdir.mkdir(parents=True)
            worker = idle.get()
            try:
                row = _grade_one(
                    template, lab_info[lab], student, submissions / student / f"{lab}.ipynb",
                    workdir, timeout=timeout, env=dict(env or {}),
                    feedback=out / "feedback" / student / f"{lab}.html", worker=worker,
                    sandbox=mode, limits=limits,
                )
                bar.advance(student, lab, row.status)
                return row
            finally:
                idle.put(worker)
                if scratch is None:
                    shutil.rmtree(workdir, ignore_errors=True)

        out.mkdir(parents=True, exist_ok=True)
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            rows = list(pool.map(work, range(len(tasks))))

    changed = sorted(k for k, v in hash_tree(submissions).items() if before.get(k) != v)
    changed += sorted(set(before) - set(hash_tree(submissions)))
    if changed:
        print(f"WARNING: {len(changed)} file(s) in {submissions} changed during grading "
              f"(not by reclab): {', '.join(changed[:5])}", file=sys.stderr)
    rows.sort(key=lambda r: (r.student, r.lab))
    write_grades_csv(rows, out / "grades.csv")
    write_wide_csv(rows, out / "grades_wide.csv")
    if shard is not None:
        (out / SHARD_FILE).write_text(json.dumps(
            {"shard": shard[0], "of": shard[1], "students": students, "labs": chosen},
            indent=1) + "\n", encoding="utf-8")
    if canvas:
        write_canvas_csv(rows, out / "canvas.csv")
    return rows


def _choose_labs(
    submissions: Path, students: Sequence[str], known: Mapping[str, Path],
    labs: Sequence[str] | None,
) -> list[str]:
    """The labs to grade: those asked for, else those anyone submitted."""
    if labs is not None:
        unknown = sorted(set(labs) - set(known))
        if unknown:
            raise GradingError(f"no solution notebook for {', '.join(unknown)}")
        return sorted(labs)
    submitted = {p.stem for s in students for p in (submissions / s).glob("*.ipynb")}
    chosen = sorted(set(known) & submitted)
    if not chosen:
        raise GradingError(
            f"no submission is named after a lab; expected {submissions.name}/<student>/"
            f"<lab>.ipynb with <lab> one of: {', '.join(sorted(known))}"
        )
    return chosen


def merge_cli(*, shards: Sequence[Path], out: Path, canvas: bool = False) -> int:
    """``reclab grade merge SHARD_OUT... --out RESULTS``: one gradebook from the shards."""
    rows = merge(shards, out, canvas=canvas)
    print(summary(rows))
    print(f"\n{len(rows)} rows from {len(shards)} shards\ngrades: {Path(out) / 'grades.csv'}")
    return 0


def _prefetch_data() -> None:
    """Make sure MovieLens is cached before kernels start (they find it the same way)."""
    try:
        from reclab import data

        data.fetch()
    except ReclabError as exc:
        print(f"warning: MovieLens 100k is not available ({exc}); labs that load it will "
              "fail", file=sys.stderr)


def available_cores() -> int:
    """The CPU cores this process may use (``--jobs auto``).

    Example:
        >>> available_cores() >= 1
        True
    """
    import os

    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def grade_cli(
    *, submissions: Path, out: Path, solutions_dir: Path, jobs: int | str = 1,
    timeout: int = 300, sandbox: str = "auto", canvas: bool = False, shard: str | None = None,
    progress: bool | None = None,
) -> int:
    """``reclab grade SUBMISSIONS --out RESULTS``: grade, write, print the summary."""
    start = time.monotonic()
    if jobs == "auto":
        jobs = available_cores()
    elif not str(jobs).isdigit():
        raise GradingError(f"--jobs is a number or 'auto', not {jobs!r}")
    jobs = int(jobs)
    cut = None
    if shard is not None:
        index, _, count = shard.partition("/")
        if not (index.isdigit() and count.isdigit() and 1 <= int(index) <= int(count)):
            raise GradingError(f"--shard is i/n with 1 ≤ i ≤ n (e.g. 2/8), not {shard!r}")
        cut = (int(index), int(count))
    mode, note = sandboxing.resolve(sandbox)
    print(note)
    _prefetch_data()
    rows = grade(submissions, out, solutions_dir, jobs=jobs, timeout=timeout, sandbox=mode,
                 canvas=canvas, shard=cut, progress=progress)
    print(summary(rows))
    executed = sum(row.seconds > 0 for row in rows)
    print(f"\n{len(rows)} rows, {executed} notebooks executed, in "
          f"{time.monotonic() - start:.0f} s (jobs={jobs})\ngrades: {Path(out) / 'grades.csv'}"
          f" (one row per student: {Path(out) / 'grades_wide.csv'})"
          f"\nfeedback: {Path(out) / 'feedback'}/")
    return 0
