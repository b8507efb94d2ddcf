"""Fixtures shared by test modules: the real solutions, snapshotted and built into labs once.

``make test`` builds the real labs (one nbgrader run over nine notebooks) once per session:
tests/test_labs.py compares them with the committed labs/, tests/test_grading.py grades them.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from reclab.course.build import generate_labs

SOLUTIONS = Path(__file__).resolve().parents[1] / "solutions"


@pytest.fixture(scope="session")
def solutions_snapshot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of solutions/ taken once, so every test of the session sees the same notebooks."""
    copy = tmp_path_factory.mktemp("snapshot") / "solutions"
    shutil.copytree(SOLUTIONS, copy, ignore=shutil.ignore_patterns(".*"))
    return copy


@pytest.fixture(scope="session")
def generated_labs(solutions_snapshot: Path) -> dict[str, str]:
    """What `reclab labs build` makes from the snapshot (one nbgrader run per session)."""
    return generate_labs(solutions_snapshot)
