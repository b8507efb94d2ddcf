"""Project hygiene: dependency lists agree, notebooks are clean, the README's commands exist."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from reclab.course import registry
from reclab.course.build import NOTEBOOK_METADATA

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = registry.stems()
ALL_NOTEBOOK_FILES = sorted((ROOT / "solutions").glob("*.ipynb")) + sorted(
    (ROOT / "labs").glob("*.ipynb")
)
ALLOWED_CELL_METADATA = {"nbgrader", "tags", "editable", "deletable"}
RANDOM_ID = re.compile(r"^[0-9a-f]{8}$|^[0-9a-f-]{32,36}$")


def _pyproject_requirements() -> list[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return project["dependencies"] + project["optional-dependencies"]["test"]


def _environment_pip_requirements() -> list[str]:
    lines = (ROOT / "environment.yml").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == "- pip:")
    reqs = []
    for line in lines[start + 1 :]:
        match = re.match(r'^\s+-\s+"?([^"]+)"?\s*$', line)
        if not match:
            break
        reqs.append(match.group(1))
    return [r for r in reqs if not r.startswith("-e")]


def test_environment_yml_lists_the_same_dependencies_as_pyproject() -> None:
    assert sorted(_environment_pip_requirements()) == sorted(_pyproject_requirements())


def test_environment_yml_installs_the_project_and_pins_python_311() -> None:
    text = (ROOT / "environment.yml").read_text()
    assert "python=3.11" in text
    assert '"-e ."' in text


def test_every_notebook_of_the_sequence_exists_in_solutions_and_labs() -> None:
    for folder in ("solutions", "labs"):
        found = sorted(p.stem for p in (ROOT / folder).glob("*.ipynb"))
        assert found == NOTEBOOKS, f"{folder}/ holds {found}"


@pytest.mark.parametrize("path", ALL_NOTEBOOK_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_committed_notebooks_are_clean(path: Path) -> None:
    nb = json.loads(path.read_text())
    assert nb["nbformat"] == 4 and nb["nbformat_minor"] >= 5, "use nbformat 4.5 (cell ids)"
    # exactly what JupyterLab writes on save, so opening a notebook creates no diff
    assert nb["metadata"] == NOTEBOOK_METADATA, "run `reclab labs build` (it normalises metadata)"
    ids = [cell["id"] for cell in nb["cells"]]
    assert len(ids) == len(set(ids)), "cell ids must be unique"
    for cell in nb["cells"]:
        assert not RANDOM_ID.match(cell["id"]), f"cell id {cell['id']!r} looks random"
        assert set(cell.get("metadata", {})) <= ALLOWED_CELL_METADATA, cell["metadata"]
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [], f"cell {cell['id']} has outputs"
            assert cell["execution_count"] is None, f"cell {cell['id']} has an execution count"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_solution_notebooks_have_goals_and_going_further(name: str) -> None:
    nb = json.loads((ROOT / "solutions" / f"{name}.ipynb").read_text())
    markdown = "\n".join(
        "".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown"
    )
    first = "".join(nb["cells"][0]["source"])
    assert nb["cells"][0]["cell_type"] == "markdown" and first.startswith("# ")
    assert re.search(r"learning goals", markdown, re.IGNORECASE)
    assert re.search(r"going further", markdown, re.IGNORECASE)
    assert "sys.path" not in json.dumps(nb), "notebooks import reclab, never sys.path hacks"


def test_ci_runs_make_test_then_the_browser_test() -> None:
    commands = [
        line.strip()
        for line in (ROOT / ".ci" / "run").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith(("#", "set ", "cd "))
    ]
    assert commands == ["make test", "make test-ui"]
    readme = " ".join((ROOT / "README.md").read_text().split())
    assert "`.ci/run`, on a fresh clone) runs `make test` and then `make test-ui`" in readme


def test_make_test_ui_has_a_time_limit_and_installs_chromium() -> None:
    makefile = (ROOT / "Makefile").read_text()
    recipe = makefile.split("\ntest-ui:", 1)[1].split("\n\n", 1)[0]
    assert "timeout" in recipe and "$(UI_LIMIT)" in recipe, "the browser test needs a hard limit"
    assert "apt-get install" in recipe and "chromium" in recipe
    assert "cannot be installed here" in recipe, "say what to do when chromium can't be installed"


def test_readme_shows_the_two_commands_and_every_lab() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "make lab" in readme and "make test" in readme
    for name in NOTEBOOKS:
        assert name in readme, f"README's table of labs lacks {name}"
    assert "licen" in readme.lower(), "README must carry the data licence note"


@pytest.mark.parametrize(
    "args", [[], ["data"], ["data", "fetch"], ["labs", "build"], ["grade"], ["bench"]]
)
def test_cli_help_everywhere(args: list[str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "reclab.cli", *args, "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "usage: reclab" in result.stdout
