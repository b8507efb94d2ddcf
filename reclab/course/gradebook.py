"""The gradebook: grade rows, their CSV files (long, wide, Canvas), the summary, and shards.

``reclab grade`` (:mod:`reclab.course.grading`) makes the rows; this module writes and reads
them, and merges the output folders of ``--shard i/n`` runs (``reclab grade merge``).

Example:
    >>> rows = [Grade("ann", "00_tour", 3, 3, "ok", "all 2 tests passed")]
    >>> wide_table(rows).to_dict("records")
    [{'student': 'ann', '00_tour': 3.0, 'total': 3.0}]
"""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from reclab.errors import ReclabError

__all__ = [
    "CSV_COLUMNS",
    "SHARD_FILE",
    "STATUSES",
    "CellGrade",
    "Grade",
    "GradingError",
    "merge",
    "read_grades_csv",
    "shard_of",
    "summary",
    "wide_table",
    "write_canvas_csv",
    "write_grades_csv",
    "write_wide_csv",
]

STATUSES = ("ok", "tampered", "error", "timeout", "missing", "empty", "invalid")
CSV_COLUMNS = ("student", "lab", "score", "max_score", "status", "message")
SHARD_FILE = "shard.json"


class GradingError(ReclabError):
    """The class cannot be graded at all (bad folders, no labs); one student's problem never
    raises this: it becomes that student's status."""


@dataclass(frozen=True)
class CellGrade:
    """The score of one graded cell and the error it raised (``""`` if none)."""

    grade_id: str
    score: float
    max_score: float
    error: str = ""


@dataclass(frozen=True)
class Grade:
    """One row of ``grades.csv``: a student's lab, its score, status and plain message.

    Example:
        >>> g = Grade("ann", "00_tour", 3.0, 3.0, "ok", "all 2 tests passed")
        >>> g.row()
        {'student': 'ann', 'lab': '00_tour', 'score': '3', 'max_score': '3', 'status': 'ok', \
'message': 'all 2 tests passed'}
    """

    student: str
    lab: str
    score: float
    max_score: float
    status: str
    message: str
    cells: tuple[CellGrade, ...] = field(default=(), compare=False)
    #: cells that raised before the first exercise cell ("setup raised ImportError")
    early_errors: tuple[str, ...] = field(default=(), compare=False)
    #: wall-clock seconds spent grading it
    seconds: float = field(default=0.0, compare=False)

    def row(self) -> dict[str, str]:
        """The CSV row."""
        return {
            "student": self.student, "lab": self.lab, "score": _num(self.score),
            "max_score": _num(self.max_score), "status": self.status, "message": self.message,
        }


def _num(value: float) -> str:
    """``3.0`` → ``'3'``, ``2.5`` → ``'2.5'``."""
    return f"{round(float(value), 2):g}"


