"""The course's labs, listed once: file stem, checks module, time budget and protocol.

Tests (every registered lab has a solution, every solution is registered, the table in
CONTRIBUTING.md is this one), the grading round trip and the benchmark read this list;
nothing else keeps a copy. A budget is the wall time of the solution notebook's cells on
2 CPU cores, TensorFlow's import included.

Example:
    >>> lab("02_biased_mf").checks, lab("02_biased_mf").budget_seconds
    ('reclab.checks.biased_mf', 120)
    >>> [lab.stem for lab in LABS if lab.protocol == "leave_one_out"][:1]
    ['06_implicit_feedback']
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from reclab.errors import ReclabError

__all__ = ["LABS", "PROTOCOLS", "Lab", "contributing_table", "lab", "stems"]

Protocol = Literal["splits", "u1", "leave_one_out"]

#: What each protocol means (the benchmark and CONTRIBUTING.md quote these).
PROTOCOLS: dict[str, str] = {
    "splits": "random, per-user and chronological splits compared (reclab.splits)",
    "u1": "canonical u1.base / u1.test, RMSE and MAE (reclab.data.load_split('u1'))",
    "leave_one_out": "each user's latest interaction held out; HR@10 and NDCG@10 on 99 sampled "
                     "negatives and on full ranking (reclab.protocols)",
}


@dataclass(frozen=True)
class Lab:
    """One lab: ``solutions/<stem>.ipynb``, its self-checks, its time budget and protocol.

    Example:
        >>> Lab("01_regression_dot", "reclab.checks.regression_dot", 120, "u1").file
        '01_regression_dot.ipynb'
    """

    stem: str
    checks: str
    budget_seconds: int
    protocol: Protocol

    @property
    def file(self) -> str:
        """The notebook's file name (the same in ``solutions/`` and ``labs/``)."""
        return f"{self.stem}.ipynb"

    def solution(self, solutions_dir: Path = Path("solutions")) -> Path:
        """The instructor notebook's path under ``solutions_dir``."""
        return Path(solutions_dir) / self.file


LABS: tuple[Lab, ...] = (
    Lab("00_movielens_tour", "reclab.checks.movielens_tour", 120, "splits"),
    Lab("01_regression_dot", "reclab.checks.regression_dot", 120, "u1"),
    Lab("02_biased_mf", "reclab.checks.biased_mf", 120, "u1"),
    Lab("03_deep_recommender", "reclab.checks.deep_recommender", 120, "u1"),
    Lab("04_embeddings", "reclab.checks.embeddings", 180, "u1"),
    Lab("05_side_information", "reclab.checks.side_information", 180, "u1"),
    Lab("06_implicit_feedback", "reclab.checks.implicit_feedback", 180, "leave_one_out"),
    Lab("07_two_tower_retrieval", "reclab.checks.two_tower_retrieval", 180, "leave_one_out"),
    Lab("08_reproducing_the_record", "reclab.checks.reproducing_the_record", 240, "u1"),
)


def stems() -> list[str]:
    """The registered labs' stems, in course order.

    Example:
        >>> stems()[0]
        '00_movielens_tour'
    """
    return [entry.stem for entry in LABS]


def lab(stem: str) -> Lab:
    """The registered lab called ``stem`` (a file name or path works too).

    Example:
        >>> lab("solutions/04_embeddings.ipynb").budget_seconds
        180
        >>> lab("09_nothing")
        Traceback (most recent call last):
        ...
        reclab.errors.ReclabError: no lab 09_nothing in reclab.course.registry.LABS; ...
    """
    name = Path(stem).stem
    for entry in LABS:
        if entry.stem == name:
            return entry
    raise ReclabError(
        f"no lab {name} in reclab.course.registry.LABS; the labs are {', '.join(stems())} "
        "(add a new lab to that list)"
    )


def contributing_table() -> str:
    """The labs table of CONTRIBUTING.md, as Markdown (a test keeps the two identical).

    Example:
        >>> contributing_table().splitlines()[2]
        '| `00_movielens_tour.ipynb` | `reclab.checks.movielens_tour` | 120 s | splits |'
    """
    lines = [
        "| file | checks module | budget (wall, 2 CPU cores, TF import included) | protocol |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| `{entry.file}` | `{entry.checks}` | {entry.budget_seconds} s | {entry.protocol} |"
        for entry in LABS
    ]
    return "\n".join(lines)
