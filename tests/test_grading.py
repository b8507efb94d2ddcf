"""Grading round trips: a hostile class on the toy course, then the real labs.

The toy course (tests/fixtures/toy_course) is graded once, with one student per kind of
trouble; each test then checks that student's row. Every registered lab
(``reclab.course.registry.LABS``) is graded untouched (0 on every test cell, no error before
the first exercise) and with its stubs replaced by the solution code. The second is **the
execution test of the solution notebooks**: it runs every cell of the solution's code with
the visible and hidden tests nbgrader puts back, in a fresh kernel, and fails unless the
notebook gets full marks with no error in any cell and no cell over its time limit — so
``make test`` runs each solution notebook once, here, and not again under nbval.
``RECLAB_ROUNDTRIP_LABS`` (``all``, the default, or comma-separated lab names) narrows it
while iterating on one lab.
"""

from __future__ import annotations

import copy
import csv
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest

from reclab import cli
from reclab.course import registry
from reclab.course import sandbox as sandboxing
from reclab.course.build import generate_labs, reference_submission
from reclab.course.gradebook import STATUSES, Grade, GradingError, summary
from reclab.course.grading import grade, hash_tree

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = ROOT / "solutions"
TOY = Path(__file__).resolve().parent / "fixtures" / "toy_course" / "solutions"
STATS, WORDS = "00_toy_stats", "01_toy_words"
TOY_TIMEOUT = 12  # seconds per cell: the toy cells take milliseconds, but CI is busy

VANDAL_CELL = """\
import os, pathlib, shutil
print(os.getcwd())
for up in range(1, 8):  # every "../alice" a shared course folder would expose
    base = pathlib.Path("../" * up)
    shutil.rmtree(base / "alice", ignore_errors=True)
    try:
        (base / "alice").mkdir(exist_ok=True)
        (base / "alice" / "00_toy_stats.ipynb").write_text("pwned")
    except OSError:
        pass
pathlib.Path("../../../escaped.txt").write_text("outside my folder")
from reclab.results import record_result
record_result("00_toy_stats", "vandal", {"rmse": 9.9})
"""


SECRET = "s3cr3t-do-not-read"
SPY_CELL = """\
import pathlib, socket
for target in {targets!r}:
    try:
        print("read", target, pathlib.Path(target).read_text()[:200])
    except OSError as exc:
        print("blocked", target, type(exc).__name__)
try:
    socket.create_connection(("1.1.1.1", 53), timeout=2)
    print("network: open")
except OSError as exc:
    print("network: blocked", type(exc).__name__)
"""
SANDBOXED = sandboxing.bwrap_problem() is None


def _cell(nb: nbformat.NotebookNode, grade_id: str) -> nbformat.NotebookNode:
    return next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def _write(folder: Path, student: str, name: str, content: nbformat.NotebookNode | bytes) -> None:
    (folder / student).mkdir(parents=True, exist_ok=True)
    path = folder / student / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        nbformat.write(content, path)