def shard_of(student: str, count: int) -> int:
    """The shard (1..count) that grades ``student``: a hash of the folder name, so a shard's
    students do not change when others are added or removed.

    Example:
        >>> [shard_of(s, 3) for s in ("ann", "bob", "cy")]
        [3, 3, 1]
    """
    digest = hashlib.sha256(student.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % count + 1


def read_grades_csv(path: Path) -> list[Grade]:
    """The rows of a ``grades.csv`` written by :func:`write_grades_csv`."""
    with Path(path).open(newline="", encoding="utf-8") as handle:
        return [Grade(r["student"], r["lab"], float(r["score"]), float(r["max_score"]),
                      r["status"], r["message"]) for r in csv.DictReader(handle)]


def merge(shards: Sequence[Path], out: Path, *, canvas: bool = False) -> list[Grade]:
    """Combine the output folders of ``reclab grade --shard i/n`` runs into one gradebook.

    Refuses shards of different ``n``, the same shard twice, a student graded in two
    shards, and names the shards that are missing. Feedback pages are copied over.

    Example:
        >>> merge([Path("graded-1"), Path("graded-2")], Path("graded"))  # doctest: +SKIP
    """
    infos = []
    for folder in shards:
        info_file = Path(folder) / SHARD_FILE
        if not info_file.is_file():
            raise GradingError(f"{folder} is not the output of `reclab grade --shard i/n` "
                               f"(no {SHARD_FILE})")
        infos.append((Path(folder), json.loads(info_file.read_text(encoding="utf-8"))))
    counts = {info["of"] for _, info in infos}
    if len(counts) != 1:
        raise GradingError(f"the shards were cut differently (n = {sorted(counts)})")
    count = counts.pop()
    seen: dict[int, Path] = {}
    owner: dict[str, Path] = {}
    for folder, info in infos:
        if info["shard"] in seen:
            raise GradingError(f"shard {info['shard']}/{count} is given twice: "
                               f"{seen[info['shard']]} and {folder}")
        seen[info["shard"]] = folder
        for student in info["students"]:
            if student in owner:
                raise GradingError(f"{student} was graded in two shards: {owner[student]} "
                                   f"and {folder}")
            owner[student] = folder
    missing = sorted(set(range(1, count + 1)) - set(seen))
    if missing:
        raise GradingError(f"shard(s) {', '.join(f'{i}/{count}' for i in missing)} missing: "
                           "grade them (reclab grade --shard i/n) and merge again")
    rows = sorted((row for folder, _ in infos for row in read_grades_csv(folder / "grades.csv")),
                  key=lambda r: (r.student, r.lab))
    out = Path(out)
    for folder, _ in infos:
        if (folder / "feedback").is_dir():
            shutil.copytree(folder / "feedback", out / "feedback", dirs_exist_ok=True)
    write_grades_csv(rows, out / "grades.csv")
    write_wide_csv(rows, out / "grades_wide.csv")
    if canvas:
        write_canvas_csv(rows, out / "canvas.csv")
    return rows


def write_grades_csv(rows: Sequence[Grade], path: Path) -> Path:
    """Write ``grades.csv`` (``student, lab, score, max_score, status, message``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow(row.row())
    return path


def wide_table(rows: Sequence[Grade]) -> pd.DataFrame:
    """One row per student, one column per lab (its score), and the total; labs sorted.

    Example:
        >>> wide_table([Grade("ann", "00_a", 3, 3, "ok", ""), Grade("ann", "01_b", 1, 2, "ok", ""),
        ...             Grade("bob", "00_a", 0, 3, "missing", "")]).to_dict("records")
        [{'student': 'ann', '00_a': 3.0, '01_b': 1.0, 'total': 4.0}, \
{'student': 'bob', '00_a': 0.0, '01_b': 0.0, 'total': 0.0}]
    """
    long = pd.DataFrame([{"student": r.student, "lab": r.lab, "score": float(r.score)}
                         for r in rows], columns=["student", "lab", "score"])
    wide = long.pivot_table(index="student", columns="lab", values="score", aggfunc="sum",
                            fill_value=0.0)
    wide.columns.name = None
    wide = wide.assign(total=wide.sum(axis=1))
    return wide.reset_index()


def write_wide_csv(rows: Sequence[Grade], path: Path) -> Path:
    """Write ``grades_wide.csv``: student, one score column per lab, total."""
    path.parent.mkdir(parents=True, exist_ok=True)
    wide_table(rows).to_csv(path, index=False, float_format="%g")
    return path


def write_canvas_csv(rows: Sequence[Grade], path: Path) -> Path:
    """Write a Canvas gradebook import file: ``Student, ID, SIS User ID, SIS Login ID,
    Section``, one column per lab, a ``Points Possible`` row first; the student's folder
    name goes in ``SIS Login ID`` (Canvas matches on it) and ``Student``.
    """
    wide = wide_table(rows)
    labs = [c for c in wide.columns if c not in ("student", "total")]
    max_score = {r.lab: float(r.max_score) for r in rows}
    table = pd.DataFrame({"Student": wide["student"], "ID": "", "SIS User ID": "",
                          "SIS Login ID": wide["student"], "Section": "",
                          **{lab: wide[lab] for lab in labs}})
    possible = pd.DataFrame([{"Student": "    Points Possible", "ID": "", "SIS User ID": "",
                              "SIS Login ID": "", "Section": "",
                              **{lab: max_score[lab] for lab in labs}}])
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.concat([possible, table], ignore_index=True).to_csv(path, index=False, float_format="%g")
    return path


def summary(rows: Sequence[Grade]) -> str:
    """A students × labs table of ``score/max status`` and the count of each status.

    Example:
        >>> print(summary([Grade("ann", "00_tour", 3, 3, "ok", ""),
        ...                Grade("bob", "00_tour", 0, 3, "missing", "")]))
        student  00_tour
        ann      3/3 ok
        bob      0/3 missing
        <BLANKLINE>
        ok 1 · missing 1
    """
    labs = sorted({r.lab for r in rows})
    students = sorted({r.student for r in rows})
    cell = {(r.student, r.lab): f"{_num(r.score)}/{_num(r.max_score)} {r.status}" for r in rows}
    table = [["student", *labs]] + [
        [s, *(cell.get((s, lab), "-") for lab in labs)] for s in students
    ]
    widths = [max(len(line[i]) for line in table) for i in range(len(table[0]))]
    lines = ["  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip()
             for line in table]
    counts = Counter(r.status for r in rows)
    lines += ["", " · ".join(f"{s} {counts[s]}" for s in STATUSES if counts[s])]
    return "\n".join(lines)
