"""labs/ is exactly what nbgrader makes from solutions/, and gives nothing away.

The build logic is tested on a toy course (tests/fixtures/toy_course: two tiny notebooks
with every kind of nbgrader markup); the committed labs are checked against the real
solutions. Executing the labs (an untouched lab fails every test cell and raises nothing
before its first exercise) is done once, by the grading round trip in test_grading.py.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nbformat
import pytest

from reclab import cli
from reclab.course import registry
from reclab.course.build import (
    BEGIN_HIDDEN,
    BEGIN_SOLUTION,
    END_HIDDEN,
    END_SOLUTION,
    MARKERS,
    LabsError,
    build_labs,
    generate_labs,
    reference_submission,
    solution_notebooks,
    validate_solution,
)
from reclab.course.driver import CODE_STUB

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS, LABS = ROOT / "solutions", ROOT / "labs"
TOY = Path(__file__).resolve().parent / "fixtures" / "toy_course" / "solutions"
REAL = solution_notebooks(SOLUTIONS)


def _nbgrader(cell: dict) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def _region_lines(source: str, begin: str, end: str) -> tuple[list[str], list[str]]:
    """(lines inside begin/end regions, lines outside), stripped."""
    inside, outside, depth = [], [], False
    for line in source.splitlines():
        if begin in line:
            depth = True
        elif end in line:
            depth = False
        else:
            (inside if depth else outside).append(line.strip())
    return inside, outside


def secret_lines(solution: nbformat.NotebookNode) -> set[str]:
    """Lines of solution code and hidden tests that appear nowhere else in the notebook."""
    secret, public = set(), set()
    for cell in solution.cells:
        for begin, end in ((BEGIN_SOLUTION, END_SOLUTION), (BEGIN_HIDDEN, END_HIDDEN)):
            inside, outside = _region_lines(cell.source, begin, end)
            secret.update(line for line in inside if len(line) >= 8 and line != "pass")
            public.update(outside)
    return secret - public


def lab_lines(lab: nbformat.NotebookNode) -> set[str]:
    return {line.strip() for cell in lab.cells for line in cell.source.splitlines()}


# --------------------------------------------------------------------- toy course ---


@pytest.fixture(scope="module")
def toy_labs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The toy course's labs, built once with `reclab labs build`."""
    labs_dir = tmp_path_factory.mktemp("toy") / "labs"
    assert cli.main(["labs", "build", "--solutions", str(TOY), "--labs", str(labs_dir)]) == 0
    return labs_dir


def test_toy_build_is_byte_for_byte_deterministic(toy_labs: Path, tmp_path: Path) -> None:
    again = generate_labs(TOY, scratch=tmp_path / "elsewhere")
    assert sorted(again) == sorted(p.name for p in toy_labs.glob("*.ipynb"))
    for name, text in again.items():
        assert (toy_labs / name).read_bytes() == text.encode("utf-8"), name
    assert str(tmp_path) not in "".join(again.values()), "a scratch path leaked into a lab"


def test_toy_lab_has_stubs_no_solutions_no_hidden_tests(toy_labs: Path) -> None:
    for solution_path in solution_notebooks(TOY):
        solution = nbformat.read(solution_path, as_version=4)
        text = (toy_labs / solution_path.name).read_text(encoding="utf-8")
        lab = nbformat.reads(text, as_version=4)
        assert not [m for m in MARKERS if m in text]
        assert not secret_lines(solution) & lab_lines(lab)
        assert [c.id for c in lab.cells] == [c.id for c in solution.cells], "cell ids kept"
        for cell in lab.cells:
            meta = _nbgrader(cell)
            if meta:
                assert meta["checksum"], f"{cell.id}: nbgrader checksum missing"
            if meta.get("solution"):
                assert CODE_STUB in cell.source
                assert "# Hint:" in cell.source, "the hint outside the region stays"
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None
        assert set(json.loads(text)["metadata"]) == {"kernelspec", "language_info"}


def test_toy_stub_is_one_line_inside_the_function(toy_labs: Path) -> None:
    lab = nbformat.read(toy_labs / "00_toy_stats.ipynb", as_version=4)
    exercise = next(c for c in lab.cells if _nbgrader(c).get("grade_id") == "ex_mean")
    assert exercise.source.splitlines()[-1] == f"    {CODE_STUB}"
    assert exercise.source.startswith("def mean_rating(values):")