def make_hostile_class(labs: dict[str, str], folder: Path, secrets: list[Path]) -> None:
    """One student per case the grader must survive (see each line)."""
    lab = nbformat.reads(labs[f"{STATS}.ipynb"], as_version=4)
    good = reference_submission(lab, nbformat.read(TOY / f"{STATS}.ipynb", as_version=4))
    words = nbformat.reads(labs[f"{WORDS}.ipynb"], as_version=4)
    good_words = reference_submission(words, nbformat.read(TOY / f"{WORDS}.ipynb", as_version=4))

    def variant(edit_cell: str | None = None, source: str = "") -> nbformat.NotebookNode:
        nb = copy.deepcopy(good)
        if edit_cell:
            _cell(nb, edit_cell).source = source
        return nb

    _write(folder, "alice", f"{STATS}.ipynb", good)  # right answers
    _write(folder, "alice", f"{WORDS}.ipynb", good_words)
    _write(folder, "bob", f"{STATS}.ipynb", variant(  # an exception in a student cell
        "ex_high", "n_high = int((ratings >= 4).sum())\nraise ValueError('oops, my bad')"))
    _write(folder, "carol", f"{STATS}.ipynb", variant(  # an infinite loop
        "ex_high", "while True:\n    pass"))
    dave = variant()  # right answers, a test cell deleted
    dave.cells = [c for c in dave.cells if c.metadata.get("nbgrader", {}).get("grade_id")
                  != "test_mean"]
    _write(folder, "dave", f"{STATS}.ipynb", dave)
    erin = variant("ex_mean", "def mean_rating(values):\n    return 0.0")  # wrong, and ...
    _cell(erin, "test_mean").source = "print('all good')"  # ... the test edited to pass
    _write(folder, "erin", f"{STATS}.ipynb", erin)
    _write(folder, "frank", f"{WORDS}.ipynb", good_words)  # lab 00 missing (misnamed)
    _write(folder, "frank", "lab00 (1).ipynb", good)
    _write(folder, "grace", f"{STATS}.ipynb", b'{"cells": [{"cell_type": "code", ')  # bad JSON
    _write(folder, "heidi", f"{STATS}.ipynb", b"")  # 0 bytes
    _write(folder, "ivan", f"{STATS}.ipynb", nbformat.v4.new_notebook())  # no cells
    for student, cheat in (  # nothing answered, and the grading attacked from the kernel
        ("quinn", "get_ipython().set_custom_exc((BaseException,), lambda *a, **k: None)"),
        ("rosa", "import reclab.checks\nsetattr(reclab.checks, 'fail', lambda *a, **k: None)"),
        ("sam", "exec('get_ipython().set_custom_exc((BaseException,), lambda *a, **k: None)')"),
    ):
        cheater = copy.deepcopy(lab)
        cheater.cells.insert(3, nbformat.v4.new_code_cell(cheat, id="cheat"))
        _write(folder, student, f"{STATS}.ipynb", cheater)
    pat = variant()  # right answers, and reads absolute paths and the network
    targets = [str(p) for p in secrets] + [str(folder / "alice" / f"{STATS}.ipynb")]
    pat.cells.insert(3, nbformat.v4.new_code_cell(SPY_CELL.format(targets=targets), id="spy"))
    _write(folder, "pat", f"{STATS}.ipynb", pat)
    judy = variant()  # right answers, and vandalism outside her folder
    judy.cells.insert(3, nbformat.v4.new_code_cell(VANDAL_CELL, id="vandal"))
    _write(folder, "judy", f"{STATS}.ipynb", judy)
    _write(folder, "ken", f"{STATS}.ipynb", lab)  # the lab as handed out
    _write(folder, "leo", f"{STATS}.ipynb", variant(  # passes the visible test only
        "ex_mean", "def mean_rating(values):\n    return 2.0"))
    _write(folder, "mia", f"{STATS}.ipynb", variant(  # kills its own kernel
        "ex_high", "import os\nos._exit(1)"))
    olga = variant()  # right answers pasted into a new notebook: no nbgrader metadata
    for cell in olga.cells:
        cell.metadata = {}
    _write(folder, "olga", f"{STATS}.ipynb", olga)
    _write(folder, "nick", f"{STATS}.ipynb", variant(  # right, but warns on stderr
        "ex_mean", "import warnings\n\ndef mean_rating(values):\n"
                   "    warnings.warn('floats ahead')\n    return sum(values) / len(values)"))


@dataclass
class Graded:
    rows: dict[tuple[str, str], Grade]
    submissions: Path
    out: Path
    scratch: Path
    hashes_before: dict[str, str]


@pytest.fixture(scope="module")
def toy(tmp_path_factory: pytest.TempPathFactory) -> Graded:
    """The hostile class, graded once with two jobs."""
    base = tmp_path_factory.mktemp("toy-grading")
    submissions = base / "submissions"
    secret = base / "instructor-secret.txt"  # outside every folder grading hands a kernel
    secret.write_text(SECRET, encoding="utf-8")
    make_hostile_class(generate_labs(TOY), submissions, [secret, TOY / f"{STATS}.ipynb"])
    before = hash_tree(submissions)
    rows = grade(submissions, base / "out", TOY, jobs=2, timeout=TOY_TIMEOUT,
                 scratch=base / "scratch")
    return Graded({(r.student, r.lab): r for r in rows}, submissions, base / "out",
                  base / "scratch", before)


