"""A scratch nbgrader course: the one place where reclab drives nbgrader.

reclab never reimplements nbgrader. It lays out a throw-away *course directory*
(``source/<lab>/<lab>.ipynb``, ``nbgrader_config.json``, ``gradebook.db``) and runs
nbgrader's own converters in it: ``generate_assignment`` to make the labs, ``autograde``
and ``generate_feedback`` to grade one submission. nbgrader changes the working directory,
configures logging and shells out to ``alembic``, so every run happens in a separate worker
process (``python -m reclab.course.driver --serve``) with the venv's ``bin/`` first on ``PATH``;
the caller's process keeps no state and a runaway run can be killed with its kernel.
A :class:`Worker` lives for many tasks (one at a time), so that cost is paid once per worker.

Every lab is its own nbgrader assignment holding one notebook of the same name, so
``solutions/01_regression_dot.ipynb`` is assignment ``01_regression_dot``.

:mod:`reclab.course.build` (build and check ``labs/``) and :mod:`reclab.course.grading` (grade
a class) use it; it imports neither.

Example:
    >>> config = nbgrader_config(timeout=60)
    >>> config["ClearSolutions"]["code_stub"]["python"]
    'raise NotImplementedError("Exercise: write your code here, then run the check below")'
    >>> config["OverwriteCells"]["add_missing_cells"], config["Execute"]["timeout"]
    (True, 60)
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from reclab.errors import ReclabError

__all__ = [
    "CODE_STUB",
    "COURSE_ID",
    "Course",
    "CourseError",
    "Worker",
    "WorkerResult",
    "copy_course",
    "create_course",
    "nbgrader_config",
    "run_worker",
    "worker_env",
    "write_config",
]

COURSE_ID = "reclab"
STUB_MESSAGE = "Exercise: write your code here, then run the check below"
CODE_STUB = f'raise NotImplementedError("{STUB_MESSAGE}")'
CONFIG_FILE = "nbgrader_config.json"


class CourseError(ReclabError):
    """nbgrader could not build the scratch course (the message names the notebook)."""


def nbgrader_config(*, timeout: int = 300) -> dict[str, Any]:
    """Return reclab's nbgrader configuration as plain JSON-able data.

    - ``ClearSolutions.code_stub``: a solution region becomes one line that raises
      ``NotImplementedError`` and tells the student what to do;
    - ``OverwriteCells.add_missing_cells``: a deleted test cell is put back and graded
      (without it nbgrader scores it 0 even when the answer is right);
    - ``Execute.timeout``: seconds allowed per cell; an infinite loop is interrupted and the
      rest of the notebook still runs;
    - ``IgnorePattern``: stderr output (warnings, progress bars, TensorFlow logs) is dropped
      before scoring, so a test cell passes exactly when it raises no exception (nbgrader
      otherwise gives 0 to a test cell that merely printed a warning).

    Example:
        >>> nbgrader_config(timeout=5)["Execute"]["timeout"]
        5
    """
    return {
        "CourseDirectory": {"course_id": COURSE_ID},
        "ClearSolutions": {"code_stub": {"python": CODE_STUB}},
        "OverwriteCells": {"add_missing_cells": True},
        "Execute": {"timeout": int(timeout), "interrupt_on_timeout": True},
        "IgnorePattern": {"enabled": True, "pattern": r"[\s\S]"},
        "NbGraderAPI": {"log_level": "INFO"},
    }


@dataclass(frozen=True)
class Course:
    """Paths of a scratch nbgrader course directory (nbgrader's default layout).

    Example:
        >>> course = Course(Path("/tmp/c"))
        >>> course.release("00_tour").as_posix()
        '/tmp/c/release/00_tour/00_tour.ipynb'
        >>> course.autograded("ann", "00_tour").as_posix()
        '/tmp/c/autograded/ann/00_tour/00_tour.ipynb'
    """

    root: Path

    @property
    def gradebook(self) -> Path:
        """The course's SQLite gradebook."""
        return self.root / "gradebook.db"

    def source(self, lab: str) -> Path:
        """The instructor's notebook of ``lab``."""
        return self.root / "source" / lab / f"{lab}.ipynb"

    def release(self, lab: str) -> Path:
        """The student version of ``lab`` made by ``generate_assignment``."""
        return self.root / "release" / lab / f"{lab}.ipynb"

    def submitted(self, student: str, lab: str) -> Path:
        """Where ``autograde`` reads ``student``'s notebook."""
        return self.root / "submitted" / student / lab / f"{lab}.ipynb"

    def autograded(self, student: str, lab: str) -> Path:
        """The executed, scored notebook (the kernel ran in this file's folder)."""
        return self.root / "autograded" / student / lab / f"{lab}.ipynb"

    def feedback(self, student: str, lab: str) -> Path:
        """nbgrader's HTML feedback for ``student``'s ``lab``."""
        return self.root / "feedback" / student / lab / f"{lab}.html"

    def labs(self) -> list[str]:
        """The labs (assignments) whose source notebook is in this course."""
        return sorted(p.parent.name for p in (self.root / "source").glob("*/*.ipynb"))


@dataclass(frozen=True)
class WorkerResult:
    """What a worker process reported: its JSON answer, or why there is none.

    ``answer`` is ``None`` when the worker was killed (``killed_after`` seconds) or crashed
    (``stderr`` holds its last words).
    """

    answer: dict[str, Any] | None
    stderr: str
    killed_after: float | None = None


def create_course(
    solutions: Sequence[Path], root: Path, *, timeout: int = 300, worker: Worker | None = None
) -> Course:
    """Lay out a course in ``root`` from solution notebooks and run ``generate_assignment``.

    ``root`` must not exist yet or be empty. Afterwards ``course.release(lab)`` is the
    student version of each lab and ``gradebook.db`` knows every cell, with the hidden
    tests, so the same folder serves as the template of every grading course. ``worker``
    (default: a new one, stopped afterwards) runs nbgrader.

    Example:
        >>> course = create_course([Path("solutions/00_movielens_tour.ipynb")],
        ...                        Path("/tmp/scratch"))            # doctest: +SKIP
        >>> course.release("00_movielens_tour").is_file()            # doctest: +SKIP
        True
    """
    root = Path(root).resolve()
    if root.exists() and any(root.iterdir()):
        raise CourseError(f"{root} is not empty; a scratch course needs an empty folder")
    course = Course(root)
    for notebook in solutions:
        lab = Path(notebook).stem
        course.source(lab).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(notebook, course.source(lab))
    write_config(root, timeout=timeout)
    task = {"task": "generate", "root": str(root), "labs": course.labs()}
    result = (worker.run(task, cwd=root) if worker is not None
              else run_worker(task, cwd=root))
    answer = result.answer or {}
    for lab in course.labs():
        outcome = answer.get(lab, {"success": False, "error": result.stderr})
        if not outcome.get("success") or not course.release(lab).is_file():
            raise CourseError(
                f"nbgrader generate_assignment failed on {lab}.ipynb: "
                f"{_last_error(outcome.get('log', '') + outcome.get('error', ''))}"
            )
    return course


def write_config(
    root: Path, *, timeout: int = 300, extra: Mapping[str, Mapping[str, Any]] | None = None
) -> Path:
    """Write ``nbgrader_config.json`` into a course folder and return its path.

    ``extra`` sections are merged into reclab's (e.g. the sandboxed kernel's settings).
    """
    config = nbgrader_config(timeout=timeout)
    for section, values in (extra or {}).items():
        config.setdefault(section, {}).update(values)
    config["CourseDirectory"]["root"] = str(Path(root).resolve())
    path = Path(root) / CONFIG_FILE
    path.write_text(json.dumps(config, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return path


def copy_course(
    template: Course, lab: str, root: Path, *, timeout: int = 300,
    extra: Mapping[str, Mapping[str, Any]] | None = None,
) -> Course:
    """Make a one-lab grading course in ``root`` from a template made by :func:`create_course`.

    It gets its own copy of the gradebook (one SQLite file per course: parallel graders never
    share one) and of ``source/<lab>/``.
    """
    course = Course(Path(root).resolve())
    course.source(lab).parent.mkdir(parents=True, exist_ok=False)
    shutil.copyfile(template.source(lab), course.source(lab))
    shutil.copyfile(template.gradebook, course.gradebook)
    write_config(course.root, timeout=timeout, extra=extra)
    return course


def worker_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Environment of a worker: this one, the venv's ``bin/`` first on PATH, plus ``extra``.

    Example:
        >>> worker_env({"A": "1"})["PATH"].split(os.pathsep)[0] == str(
        ...     Path(sys.executable).parent)
        True
    """
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env.update(extra or {})
    return env


class Worker:
    """A long-lived worker process that runs nbgrader tasks one at a time.

    ``python -m reclab.course.driver --serve`` imports nbgrader once and then takes tasks
    (one JSON line each on its stdin) for as long as it lives, so a class does not pay for a
    new Python process, nbgrader's import and nbconvert's templates per submission. The
    worker only drives nbgrader: student code runs in the fresh kernel nbgrader starts for
    each notebook, and every task has its own scratch course, gradebook and environment.
    A task past its ``limit`` kills the worker with its kernels; the next task starts a new
    worker. ``start()`` spawns it ahead of time (its imports overlap other work).

    Example:
        >>> with Worker() as worker:                                       # doctest: +SKIP
        ...     result = worker.run({"task": "generate", "root": "/tmp/c", "labs": ["00_x"]},
        ...                         cwd=Path("/tmp/c"))
    """

    def __init__(self) -> None:
        self._process: subprocess.Popen[str] | None = None
        self._tasks = 0

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        """Spawn the worker process unless it is running."""
        if self._process is not None and self._process.poll() is None:
            return
        self._process = subprocess.Popen(
            [sys.executable, "-m", "reclab.course.driver", "--serve"],
            env=worker_env(), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, text=True, start_new_session=True,
        )

    def run(
        self,
        task: Mapping[str, Any],
        *,
        cwd: Path,
        env: Mapping[str, str] | None = None,
        limit: float | None = None,
    ) -> WorkerResult:
        """Run one task: its answer is ``cwd/answer.json``, its stderr ``cwd/worker.log``.

        ``env`` is added to the environment of the task (and so of the kernels it starts).
        """
        cwd = Path(cwd)
        answer_file, log_file = cwd / "answer.json", cwd / "worker.log"
        answer_file.unlink(missing_ok=True)
        self.start()
        process = self._process
        assert process is not None and process.stdin is not None and process.stdout is not None
        self._tasks += 1
        request = {**task, "cwd": str(cwd), "env": dict(env or {}), "answer": str(answer_file),
                   "log": str(log_file), "id": self._tasks}
        start = time.monotonic()
        try:
            process.stdin.write(json.dumps(request) + "\n")
            process.stdin.flush()
            done = _read_line(process, None if limit is None else start + limit)
        except OSError:  # the worker died before it read the task
            done = ""
        killed_after = None
        if done is None:
            killed_after = time.monotonic() - start
            self.close()
        elif not done:  # EOF: the worker died
            self.close()
        stderr = (log_file.read_text(encoding="utf-8", errors="replace")
                  if log_file.is_file() else "")
        if killed_after is not None:
            return WorkerResult(None, stderr, killed_after=killed_after)
        if not answer_file.is_file():
            return WorkerResult(None, stderr or "the grading worker exited without an answer")
        return WorkerResult(json.loads(answer_file.read_text(encoding="utf-8")), stderr)

    def close(self) -> None:
        """Stop the worker process and every process it started."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            _kill_tree(process)
        process.communicate()


def _read_line(process: subprocess.Popen[str], deadline: float | None) -> str | None:
    """The worker's next line ("" at EOF), or None when ``deadline`` passes first."""
    import selectors

    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while True:
            wait = None if deadline is None else deadline - time.monotonic()
            if wait is not None and wait <= 0:
                return None
            if selector.select(wait):
                return process.stdout.readline()


def run_worker(
    task: Mapping[str, Any],
    *,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    limit: float | None = None,
) -> WorkerResult:
    """Run one nbgrader task in a fresh :class:`Worker` and stop it afterwards."""
    with Worker() as worker:
        return worker.run(task, cwd=cwd, env=env, limit=limit)


def _kill_tree(process: subprocess.Popen[str]) -> None:
    """Kill a worker and its kernels (which run in sessions of their own)."""
    try:
        import psutil

        children = psutil.Process(process.pid).children(recursive=True)
    except Exception:  # psutil missing or the worker already gone
        children = []
    for child in children:
        try:
            child.kill()
        except Exception:
            pass
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _last_error(log: str) -> str:
    """The most telling line of an nbgrader log: its last error, else its last line."""
    lines = [line.strip() for line in log.splitlines() if line.strip()]
    errors = [
        line for line in lines
        if line.startswith("[ERROR]") or "Error:" in line or "Exception:" in line
    ]
    chosen = (errors or lines or ["no details"])[-1]
    return chosen.removeprefix("[ERROR] ")


# --------------------------------------------------------------------------- the worker ---


def _api(root: Path) -> Any:
    """An ``NbGraderAPI`` on the course in ``root``, configured only by its config file."""
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config import Config

    config = Config(json.loads((root / CONFIG_FILE).read_text(encoding="utf-8")))
    coursedir = CourseDirectory(config=config, root=str(root))
    return NbGraderAPI(coursedir=coursedir, config=config)


def _generate(root: Path, labs: Sequence[str]) -> dict[str, Any]:
    api = _api(root)
    return {lab: api.generate_assignment(lab, force=True, create=True) for lab in labs}


def _autograde(root: Path, lab: str, student: str) -> dict[str, Any]:
    """Autograde one submission, write its feedback, and report what the gradebook holds."""
    from nbgrader.api import Gradebook, MissingEntry

    clock = [time.monotonic()]

    def lap() -> float:
        clock.append(time.monotonic())
        return round(clock[-1] - clock[-2], 3)

    api = _api(root)
    course = Course(root)
    timing = {"setup": lap()}
    answer: dict[str, Any] = {"autograde": api.autograde(lab, student, force=True, create=True)}
    timing["autograde"] = answer["autograde_seconds"] = lap()
    if course.autograded(student, lab).is_file():
        answer["feedback"] = api.generate_feedback(lab, student, force=True)
    timing["feedback"] = lap()
    with Gradebook(f"sqlite:///{course.gradebook}", COURSE_ID) as gradebook:
        try:
            notebook = gradebook.find_submission_notebook(lab, lab, student)
        except MissingEntry:
            answer["grades"], answer["comments"] = [], []
        else:
            answer["grades"] = [
                {"name": g.name, "score": g.score, "max_score": g.max_score,
                 "auto_score": g.auto_score}
                for g in notebook.grades
            ]
            answer["comments"] = [
                {"name": c.name, "auto_comment": c.auto_comment} for c in notebook.comments
            ]
    answer["cells"] = _cell_report(course.autograded(student, lab))
    timing["report"] = lap()
    answer["timing"] = timing  # seconds per step, for `make bench-grading`
    return answer


def _cell_report(path: Path) -> list[dict[str, Any]]:
    """Each code cell of an autograded notebook: its names, kind and the errors it raised."""
    if not path.is_file():
        return []
    import nbformat

    notebook = nbformat.read(path, as_version=4)
    cells = []
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "code":
            continue
        meta = cell.get("metadata", {}).get("nbgrader", {})
        errors = [
            {"ename": out.get("ename", ""), "evalue": out.get("evalue", "")}
            for out in cell.get("outputs", [])
            if out.get("output_type") == "error"
        ]
        cells.append({
            "index": index,
            "id": cell.get("id", ""),
            "grade_id": meta.get("grade_id", ""),
            "grade": bool(meta.get("grade")),
            "solution": bool(meta.get("solution")),
            "errors": errors,
        })
    return cells


def _run_task(task: Mapping[str, Any]) -> dict[str, Any]:
    root = Path(task["root"])
    if task["task"] == "generate":
        return _generate(root, task["labs"])
    if task["task"] == "autograde":
        from reclab.course.ipc import SOCKETS_ENV, use_for_nbgrader

        use_for_nbgrader(SOCKETS_ENV in task["env"])  # a sandboxed kernel: Unix sockets
        return _autograde(root, task["lab"], task["student"])
    raise ValueError(f"unknown task {task['task']!r}")


def _serve(requests: TextIO, replies: TextIO) -> int:
    """The worker's loop: one JSON task per line in, its answer file written, one line out.

    Each task gets its own working directory, environment variables and stderr log (file
    descriptor 2, which the kernels nbgrader starts inherit); all three are put back after
    it. A task that raises ends the worker (the caller reports the log and starts a new one).
    """
    base_env, base_cwd = dict(os.environ), os.getcwd()
    for line in requests:
        task = json.loads(line)
        saved_err = os.dup(2)
        log = os.open(task["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(log, 2)
        os.close(log)
        os.environ.update(task["env"])
        os.chdir(task["cwd"])
        try:
            answer = _run_task(task)
            Path(task["answer"]).write_text(json.dumps(answer, indent=1, default=str),
                                            encoding="utf-8")
        except BaseException:
            import traceback

            traceback.print_exc()
            return 1
        finally:
            sys.stderr.flush()
            os.dup2(saved_err, 2)
            os.close(saved_err)
            os.environ.clear()
            os.environ.update(base_env)
            os.chdir(base_cwd)
        replies.write(json.dumps({"done": task["id"]}) + "\n")
        replies.flush()
    return 0


def _worker_main(argv: Sequence[str]) -> int:
    """``python -m reclab.course.driver --serve``: import nbgrader, then serve tasks."""
    if list(argv) != ["--serve"]:
        raise SystemExit("usage: python -m reclab.course.driver --serve")
    replies = os.fdopen(os.dup(1), "w", encoding="utf-8")  # the protocol's own channel
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)  # whatever else prints goes nowhere
    sys.stdout = sys.stderr
    import nbgrader.apps  # noqa: F401  (paid once per worker, not once per submission)

    return _serve(sys.stdin, replies)


if __name__ == "__main__":
    sys.exit(_worker_main(sys.argv[1:]))