def test_check_names_what_differs_and_build_repairs_it(
    toy_labs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    solutions, labs_dir = tmp_path / "solutions", tmp_path / "labs"
    shutil.copytree(TOY, solutions)
    shutil.copytree(toy_labs, labs_dir)
    touched = solutions / "00_toy_stats.ipynb"
    nb = nbformat.read(touched, as_version=4)
    nb.cells[0].source += "\nOne more sentence."
    nbformat.write(nb, touched)
    (labs_dir / "01_toy_words.ipynb").unlink()
    (labs_dir / "99_notes.ipynb").write_text("{}", encoding="utf-8")  # not a generated lab
    removed = labs_dir / "02_removed_lab.ipynb"  # a generated lab whose solution is gone
    shutil.copyfile(toy_labs / "01_toy_words.ipynb", removed)
    before = {p.name: p.read_bytes() for p in labs_dir.iterdir()}

    args = ["labs", "build", "--check", "--solutions", str(solutions), "--labs", str(labs_dir)]
    assert cli.main(args) == 1
    out = capsys.readouterr().out
    assert f"{labs_dir / '00_toy_stats.ipynb'} differs" in out
    assert f"{labs_dir / '01_toy_words.ipynb'} is missing" in out
    assert f"{labs_dir / '02_removed_lab.ipynb'} is extra" in out
    assert f"{labs_dir / '99_notes.ipynb'} is extra" in out
    assert len([line for line in out.splitlines() if ".ipynb" in line]) == 4, (
        "exactly the touched, missing and extra notebooks are named")
    assert {p.name: p.read_bytes() for p in labs_dir.iterdir()} == before, "--check wrote"

    changed = build_labs(solutions, labs_dir)
    assert sorted(p.name for p in changed) == [
        "00_toy_stats.ipynb", "01_toy_words.ipynb", "02_removed_lab.ipynb"]
    assert not removed.exists(), "a generated lab without a solution is removed"
    assert (labs_dir / "99_notes.ipynb").exists(), "a file reclab did not make is kept"
    restored = (labs_dir / "01_toy_words.ipynb").read_bytes()
    assert restored == (toy_labs / "01_toy_words.ipynb").read_bytes()


def _notebook(cells: list[nbformat.NotebookNode]) -> nbformat.NotebookNode:
    return nbformat.v4.new_notebook(cells=cells, metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"}})


def _cell(cell_id: str, source: str, **nbgrader: object) -> nbformat.NotebookNode:
    meta = {"nbgrader": {"schema_version": 3, **nbgrader}} if nbgrader else {}
    return nbformat.v4.new_code_cell(source, id=cell_id, metadata=meta)


EXERCISE = dict(grade=False, solution=True, locked=False)
TEST = dict(grade=True, solution=False, locked=True)
GOOD_EX = "# Hint: one line\n### BEGIN SOLUTION\nx = 1\n### END SOLUTION"


@pytest.mark.parametrize(("cells", "expected", "fatal"), [
    ([_cell("ex-a", GOOD_EX, grade_id="ex_a", **EXERCISE),
      _cell("test-a", "assert x", grade_id="ex_a", points=1, **TEST)],
     "grade_id 'ex_a' is used twice", True),
    ([_cell("ex-a", GOOD_EX, grade_id="ex_a", **EXERCISE),
      _cell("test-a", "assert x", grade_id="test_a", **TEST)],
     "needs positive points", True),
    ([_cell("ex-a", GOOD_EX, grade_id="ex_a", **EXERCISE),
      _cell("plain", "y = 2"),
      _cell("test-a", "assert x", grade_id="test_a", points=1, **TEST)],
     "no graded test cell right below it", False),
    ([_cell("ex-a", "### BEGIN SOLUTION\nx = 1", grade_id="ex_a", **EXERCISE),
      _cell("test-a", "assert x", grade_id="test_a", points=1, **TEST)],
     "unbalanced solution markers", True),
    ([_cell("plain", "### BEGIN HIDDEN TESTS\nassert 1\n### END HIDDEN TESTS"),
      _cell("test-a", "assert 1", grade_id="test_a", points=1, **TEST)],
     "hidden-test markers in a cell that is not a graded cell", True),
    ([_cell("ex-a", "### BEGIN SOLUTION\nx = 1\n### END SOLUTION", grade_id="ex_a", **EXERCISE),
      _cell("test-a", "assert x", grade_id="test_a", points=1, **TEST)],
     "'# Hint:' comment", False),
    ([_cell("Ex_A", GOOD_EX, grade_id="ex_a", **EXERCISE),
      _cell("test-a", "assert x", grade_id="test_a", points=1, **TEST)],
     "readable slug", False),
    ([_cell("plain", "x = 1")], "has no graded cell", True),
])
def test_validate_solution_names_each_problem(
    tmp_path: Path, cells: list[nbformat.NotebookNode], expected: str, fatal: bool
) -> None:
    path = tmp_path / "50_broken.ipynb"
    nbformat.write(_notebook(cells), path)
    problems = validate_solution(path)
    assert [p for p in problems if expected in p.message], [str(p) for p in problems]
    assert any(p.fatal for p in problems) == fatal
    if fatal:
        with pytest.raises(LabsError, match=r"50_broken\.ipynb"):
            generate_labs(tmp_path)


def test_the_toy_course_itself_is_valid() -> None:
    for path in solution_notebooks(TOY):
        assert validate_solution(path) == [], path.name


def test_reference_submission_fills_every_stub(toy_labs: Path) -> None:
    lab = nbformat.read(toy_labs / "00_toy_stats.ipynb", as_version=4)
    solution = nbformat.read(TOY / "00_toy_stats.ipynb", as_version=4)
    filled = reference_submission(lab, solution)
    text = "\n".join(c.source for c in filled.cells)
    assert CODE_STUB not in text and not [m for m in MARKERS if m in text]
    assert "return float(sum(values)) / len(values)" in text
    assert "hidden:" not in text, "test cells stay without their hidden tests"


# ------------------------------------------------------------------ the registry ---


def test_every_registered_lab_has_its_solution_and_checks_module() -> None:
    missing = [lab.file for lab in registry.LABS if not lab.solution(SOLUTIONS).is_file()]
    assert not missing, (f"registered in reclab/course/registry.py but not in solutions/: "
                         f"{missing} (add the notebook, or take the entry out of LABS)")
    for lab in registry.LABS:
        module = ROOT.joinpath(*lab.checks.split(".")).with_suffix(".py")
        assert module.is_file(), f"{lab.stem}: no checks module {lab.checks} ({module})"
        source = lab.solution(SOLUTIONS).read_text(encoding="utf-8")
        assert f"from {lab.checks} import" in source, f"{lab.file} does not use {lab.checks}"
        assert lab.budget_seconds > 0 and lab.protocol in registry.PROTOCOLS


def test_every_solution_is_registered() -> None:
    unregistered = sorted(p.stem for p in REAL if p.stem not in registry.stems())
    assert not unregistered, f"add {unregistered} to LABS in reclab/course/registry.py"
    assert registry.stems() == sorted(registry.stems()), "LABS is in course order"


def test_contributing_md_table_is_the_registry() -> None:
    text = (ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8")
    assert registry.contributing_table() in text, (
        "the labs table of CONTRIBUTING.md differs from reclab/course/registry.py: paste "
        "`reclab.course.registry.contributing_table()` over it")


# ------------------------------------------------------------ the real solutions ---

needs_solutions = pytest.mark.skipif(not REAL, reason="no solution notebooks yet")


@needs_solutions
def test_committed_labs_are_what_the_build_makes(generated_labs: dict[str, str]) -> None:
    committed = sorted(p.name for p in LABS.glob("*.ipynb"))
    assert committed == sorted(generated_labs), "run `reclab labs build`"
    stale = [n for n, text in generated_labs.items()
             if (LABS / n).read_bytes() != text.encode("utf-8")]
    assert not stale, f"out of date: {stale}; run `reclab labs build`"


@needs_solutions
@pytest.mark.parametrize("path", REAL, ids=lambda p: p.stem)
def test_solution_notebook_follows_the_nbgrader_conventions(path: Path) -> None:
    assert [str(p) for p in validate_solution(path)] == []


@needs_solutions
@pytest.mark.parametrize("path", REAL, ids=lambda p: p.stem)
def test_lab_gives_nothing_away(
    path: Path, solutions_snapshot: Path, generated_labs: dict[str, str]
) -> None:
    solution = nbformat.read(solutions_snapshot / path.name, as_version=4)
    text = generated_labs[path.name]
    lab = nbformat.reads(text, as_version=4)
    assert not [m for m in MARKERS if m in text], "nbgrader markers left in the lab"
    leaked = secret_lines(solution) & lab_lines(lab)
    assert not leaked, f"solution or hidden-test lines in the lab: {sorted(leaked)[:5]}"
    assert [c.id for c in lab.cells] == [c.id for c in solution.cells], "cell ids kept"
    exercises = [c for c in lab.cells if _nbgrader(c).get("solution")]
    assert exercises and all(CODE_STUB in c.source for c in exercises)
    graded = [c for c in lab.cells if _nbgrader(c).get("grade")]
    assert graded and all(_nbgrader(c).get("checksum") for c in graded)