def _row(toy: Graded, student: str, lab: str = STATS) -> Grade:
    return toy.rows[(student, lab)]


def test_every_student_gets_a_row_for_every_lab(toy: Graded) -> None:
    students = sorted(p.name for p in toy.submissions.iterdir())
    assert sorted(toy.rows) == [(s, lab) for s in students for lab in (STATS, WORDS)]
    with (toy.out / "grades.csv").open(encoding="utf-8") as handle:
        table = list(csv.DictReader(handle))
    assert list(table[0]) == ["student", "lab", "score", "max_score", "status", "message"]
    assert len(table) == len(toy.rows)
    assert {r["status"] for r in table} <= set(STATUSES)
    assert all(r["message"] for r in table), "every row says what happened"


@pytest.mark.parametrize(("student", "score", "status", "says"), [
    ("alice", 3, "ok", "all 2 tests passed"),
    ("bob", 3, "error", "ex_high raised ValueError: oops, my bad"),
    ("carol", 2, "timeout", "ex_high ran longer than the time limit"),
    ("dave", 3, "tampered", "test cell test_mean was deleted: restored"),
    ("erin", 1, "tampered", "test cell test_mean was edited: the original was restored"),
    ("frank", 0, "missing", "no 00_toy_stats.ipynb in frank/ (found: 01_toy_words.ipynb, "
                            "lab00 (1).ipynb)"),
    ("grace", 0, "invalid", "invalid JSON at line 1"),
    ("heidi", 0, "empty", "the file is empty (0 bytes)"),
    ("ivan", 0, "empty", "the notebook has no cells"),
    ("judy", 3, "ok", "all 2 tests passed"),
    ("pat", 3, "ok", "all 2 tests passed"),
    ("quinn", 0, "tampered", "cell cheat changes how IPython handles exceptions (set_custom_exc)"
                             ": the tests after it get no points"),
    ("rosa", 0, "tampered", "cell cheat replaces an attribute of reclab.checks"),
    ("sam", 0, "tampered", "cell cheat runs code the grader cannot read (exec)"),
    ("ken", 0, "ok", "not answered: ex_mean, ex_high"),
    ("leo", 1, "ok", "failed test_mean (0/2) AssertionError: hidden: a single rating"),
    ("mia", 0, "error", "the kernel died"),
    ("nick", 3, "ok", "all 2 tests passed"),
    ("olga", 0, "invalid", "lost their nbgrader metadata"),
])
def test_each_case_gets_its_score_status_and_message(
    toy: Graded, student: str, score: float, status: str, says: str
) -> None:
    row = _row(toy, student)
    assert (row.score, row.max_score, row.status) == (score, 3, status), row.message
    assert says in row.message


def test_the_rest_of_the_class_is_graded_normally(toy: Graded) -> None:
    assert _row(toy, "alice", WORDS).status == "ok" and _row(toy, "alice", WORDS).score == 1
    assert _row(toy, "frank", WORDS).status == "ok"
    assert _row(toy, "bob", WORDS).status == "missing"


def test_untouched_lab_fails_every_test_cell_and_nothing_before_the_first_exercise(
    toy: Graded,
) -> None:
    ken = _row(toy, "ken")
    assert ken.cells and all(c.score == 0 for c in ken.cells), ken.cells
    assert ken.early_errors == ()


def test_original_submissions_are_never_modified(toy: Graded) -> None:
    assert hash_tree(toy.submissions) == toy.hashes_before


def test_a_vandal_reaches_neither_other_students_nor_the_repository(toy: Graded) -> None:
    assert _row(toy, "alice").score == 3 and _row(toy, "alice").status == "ok"
    escaped = list(toy.scratch.rglob("escaped.txt"))
    assert all(toy.scratch in p.parents for p in escaped)
    assert not escaped if SANDBOXED else escaped, "sandboxed: the write stays in the sandbox"
    results = list(toy.scratch.rglob("00_toy_stats/metrics.csv"))
    assert results, "the graded notebook wrote its results inside its scratch course"
    assert not (ROOT / "results" / "00_toy_stats").exists()


def test_a_sandboxed_kernel_reads_no_outside_file_and_has_no_network(toy: Graded) -> None:
    assert SANDBOXED, f"grading is not sandboxed here: {sandboxing.bwrap_problem()}"
    graded = next(toy.scratch.rglob(f"autograded/pat/{STATS}/{STATS}.ipynb"))
    spy = next(c for c in nbformat.read(graded, as_version=4).cells if c.get("id") == "spy")
    printed = "".join(o.get("text", "") for o in spy.outputs)
    assert SECRET not in printed and "hidden:" not in printed and "read " not in printed, printed
    assert printed.count("blocked") == 4, printed  # 3 files + the network
    assert "network: blocked" in printed


def test_feedback_is_nbgraders_html_for_every_submitted_file(toy: Graded) -> None:
    alice = (toy.out / "feedback" / "alice" / f"{STATS}.html").read_text(encoding="utf-8")
    assert "Score: 3.0 / 3.0" in alice
    erin = (toy.out / "feedback" / "erin" / f"{STATS}.html").read_text(encoding="utf-8")
    assert "hidden: a single rating" in erin, "feedback shows the restored test cell"
    for (student, lab), row in toy.rows.items():
        page = toy.out / "feedback" / student / f"{lab}.html"
        assert page.is_file() == (row.status != "missing"), (student, lab)
    assert "the file is empty" in (toy.out / "feedback" / "heidi" / f"{STATS}.html").read_text()


def test_wide_and_canvas_tables_have_one_row_per_student(toy: Graded, tmp_path: Path) -> None:
    import pandas as pd

    from reclab.course.gradebook import write_canvas_csv

    wide = pd.read_csv(toy.out / "grades_wide.csv")
    students = sorted(p.name for p in toy.submissions.iterdir())
    assert list(wide.columns) == ["student", STATS, WORDS, "total"]
    assert wide["student"].tolist() == students
    alice = wide.set_index("student").loc["alice"]
    assert (alice[STATS], alice[WORDS], alice["total"]) == (3, 1, 4)
    canvas = pd.read_csv(write_canvas_csv(list(toy.rows.values()), tmp_path / "canvas.csv"))
    assert list(canvas.columns[:5]) == ["Student", "ID", "SIS User ID", "SIS Login ID",
                                        "Section"]
    assert canvas.iloc[0]["Student"].strip() == "Points Possible"
    assert (canvas.iloc[0][STATS], canvas.iloc[0][WORDS]) == (3, 1)
    assert canvas["SIS Login ID"].iloc[1:].tolist() == students


# One student per shard at least (shard_of: alice, bob -> 3; heidi -> 2; leo -> 1), four kinds of
# row (ok, error, empty, missing), four kernels: each shard is a whole grading run of its own.
SHARDED = ["alice", "bob", "heidi", "leo"]


def test_three_shards_merged_equal_one_unsharded_run(toy: Graded, tmp_path: Path) -> None:
    from reclab.course.gradebook import merge

    submissions = tmp_path / "class"
    for student in SHARDED:
        shutil.copytree(toy.submissions / student, submissions / student)
    outs = [tmp_path / f"shard-{i}" for i in (1, 2, 3)]
    sizes = [len(grade(submissions, out, TOY, jobs=1, timeout=TOY_TIMEOUT, shard=(i, 3)))
             for i, out in enumerate(outs, start=1)]
    assert sum(sizes) == 2 * len(SHARDED) and max(sizes) < 2 * len(SHARDED), sizes
    with pytest.raises(GradingError, match="shard\\(s\\) 3/3 missing"):
        merge(outs[:2], tmp_path / "partial")
    with pytest.raises(GradingError, match="given twice"):
        merge([outs[0], outs[0], *outs[1:]], tmp_path / "twice")
    merged = merge(outs, tmp_path / "merged")
    unsharded = sorted((r for r in toy.rows.values() if r.student in SHARDED),
                       key=lambda r: (r.student, r.lab))
    assert [r.row() for r in merged] == [r.row() for r in unsharded]
    for row in merged:
        page = tmp_path / "merged" / "feedback" / row.student / f"{row.lab}.html"
        assert page.is_file() == (row.status != "missing"), row


def test_summary_tables_students_by_labs_and_counts_statuses(toy: Graded) -> None:
    text = summary(list(toy.rows.values()))
    assert text.splitlines()[0].split() == ["student", STATS, WORDS]
    assert "alice    3/3 ok" in text
    assert "missing 18" in text.splitlines()[-1]


def test_cli_grades_and_prints_the_summary(
    tmp_path: Path, toy: Graded, capsys: pytest.CaptureFixture[str]
) -> None:
    submissions = tmp_path / "class"
    (submissions / "alice").mkdir(parents=True)
    source = toy.submissions / "alice" / f"{WORDS}.ipynb"
    (submissions / "alice" / f"{WORDS}.ipynb").write_bytes(source.read_bytes())
    code = cli.main(["grade", str(submissions), "--out", str(tmp_path / "out"),
                     "--solutions", str(TOY), "--timeout", "30"])
    out = capsys.readouterr().out
    assert code == 0
    assert "alice    1/1 ok" in out and "ok 1" in out
    assert (tmp_path / "out" / "grades.csv").read_text().count("\n") == 2


@pytest.mark.parametrize(("layout", "message"), [
    ({}, "no student folders"),
    ({"ann/notes.txt": b"hi"}, "no submission is named after a lab"),
])
def test_a_class_that_cannot_be_graded_says_why(
    tmp_path: Path, layout: dict[str, bytes], message: str
) -> None:
    submissions = tmp_path / "class"
    submissions.mkdir()
    for name, data in layout.items():
        (submissions / name).parent.mkdir(parents=True, exist_ok=True)
        (submissions / name).write_bytes(data)
    with pytest.raises(GradingError, match=message):
        grade(submissions, tmp_path / "out", TOY)


def test_out_inside_submissions_is_refused(tmp_path: Path) -> None:
    (tmp_path / "ann").mkdir()
    with pytest.raises(GradingError, match="outside the submissions"):
        grade(tmp_path, tmp_path / "graded", TOY)


# --------------------------------------------------------------- the real labs ---

def _roundtrip_labs() -> list[str]:
    """``RECLAB_ROUNDTRIP_LABS``: ``all`` (the default) or comma-separated registered labs."""
    wanted = os.environ.get("RECLAB_ROUNDTRIP_LABS", "all").strip().lower()
    if wanted == "all":
        return registry.stems()
    chosen = [lab.strip() for lab in wanted.split(",")]
    unknown = sorted(set(chosen) - set(registry.stems()))
    if unknown:
        raise ValueError(f"RECLAB_ROUNDTRIP_LABS names unregistered labs: {unknown}")
    return [lab for lab in registry.stems() if lab in chosen]


ROUNDTRIP = _roundtrip_labs()


@dataclass
class RealClass:
    rows: dict[tuple[str, str], Grade]
    scratch: Path
    tasks: list[tuple[str, str]]  # grade()'s order: the scratch folder of task i is 000i


@pytest.fixture(scope="module")
def real_class(
    tmp_path_factory: pytest.TempPathFactory, solutions_snapshot: Path,
    generated_labs: dict[str, str],
) -> RealClass:
    """The ROUNDTRIP labs graded untouched and with the solution code, in one class."""
    base = tmp_path_factory.mktemp("real-grading")
    present = [lab for lab in ROUNDTRIP if (solutions_snapshot / f"{lab}.ipynb").is_file()]
    students = ["complete", "untouched"]
    for name in present:
        handed_out = generated_labs[f"{name}.ipynb"]
        lab = nbformat.reads(handed_out, as_version=4)
        solution = nbformat.read(solutions_snapshot / f"{name}.ipynb", as_version=4)
        _write(base / "class", "untouched", f"{name}.ipynb", handed_out.encode())
        _write(base / "class", "complete", f"{name}.ipynb", reference_submission(lab, solution))
    rows = grade(base / "class", base / "out", solutions_snapshot, jobs=2, timeout=600,
                 labs=present, scratch=base / "scratch")
    return RealClass({(r.student, r.lab): r for r in rows}, base / "scratch",
                     [(student, lab) for student in students for lab in sorted(present)])


@pytest.fixture(scope="module")
def real(real_class: RealClass) -> dict[tuple[str, str], Grade]:
    return real_class.rows


def _real_row(real: dict[tuple[str, str], Grade], student: str, lab: str) -> Grade:
    assert (student, lab) in real, f"no solutions/{lab}.ipynb to grade (it is registered)"
    return real[(student, lab)]


@pytest.mark.slow
@pytest.mark.parametrize("lab", ROUNDTRIP)
def test_real_solution_code_runs_every_cell_and_scores_full_marks(
    real: dict[tuple[str, str], Grade], lab: str
) -> None:
    row = _real_row(real, "complete", lab)
    assert row.status == "ok", row.message  # no error in any cell, no timeout, no tampering
    assert row.score == row.max_score > 0, row.message
    assert row.cells and all(c.score == c.max_score for c in row.cells), row.cells
    budget = registry.lab(lab).budget_seconds
    print(f"{lab}: graded in {row.seconds:.0f} s (budget of its cells: {budget} s)")


@pytest.mark.slow
@pytest.mark.parametrize("lab", ROUNDTRIP)
def test_real_untouched_lab_fails_every_test_cell_and_runs_until_the_first_exercise(
    real: dict[tuple[str, str], Grade], lab: str
) -> None:
    row = _real_row(real, "untouched", lab)
    passing = [c.grade_id for c in row.cells if c.score > 0]
    assert row.cells and not passing, f"these test cells pass on the untouched lab: {passing}"
    assert row.early_errors == (), f"errors before the first exercise: {row.early_errors}"
    assert "not answered" in row.message
    print(f"{lab}: untouched graded in {row.seconds:.0f} s")


DETERMINISM_LAB = "01_regression_dot"  # embedding init, shuffling, early stopping
NOT_METRICS = {"notebook", "model", "split", "train_seconds", "predictions"}


@pytest.mark.slow
@pytest.mark.skipif(DETERMINISM_LAB not in ROUNDTRIP, reason=f"{DETERMINISM_LAB} not graded")
def test_a_solution_gives_the_same_metrics_to_4_decimals_when_run_again(
    real_class: RealClass, solutions_snapshot: Path, tmp_path: Path
) -> None:
    """Seeds + op determinism: the graded (sandboxed) run and a plain nbclient run of the same
    solution record the same metrics to 4 decimals (timings excluded). One run, not two, is
    added to make test: the graded run is the first."""
    import pandas as pd
    from nbclient import NotebookClient

    index = real_class.tasks.index(("complete", DETERMINISM_LAB))
    graded = (real_class.scratch / "submissions" / f"{index:04d}" / "kernel" / "results"
              / DETERMINISM_LAB / "metrics.csv")
    assert graded.is_file(), f"the graded run of {DETERMINISM_LAB} recorded no results at {graded}"
    nb = nbformat.read(solutions_snapshot / f"{DETERMINISM_LAB}.ipynb", as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(solutions_snapshot)}}).execute(
        env={**os.environ, "RECLAB_RESULTS": str(tmp_path / "results")})
    again = tmp_path / "results" / DETERMINISM_LAB / "metrics.csv"

    def metrics(path: Path) -> pd.DataFrame:
        table = pd.read_csv(path).set_index("model").sort_index()
        return table.drop(columns=[c for c in table.columns if c in NOT_METRICS])

    first, second = metrics(graded), metrics(again)
    assert not first.empty and list(first.index) == list(second.index)
    pd.testing.assert_frame_equal(first.round(4), second.round(4), check_exact=False, atol=5e-5)
