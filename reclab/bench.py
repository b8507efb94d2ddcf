"""The benchmark behind ``make bench``: the labs' models against the libraries a user would pick.

``reclab bench`` (``run_cli``) does, in one run:

1. executes every ``solutions/*.ipynb`` with nbclient (cwd ``solutions/``), timing each one;
   the notebooks record their models into ``results/<notebook>/`` (``reclab.results``);
2. collects every recorded model and **rescores** each explicit model's u1 predictions
   against ``u1.test`` (every test row must have exactly one prediction), rather than trusting
   the notebook's ``metrics.csv``; implicit models (split ``"loo"``) are taken as recorded;
3. fits the peers on the very same splits: Surprise BaselineOnly, SVD, SVD++ and KNNBaseline
   on u1, and ``implicit`` ALS, BPR and popularity on leave-one-out (:data:`LOO_PROTOCOL`);
   their predictions go to ``results/peers/`` so anyone can rescore them;
4. writes ``results.md``, ``results.json`` and ``results.png`` into the output folder.

Everything between "fit" and "write" is a pure function of plain data (``ModelResult``,
``NotebookRun``, ``Environment``): :func:`rescore_predictions`, :func:`collect_notebook_results`,
:func:`explicit_table`, :func:`implicit_table`, :func:`ranking_metrics`,
:func:`render_markdown`, :func:`report_to_json` and :func:`plot_report` are tested on small
synthetic inputs; the peer-fitting functions are thin wrappers around the libraries.

Example:
    >>> import pandas as pd
    >>> truth = pd.DataFrame({"user_id": [1, 1], "item_id": [10, 20], "rating": [4, 2]})
    >>> preds = pd.DataFrame({"user_id": [1, 1], "item_id": [20, 10], "prediction": [3.0, 4.0]})
    >>> rescore_predictions(preds, truth)
    {'rmse': 0.7071067811865476, 'mae': 0.5}
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib
import json
import math
import os
import platform
import re
import shutil
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from reclab import metrics as rm
from reclab.encoding import IdEncoder
from reclab.errors import ReclabError
from reclab.sampling import Candidates, evaluation_candidates
from reclab.splits import leave_one_out

__all__ = [
    "CANDIDATE_SEED",
    "IMPLICIT_HEADLINE",
    "IMPLICIT_KEYS",
    "LOO_CAVEAT",
    "LOO_PROTOCOL",
    "NOTEBOOK_BUDGETS",
    "PEER_SEED",
    "PUBLISHED_U1",
    "BenchError",
    "BenchReport",
    "Environment",
    "LooData",
    "ModelResult",
    "NotebookRun",
    "PeerFit",
    "PublishedResult",
    "RankingFit",
    "check_peers_installed",
    "check_protocol_agreement",
    "collect_notebook_results",
    "cpu_model",
    "environment_info",
    "execute_notebooks",
    "explicit_table",
    "fit_implicit_peers",
    "fit_surprise_peers",
    "implicit_table",
    "plot_report",
    "popularity_scores",
    "prepare_loo",
    "protocol_twins",
    "ranking_metrics",
    "render_markdown",
    "report_to_json",
    "rescore_predictions",
    "run_bench",
    "run_cli",
    "run_peers",
    "save_ranking_predictions",
    "solution_notebooks",
    "write_report",
]

# --------------------------------------------------------------------------------------------
# constants

U1 = "u1"
LOO = "loo"
PEERS_FOLDER = "peers"
K = 10
#: Metric keys of an implicit model, as notebook 06 records them (split ``"loo"``).
IMPLICIT_KEYS: tuple[str, ...] = (
    "hr@10_sampled",
    "ndcg@10_sampled",
    "hr@10_full",
    "ndcg@10_full",
    "coverage@10",
)
#: The implicit metrics that get a "ratio to the best peer" column.
IMPLICIT_HEADLINE: tuple[str, ...] = IMPLICIT_KEYS[:4]
#: Seed of the 99 sampled negatives per test user; notebook 06 uses the same one.
CANDIDATE_SEED = 42
#: Seed of the peers' own randomness (Surprise SVD/SVD++, implicit ALS/BPR).
PEER_SEED = 42
N_NEGATIVES = 99
LOO_PROTOCOL = (
    "leave-one-out by latest timestamp (reclab.splits.leave_one_out: timestamp ties go to the "
    "row further down u.data), all 100,000 ratings as interactions, ids encoded on all "
    f"ratings; sampled: the held-out item + {N_NEGATIVES} distinct negatives the user never "
    f"rated (reclab.splits.evaluation_candidates, seed {CANDIDATE_SEED}); full: every item not "
    "in the user's training interactions; k = 10, pessimistic ties (reclab.metrics); "
    "coverage@10 = share of the 1,682 items in at least one full-ranking top-10 list"
)
LOO_CAVEAT = (
    "Compare implicit numbers only within this protocol: 415 of the 943 users rated several "
    "movies at their latest timestamp, and which one is held out matters (holding out the "
    "highest item id instead moves popularity from about "
    "0.41 to 0.31–0.33 sampled HR@10 and from 0.086 to 0.050 full HR@10); another seed for "
    "the 99 negatives moves sampled HR@10 by about ±0.01 (full ranking does not depend on it)"
)
EXPLICIT_PROTOCOL = (
    "canonical u1: train on u1.base (80,000 ratings), test on u1.test (20,000); RMSE/MAE "
    "rescored here from each model's prediction file (reclab.metrics), every test row required"
)
#: Wall-time budget per solution notebook in seconds (mirrors the table in CONTRIBUTING.md).
NOTEBOOK_BUDGETS: dict[str, float] = {
    "00_movielens_tour": 120,
    "01_regression_dot": 120,
    "02_biased_mf": 120,
    "03_deep_recommender": 120,
    "04_embeddings": 180,
    "05_side_information": 180,
    "06_implicit_feedback": 180,
}
#: |recorded − rescored| RMSE/MAE above this is reported as a problem.
RESCORE_TOLERANCE = 5e-4
NOTEBOOK_TIMEOUT = 900  # seconds per cell
VERSIONED_PACKAGES = (
    "tensorflow",
    "keras",
    "scikit-surprise",
    "implicit",
    "numpy",
    "pandas",
    "scipy",
    "reclab",
)


@dataclass(frozen=True)
class PublishedResult:
    """A published u1 RMSE, shown for context only (never rerun here)."""

    model: str
    rmse: float
    reference: str
    note: str = ""


#: The RMSE axis of results.png ends here (worse models' bars are cut and labelled).
RMSE_AXIS_CAP = 1.0

PUBLISHED_U1: tuple[PublishedResult, ...] = (
    PublishedResult("GC-MC", 0.910, "van den Berg, Kipf & Welling 2017",
                    "0.905 with side features"),
    PublishedResult("IGMC", 0.905, "Zhang & Chen, ICLR 2020"),
    PublishedResult("Sparse FC", 0.895, "Muller et al., ICML 2018"),
    PublishedResult("GLocal-K", 0.889, "Han et al., CIKM 2021"),
)


class BenchError(ReclabError):
    """The benchmark cannot go on (missing peers, missing or malformed results)."""


# --------------------------------------------------------------------------------------------
# plain data


@dataclass(frozen=True)
class ModelResult:
    """One model's numbers on one split.

    ``kind`` is ``"notebook"`` (source = the notebook's name) or ``"peer"`` (source = the
    library and its version). ``metrics`` holds ``rmse``/``mae`` for split ``"u1"`` and
    :data:`IMPLICIT_KEYS` for ``"loo"``; ``rescored`` says whether they were computed here.

    Example:
        >>> r = ModelResult("SVD", "Surprise 1.1.5", "peer", "u1", {"rmse": 0.95, "mae": 0.75})
        >>> r.kind, r.metrics["rmse"], r.rescored
        ('peer', 0.95, True)
    """

    model: str
    source: str
    kind: Literal["notebook", "peer"]
    split: str
    metrics: dict[str, float]
    train_seconds: float | None = None
    rescored: bool = True


@dataclass(frozen=True)
class NotebookRun:
    """How one solution notebook ran: wall time (None when not run) and a status line.

    Example:
        >>> NotebookRun("02_biased_mf", 61.2, "ok").within_budget
        True
    """

    notebook: str
    wall_seconds: float | None
    status: str

    @property
    def budget_seconds(self) -> float | None:
        """The notebook's budget from CONTRIBUTING.md, or None if it has none."""
        return NOTEBOOK_BUDGETS.get(self.notebook)

    @property
    def within_budget(self) -> bool | None:
        """True/False when both the wall time and the budget are known, else None."""
        if self.wall_seconds is None or self.budget_seconds is None:
            return None
        return self.wall_seconds <= self.budget_seconds


@dataclass(frozen=True)
class Environment:
    """Where and when the benchmark ran.

    Example:
        >>> Environment("2025-01-01 12:00 UTC", "AMD EPYC", 2, "3.11.9", {"numpy": "2.4.6"}).cores
        2
    """

    date: str
    cpu: str
    cores: int
    python: str
    versions: dict[str, str]
    #: 1-minute load average when the run started (timings are pessimistic when it is high)
    load_average: float | None = None


@dataclass
class BenchReport:
    """Everything the output files are rendered from."""

    environment: Environment
    results: list[ModelResult]
    notebooks: list[NotebookRun]
    problems: list[str] = field(default_factory=list)
    skipped_notebooks: bool = False

    def on_split(self, split: str) -> list[ModelResult]:
        """The results on one split (``"u1"`` or ``"loo"``)."""
        return [r for r in self.results if r.split == split]


# --------------------------------------------------------------------------------------------
# rescoring and collecting


def _preview_pairs(frame: pd.DataFrame, limit: int = 3) -> str:
    pairs = [f"({u}, {i})" for u, i in frame[["user_id", "item_id"]].head(limit).to_numpy()]
    return ", ".join(pairs) + (", …" if len(frame) > limit else "")


def rescore_predictions(
    predictions: pd.DataFrame, truth: pd.DataFrame, *, label: str = "predictions"
) -> dict[str, float]:
    """RMSE and MAE of ``predictions`` against ``truth``, requiring one prediction per test row.

    ``predictions`` has ``user_id, item_id, prediction``; ``truth`` has ``user_id, item_id,
    rating`` (e.g. u1.test). Rows are matched on ``(user_id, item_id)`` whatever their order.
    Raises :class:`BenchError` naming ``label`` when a test row has no prediction, a pair is
    predicted twice, a prediction is for a pair not in ``truth``, or a prediction is not finite.

    Example:
        >>> import pandas as pd
        >>> truth = pd.DataFrame({"user_id": [1, 2], "item_id": [5, 5], "rating": [3, 4]})
        >>> preds = pd.DataFrame({"user_id": [1], "item_id": [5], "prediction": [3.0]})
        >>> rescore_predictions(preds, truth, label="dot")
        Traceback (most recent call last):
        ...
        reclab.bench.BenchError: dot: 1 of 2 test rows have no prediction, e.g. (user, item) (2, 5)
    """
    missing_cols = {"user_id", "item_id", "prediction"} - set(predictions.columns)
    if missing_cols:
        raise BenchError(
            f"{label}: the prediction file lacks column(s) {sorted(missing_cols)}; it needs "
            "user_id, item_id, prediction (reclab.results.record_result writes them)"
        )
    keys = ["user_id", "item_id"]
    dup = predictions[predictions.duplicated(keys, keep=False)]
    if len(dup):
        raise BenchError(
            f"{label}: {len(dup)} prediction rows repeat a (user, item) pair, "
            f"e.g. {_preview_pairs(dup)}"
        )
    joined = truth[[*keys, "rating"]].merge(
        predictions[[*keys, "prediction"]], on=keys, how="outer", indicator=True
    )
    absent = joined[joined["_merge"] == "left_only"]
    if len(absent):
        raise BenchError(
            f"{label}: {len(absent)} of {len(truth)} test rows have no prediction, "
            f"e.g. (user, item) {_preview_pairs(absent)}"
        )
    extra = joined[joined["_merge"] == "right_only"]
    if len(extra):
        raise BenchError(
            f"{label}: {len(extra)} predictions are for (user, item) pairs that are not in the "
            f"test set, e.g. {_preview_pairs(extra)}: were they made on another split?"
        )
    pred = pd.to_numeric(joined["prediction"], errors="coerce").to_numpy(dtype=np.float64)
    bad = ~np.isfinite(pred)
    if bad.any():
        raise BenchError(f"{label}: {int(bad.sum())} predictions are missing, NaN or infinite")
    true = joined["rating"].to_numpy(dtype=np.float64)
    return {"rmse": rm.rmse(true, pred), "mae": rm.mae(true, pred)}


def _missing_results_message(notebook: str, results_dir: Path) -> str:
    return (
        f"no results for {notebook}: {results_dir / notebook / 'metrics.csv'} does not exist. "
        f"Run `reclab bench` without --skip-notebooks (it executes the notebooks), or run "
        f"solutions/{notebook}.ipynb yourself."
    )


def _optional_float(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def collect_notebook_results(
    results_dir: Path, truth: pd.DataFrame, notebooks: Sequence[str]
) -> tuple[list[ModelResult], list[str]]:
    """Read ``results/<notebook>/`` for each notebook; return ``(results, problems)``.

    Each ``u1`` model is rescored from its prediction file against ``truth`` (u1.test) with
    :func:`rescore_predictions`; a model without a usable prediction file is left out and
    reported. ``loo`` models are taken as recorded (their keys must be :data:`IMPLICIT_KEYS`).
    Models on other splits are not comparable and are skipped silently. A notebook with no
    results, or a rescored metric far from the recorded one, is a problem (a sentence).

    Example:
        >>> from pathlib import Path
        >>> import pandas as pd
        >>> results, problems = collect_notebook_results(
        ...     Path("/nonexistent"), pd.DataFrame(), ["01_regression_dot"])
        >>> results, "without --skip-notebooks" in problems[0]
        ([], True)
    """
    results: list[ModelResult] = []
    problems: list[str] = []
    for notebook in notebooks:
        table_file = results_dir / notebook / "metrics.csv"
        if not table_file.is_file():
            problems.append(_missing_results_message(notebook, results_dir))
            continue
        table = pd.read_csv(table_file)
        if table.empty:
            problems.append(f"{notebook}: {table_file} records no model.")
            continue
        if "predictions" in table.columns:
            files = table["predictions"].dropna()
            for file_name in sorted(set(files[files.duplicated()])):
                owners = table.loc[table["predictions"] == file_name, "model"].tolist()
                problems.append(
                    f"{notebook}: models {', '.join(map(repr, owners))} share the prediction "
                    f"file {file_name} (their names map to the same file name), so only the "
                    "last one recorded is on disk; give them names that differ in letters "
                    "or digits."
                )
        for row in table.to_dict("records"):
            model, split = str(row.get("model")), str(row.get("split"))
            seconds = _optional_float(row.get("train_seconds"))
            where = f"{notebook} / {model}"
            if split == U1:
                file_name = row.get("predictions")
                if not isinstance(file_name, str) or not file_name:
                    problems.append(
                        f"{where}: recorded on u1 without predictions, so it cannot be "
                        "rescored; pass predictions= to reclab.results.record_result."
                    )
                    continue
                file = results_dir / notebook / file_name
                if not file.is_file():
                    problems.append(f"{where}: prediction file {file} is missing.")
                    continue
                try:
                    scores = rescore_predictions(pd.read_csv(file), truth, label=where)
                except BenchError as exc:
                    problems.append(str(exc))
                    continue
                for key, value in scores.items():
                    recorded = _optional_float(row.get(key))
                    if recorded is not None and abs(recorded - value) > RESCORE_TOLERANCE:
                        problems.append(
                            f"{where}: the notebook recorded {key} {recorded:.4f} but its "
                            f"predictions rescore to {value:.4f} on u1.test."
                        )
                results.append(ModelResult(model, notebook, "notebook", U1, scores, seconds))
            elif split == LOO:
                values = {key: _optional_float(row.get(key)) for key in IMPLICIT_KEYS}
                absent = [key for key, value in values.items() if value is None]
                if absent:
                    problems.append(
                        f"{where}: recorded on split 'loo' without {', '.join(absent)}; "
                        f"record all of {', '.join(IMPLICIT_KEYS)}."
                    )
                kept = {key: value for key, value in values.items() if value is not None}
                if kept:
                    results.append(
                        ModelResult(model, notebook, "notebook", LOO, kept, seconds, False)
                    )
    return results, problems


def check_protocol_agreement(
    results: Sequence[ModelResult], tolerance: float = 1e-6
) -> list[str]:
    """Problems where a notebook's loo model and a peer of the same name disagree.

    Notebook 06 records a popularity model, and so does the bench: popularity has no
    randomness, so equal numbers mean the notebook and the bench use the same split and the
    same sampled candidates; different numbers mean their implicit rows are not comparable.

    Example:
        >>> keys = dict.fromkeys(IMPLICIT_KEYS, 0.5)
        >>> check_protocol_agreement([
        ...     ModelResult("popularity", "reclab", "peer", "loo", keys),
        ...     ModelResult("Popularity", "06", "notebook", "loo",
        ...                 {**keys, "hr@10_sampled": 0.4}, 0.0, False)])[0][:60]
        '06 / Popularity: hr@10_sampled 0.4000 recorded by the notebo'
    """
    peers = {r.model.lower(): r for r in results if r.kind == "peer" and r.split == LOO}
    problems = []
    for mine in (r for r in results if r.kind == "notebook" and r.split == LOO):
        peer = peers.get(mine.model.lower())
        if peer is None:
            continue
        for key in IMPLICIT_KEYS:
            ours, theirs = mine.metrics.get(key), peer.metrics.get(key)
            if ours is not None and theirs is not None and abs(ours - theirs) > tolerance:
                problems.append(
                    f"{mine.source} / {mine.model}: {key} {ours:.4f} recorded by the notebook "
                    f"but {theirs:.4f} for the same model here: the notebook does not use the "
                    f"bench's leave-one-out protocol ({LOO_PROTOCOL.split(';')[0]}; candidate "
                    f"seed {CANDIDATE_SEED}), so its implicit rows are not comparable."
                )
                break
    return problems


def protocol_twins(results: Sequence[ModelResult], tolerance: float = 1e-6) -> list[str]:
    """``"<notebook> / <model>"`` for each notebook loo model equal to a same-named peer.

    Example:
        >>> keys = dict.fromkeys(IMPLICIT_KEYS, 0.5)
        >>> protocol_twins([ModelResult("popularity", "reclab", "peer", "loo", keys),
        ...                 ModelResult("popularity", "06", "notebook", "loo", keys)])
        ['06 / popularity']
    """
    peers = {r.model.lower(): r for r in results if r.kind == "peer" and r.split == LOO}
    twins = []
    for mine in (r for r in results if r.kind == "notebook" and r.split == LOO):
        peer = peers.get(mine.model.lower())
        if peer is not None and all(
            key in mine.metrics and key in peer.metrics
            and abs(mine.metrics[key] - peer.metrics[key]) <= tolerance
            for key in IMPLICIT_KEYS
        ):
            twins.append(f"{mine.source} / {mine.model}")
    return twins


# --------------------------------------------------------------------------------------------
# tables


def _ratio(value: float, best: float | None) -> float:
    return value / best if best else float("nan")


def explicit_table(results: Sequence[ModelResult]) -> pd.DataFrame:
    """One row per u1 model, best RMSE first, with ``rmse_vs_best_peer`` (< 1 beats every peer).

    Example:
        >>> rows = [ModelResult("SVD", "Surprise", "peer", "u1", {"rmse": 0.95, "mae": 0.75}),
        ...         ModelResult("MF", "02_biased_mf", "notebook", "u1",
        ...                     {"rmse": 0.931, "mae": 0.73}, 9.0)]
        >>> explicit_table(rows)[["model", "rmse_vs_best_peer"]].round(2).to_numpy().tolist()
        [['MF', 0.98], ['SVD', 1.0]]
    """
    columns = ["model", "source", "kind", "rmse", "mae", "train_seconds", "rmse_vs_best_peer",
               "rescored"]
    rows = [r for r in results if r.split == U1 and "rmse" in r.metrics]
    if not rows:
        return pd.DataFrame(columns=columns)
    peer_rmse = [r.metrics["rmse"] for r in rows if r.kind == "peer"]
    best = min(peer_rmse) if peer_rmse else None
    table = pd.DataFrame(
        {
            "model": [r.model for r in rows],
            "source": [r.source for r in rows],
            "kind": [r.kind for r in rows],
            "rmse": [r.metrics["rmse"] for r in rows],
            "mae": [r.metrics.get("mae", np.nan) for r in rows],
            "train_seconds": [np.nan if r.train_seconds is None else r.train_seconds
                              for r in rows],
            "rmse_vs_best_peer": [_ratio(r.metrics["rmse"], best) for r in rows],
            "rescored": [r.rescored for r in rows],
        }
    )
    return table.sort_values("rmse", kind="stable").reset_index(drop=True)


def implicit_table(results: Sequence[ModelResult]) -> pd.DataFrame:
    """One row per leave-one-out model, best sampled HR@10 first, with ratios to the best peer.

    For each metric ``m`` of :data:`IMPLICIT_HEADLINE` there is a column ``m/best_peer``:
    the model's value divided by the best peer's value on that metric (> 1 beats every peer).

    Example:
        >>> keys = dict.fromkeys(IMPLICIT_KEYS, 0.5)
        >>> rows = [ModelResult("ALS", "implicit", "peer", "loo", keys),
        ...         ModelResult("NeuMF", "06", "notebook", "loo",
        ...                     {**keys, "hr@10_sampled": 0.6}, 30.0, False)]
        >>> implicit_table(rows)[["model", "hr@10_sampled/best_peer"]].to_numpy().tolist()
        [['NeuMF', 1.2], ['ALS', 1.0]]
    """
    ratio_cols = [f"{key}/best_peer" for key in IMPLICIT_HEADLINE]
    columns = ["model", "source", "kind", *IMPLICIT_KEYS, "train_seconds", "rescored",
               *ratio_cols]
    rows = [r for r in results if r.split == LOO]
    if not rows:
        return pd.DataFrame(columns=columns)
    table = pd.DataFrame(
        {
            "model": [r.model for r in rows],
            "source": [r.source for r in rows],
            "kind": [r.kind for r in rows],
            **{key: [r.metrics.get(key, np.nan) for r in rows] for key in IMPLICIT_KEYS},
            "train_seconds": [np.nan if r.train_seconds is None else r.train_seconds
                              for r in rows],
            "rescored": [r.rescored for r in rows],
        }
    )
    is_peer = table["kind"] == "peer"
    for key, col in zip(IMPLICIT_HEADLINE, ratio_cols, strict=True):
        best = table.loc[is_peer, key].max() if is_peer.any() else np.nan
        table[col] = table[key] / best if best and np.isfinite(best) else np.nan
    return table.sort_values("hr@10_sampled", ascending=False, kind="stable").reset_index(
        drop=True
    )


# --------------------------------------------------------------------------------------------
# environment


def cpu_model(cpuinfo: str) -> str:
    """The CPU's model name from the text of ``/proc/cpuinfo`` (``"unknown"`` if absent).

    Example:
        >>> cpu_model("processor\\t: 0\\nmodel name\\t: AMD EPYC 7B13\\nflags\\t: fpu\\n")
        'AMD EPYC 7B13'
    """
    match = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, flags=re.MULTILINE)
    return match.group(1).strip() if match else "unknown"


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def environment_info(now: dt.datetime | None = None) -> Environment:
    """Date (UTC), CPU model, usable cores, Python and library versions of this machine.

    Example:
        >>> environment_info().python == platform.python_version()
        True
    """
    try:
        cpu = cpu_model(Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace"))
    except OSError:
        cpu = platform.processor() or "unknown"
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 0
    moment = now or dt.datetime.now(dt.UTC)
    return Environment(
        date=moment.strftime("%Y-%m-%d %H:%M UTC"),
        cpu=cpu,
        cores=cores,
        python=platform.python_version(),
        versions={name: _version(name) for name in VERSIONED_PACKAGES},
        load_average=_load_average(),
    )


def _load_average() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):  # not available on this platform
        return None


# --------------------------------------------------------------------------------------------
# rendering


def _fmt(value: Any, digits: int = 4) -> str:
    number = _optional_float(value)
    return "–" if number is None else f"{number:.{digits}f}"


def _fmt_seconds(value: Any) -> str:
    number = _optional_float(value)
    return "–" if number is None else f"{number:.1f}"


def _md_table(header: Sequence[str], rows: Sequence[Sequence[str]], align: str) -> list[str]:
    """A GitHub markdown table; ``align`` has one letter per column (``l`` or ``r``)."""
    marks = {"l": ":---", "r": "---:"}
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(marks[a] for a in align) + "|"]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return lines


def _model_label(model: str, kind: str) -> str:
    return f"**{model}**" if kind == "peer" else model


def render_markdown(report: BenchReport) -> str:
    """``results.md``: environment, explicit and implicit tables, published results, timings.

    Example:
        >>> env = Environment("2025-01-01 12:00 UTC", "AMD EPYC", 2, "3.11.9", {"numpy": "2"})
        >>> text = render_markdown(BenchReport(env, [], []))
        >>> text.splitlines()[0]
        '# reclab benchmark: the labs’ models vs Surprise and implicit'
        >>> "published, not rerun here" in text
        True
    """
    env = report.environment
    versions = ", ".join(f"{name} {ver}" for name, ver in env.versions.items())
    out = [
        "# reclab benchmark: the labs’ models vs Surprise and implicit",
        "",
        f"- date: {env.date}",
        f"- machine: {env.cpu}, {env.cores} core(s); Python {env.python}"
        + ("" if env.load_average is None else
           f"; load average {env.load_average:.1f} when the run started"
           + (" (the machine was busy: timings are pessimistic)"
              if env.load_average > 0.75 * env.cores else "")),
        f"- versions: {versions}",
        "- regenerate: `make bench` (executes every solution notebook, fits the peers, "
        "writes this file, results.json and results.png)",
    ]
    if report.skipped_notebooks:
        out.append(
            "- **notebooks not executed in this run** (`--skip-notebooks`): their rows come "
            "from the results/ already on disk"
        )
    out += ["", "![u1 RMSE and leave-one-out HR@10](results.png)", ""]

    out += ["## Explicit feedback: canonical u1 split", "", EXPLICIT_PROTOCOL + ".", ""]
    table = explicit_table(report.results)
    if table.empty:
        out.append("No u1 results.")
    else:
        out += _md_table(
            ["model", "source", "u1 RMSE", "MAE", "train time (s)", "RMSE ÷ best peer"],
            [
                [
                    _model_label(row.model, row.kind),
                    row.source,
                    _fmt(row.rmse),
                    _fmt(row.mae),
                    _fmt_seconds(row.train_seconds),
                    _fmt(row.rmse_vs_best_peer, 3),
                ]
                for row in table.itertuples()
            ],
            "llrrrr",
        )
        out += [
            "",
            "Peers in **bold**. RMSE ÷ best peer below 1 beats every peer (lower RMSE is "
            "better). Train time: model fitting only, as the notebook recorded it or as "
            "measured here for the peers; meaningful on this machine only.",
        ]
    out += [
        "",
        "### Published u1 results (published, not rerun here)",
        "",
        *_md_table(
            ["model", "u1 RMSE (published)", "reference", "note"],
            [[p.model, f"{p.rmse:.3f}", p.reference, p.note] for p in PUBLISHED_U1],
            "lrll",
        ),
        "",
        "These come from the papers (different code, tuning and hardware); they are context, "
        "not part of this run.",
        "",
    ]

    out += ["## Implicit feedback: leave-one-out", "", LOO_PROTOCOL + ".", "",
            LOO_CAVEAT + ".", ""]
    itable = implicit_table(report.results)
    if itable.empty:
        out.append("No leave-one-out results.")
    else:
        out += _md_table(
            ["model", "source", "HR@10 sampled", "NDCG@10 sampled", "HR@10 full",
             "NDCG@10 full", "coverage@10", "train time (s)"],
            [
                [
                    _model_label(row["model"], row["kind"]),
                    row["source"],
                    *(
                        f"{_fmt(row[key], 3)} ({_fmt(row[f'{key}/best_peer'], 2)}×)"
                        for key in IMPLICIT_HEADLINE
                    ),
                    _fmt(row["coverage@10"], 3),
                    _fmt_seconds(row["train_seconds"]),
                ]
                for row in itable.to_dict("records")
            ],
            "llrrrrrr",
        )
        out += [
            "",
            "Peers in **bold**. In brackets: the value divided by the best peer’s on that "
            "metric (above 1× beats every peer; higher is better). Notebook rows are the "
            "metrics the notebook recorded with the same protocol (not recomputed here); peer "
            "rows are computed in this run.",
        ]
        twins = protocol_twins(report.results)
        if twins:
            out += ["", f"Protocol check: {', '.join(twins)} recorded by the notebook "
                    f"equal{'s' if len(twins) == 1 else ''} the bench's own to 1e-6 on every "
                    "metric, so the notebook and the bench score the same split and the same "
                    "sampled candidates."]

    out += ["", "## Notebook wall times", ""]
    if report.notebooks:
        out += _md_table(
            ["notebook", "wall time (s)", "budget (s)", "status"],
            [
                [
                    run.notebook,
                    _fmt_seconds(run.wall_seconds),
                    _fmt(run.budget_seconds, 0),
                    run.status
                    + ("" if run.within_budget is not False else " — over budget"),
                ]
                for run in report.notebooks
            ],
            "lrrl",
        )
        out += ["", "Executed with nbclient, kernel start and TensorFlow import included."]
    else:
        out.append("No solution notebooks found.")

    out += ["", "## Problems", ""]
    out += [f"- {p}" for p in report.problems] or ["None."]
    return "\n".join(out) + "\n"


def _clean(value: Any) -> Any:
    """JSON-safe copy: NaN/inf become None, numpy scalars become Python numbers."""
    if isinstance(value, Mapping):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def report_to_json(report: BenchReport) -> dict[str, Any]:
    """The machine-readable report (``results.json``): plain dicts, lists, numbers, None.

    Example:
        >>> env = Environment("2025-01-01 12:00 UTC", "AMD EPYC", 2, "3.11.9", {})
        >>> sorted(report_to_json(BenchReport(env, [], [])))  # doctest: +NORMALIZE_WHITESPACE
        ['environment', 'explicit', 'implicit', 'notebooks', 'problems', 'protocol',
         'published_not_rerun', 'skipped_notebooks']
    """
    return _clean(
        {
            "environment": asdict(report.environment),
            "protocol": {
                "u1": EXPLICIT_PROTOCOL,
                "loo": LOO_PROTOCOL,
                "loo_caveat": LOO_CAVEAT,
                "candidate_seed": CANDIDATE_SEED,
                "peer_seed": PEER_SEED,
                "n_negatives": N_NEGATIVES,
                "k": K,
            },
            "explicit": explicit_table(report.results).to_dict("records"),
            "implicit": implicit_table(report.results).to_dict("records"),
            "published_not_rerun": [asdict(p) for p in PUBLISHED_U1],
            "notebooks": [
                {**asdict(run), "budget_seconds": run.budget_seconds,
                 "within_budget": run.within_budget}
                for run in report.notebooks
            ],
            "problems": list(report.problems),
            "skipped_notebooks": report.skipped_notebooks,
        }
    )


_PEER_COLOR = "#d95f02"
_NOTEBOOK_COLOR = "#1b9e77"


def plot_report(report: BenchReport, path: Path) -> Path:
    """Draw ``results.png``: u1 RMSE per model (published as dashed lines), implicit HR@10.

    Example:
        >>> import tempfile
        >>> env = Environment("2025-01-01 12:00 UTC", "AMD EPYC", 2, "3.11.9", {})
        >>> rows = [ModelResult("SVD", "Surprise", "peer", "u1", {"rmse": 0.95, "mae": 0.75})]
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     plot_report(BenchReport(env, rows, []), Path(tmp) / "r.png").stat().st_size > 0
        True
    """
    # A bare Figure (no pyplot): no global backend state is touched, nothing is shown.
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    table = explicit_table(report.results).iloc[::-1]  # best at the top
    itable = implicit_table(report.results).iloc[::-1]
    rows1, rows2 = max(len(table), 2), max(len(itable), 2)
    fig = Figure(figsize=(11, 2.6 + 0.3 * rows1 + 0.45 * rows2 + 1.2), layout="constrained")
    ax1, ax2 = fig.subplots(2, 1, height_ratios=[0.3 * rows1 + 0.9, 0.45 * rows2 + 0.5])
    env = report.environment
    fig.suptitle(f"reclab benchmark — {env.date}, {env.cpu}, {env.cores} cores", fontsize=11)
    fig.legend(
        handles=[
            Patch(color=_NOTEBOOK_COLOR, label="reclab notebook model"),
            Patch(color=_PEER_COLOR, label="peer library, fitted in this run"),
            Line2D([], [], color="0.35", linestyle="--",
                   label="published u1 RMSE (not rerun here)"),
        ],
        loc="outside lower center", ncols=3, fontsize=8, frameon=False,
    )

    if table.empty:
        ax1.text(0.5, 0.5, "no u1 results", ha="center", va="center", transform=ax1.transAxes)
    else:
        labels = [f"{m}  [{s}]" for m, s in zip(table["model"], table["source"], strict=True)]
        colors = [_PEER_COLOR if k == "peer" else _NOTEBOOK_COLOR for k in table["kind"]]
        y = np.arange(len(table))
        rmse = table["rmse"].to_numpy(dtype=float)
        low = min([*rmse, *(p.rmse for p in PUBLISHED_U1)])
        left = math.floor((low - 0.02) * 20) / 20
        right = max(float(rmse.max()) + 0.025, max(p.rmse for p in PUBLISHED_U1) + 0.04)
        # Trivial baselines (global mean ~1.15) would squash the interesting 0.89–0.96 range:
        # cut the axis at RMSE_AXIS_CAP and write the value of the cut bars inside them.
        cut = right > RMSE_AXIS_CAP + 0.025
        right = RMSE_AXIS_CAP if cut else right
        ax1.set_xlim(left, right)
        ax1.barh(y, np.minimum(rmse, right), color=colors, height=0.7)
        for yi, value in zip(y, rmse, strict=True):
            if value > right:
                ax1.text(right - 0.002, yi, f"{value:.3f} ▸", va="center", ha="right",
                         fontsize=8, color="white", fontweight="bold", zorder=3)
            else:
                ax1.text(value + 0.002, yi, f"{value:.3f}", va="center", fontsize=8, zorder=3,
                         bbox={"facecolor": "white", "edgecolor": "none", "pad": 0.5})
        ax1.set_yticks(y, labels, fontsize=8)
        # Published results: dashed lines with a label at their top, in a strip above the
        # bars; the leftmost line gets the highest label, so no line crosses another's label.
        published = sorted(PUBLISHED_U1, key=lambda p: p.rmse)
        top = len(table) - 0.2 + 0.45 * len(published)
        ax1.set_ylim(-0.6, top + 0.35)
        for i, pub in enumerate(published):
            y_label = top - 0.45 * i
            ax1.vlines(pub.rmse, -0.6, y_label, color="0.35", linestyle="--", linewidth=1)
            ax1.text(pub.rmse, y_label, f" {pub.model} {pub.rmse:.3f}", fontsize=7,
                     color="0.25", ha="left", va="center", in_layout=False)
        ax1.set_xlabel(f"u1 test RMSE (stars, lower is better; axis starts at {left:.2f}"
                       + (f", bars past {right:.2f} are cut ▸)" if cut else ")"))
    ax1.set_title("Explicit feedback: RMSE on the canonical u1 split (20,000 test ratings)",
                  fontsize=10)

    if itable.empty:
        ax2.text(0.5, 0.5, "no leave-one-out results", ha="center", va="center",
                 transform=ax2.transAxes)
    else:
        y = np.arange(len(itable))
        labels = [f"{m}  [{s}]" for m, s in zip(itable["model"], itable["source"], strict=True)]
        sampled = itable["hr@10_sampled"].to_numpy(dtype=float)
        full = itable["hr@10_full"].to_numpy(dtype=float)
        colors = [_PEER_COLOR if k == "peer" else _NOTEBOOK_COLOR for k in itable["kind"]]
        ax2.barh(y + 0.2, sampled, height=0.38, color=colors)
        ax2.barh(y - 0.2, full, height=0.38, color="white", edgecolor=colors, hatch="////")
        for yi, s_val, f_val in zip(y, sampled, full, strict=True):
            if np.isfinite(s_val):
                ax2.text(s_val + 0.005, yi + 0.2, f"{s_val:.3f}", va="center", fontsize=8)
            if np.isfinite(f_val):
                ax2.text(f_val + 0.005, yi - 0.2, f"{f_val:.3f}", va="center", fontsize=8)
        ax2.set_yticks(y, labels, fontsize=8)
        ax2.set_xlim(0, 1)
        ax2.legend(
            handles=[Patch(facecolor="0.45", label="sampled: held-out item vs 99 negatives"),
                     Patch(facecolor="white", edgecolor="0.45", hatch="////",
                           label="full: vs every item unseen in training")],
            loc="lower right", fontsize=8, framealpha=0.95,
        )
        ax2.set_xlabel("HR@10 (share of the 943 test users whose held-out item is in the top 10)")
    ax2.set_title("Implicit feedback, leave-one-out: the same models, sampled vs full ranking",
                  fontsize=10)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    return path


def write_report(report: BenchReport, out_dir: Path) -> list[Path]:
    """Write ``results.md``, ``results.json`` and ``results.png`` into ``out_dir``.

    Example:
        >>> import tempfile
        >>> env = Environment("2025-01-01 12:00 UTC", "AMD EPYC", 2, "3.11.9", {})
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     [p.name for p in write_report(BenchReport(env, [], []), Path(tmp))]
        ['results.md', 'results.json', 'results.png']
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    md = out_dir / "results.md"
    md.write_text(render_markdown(report), encoding="utf-8")
    js = out_dir / "results.json"
    js.write_text(json.dumps(report_to_json(report), indent=2) + "\n", encoding="utf-8")
    png = plot_report(report, out_dir / "results.png")
    return [md, js, png]


# --------------------------------------------------------------------------------------------
# leave-one-out evaluation (pure numpy, shared by every implicit peer)


@dataclass(frozen=True, eq=False)
class LooData:
    """The leave-one-out split the implicit peers are fitted and scored on.

    ``train``/``test`` carry ``user_idx, item_idx`` (``encoder`` fitted on all ratings);
    ``candidates`` are the sampled-protocol candidates; ``train_seen`` is the boolean
    (n_users × n_items) matrix of training interactions (the full-ranking exclusions).
    """

    train: pd.DataFrame
    test: pd.DataFrame
    encoder: IdEncoder
    candidates: Candidates
    train_seen: np.ndarray

    @property
    def n_users(self) -> int:
        """Number of user codes."""
        return self.encoder.n_users

    @property
    def n_items(self) -> int:
        """Number of item codes."""
        return self.encoder.n_items


def prepare_loo(
    ratings: pd.DataFrame, seed: int = CANDIDATE_SEED, n_neg: int = N_NEGATIVES
) -> LooData:
    """Leave-one-out split of ``ratings`` (all rows are interactions) plus its candidates.

    Example:
        >>> import pandas as pd
        >>> ratings = pd.DataFrame({"user_id": [1, 1, 2, 2], "item_id": [7, 8, 8, 9],
        ...                         "rating": [5, 1, 3, 4], "timestamp": [1, 2, 1, 2]})
        >>> loo = prepare_loo(ratings, n_neg=1)
        >>> loo.candidates.items.tolist(), loo.train_seen.astype(int).tolist()
        ([[1, 2], [2, 0]], [[1, 0, 0], [0, 1, 0]])
    """
    encoder = IdEncoder().fit(ratings)
    train, test = leave_one_out(encoder.transform(ratings))
    candidates = evaluation_candidates(train, test, encoder.n_items, n_neg=n_neg, seed=seed)
    seen = np.zeros((encoder.n_users, encoder.n_items), dtype=bool)
    seen[train["user_idx"].to_numpy(), train["item_idx"].to_numpy()] = True
    return LooData(train, test, encoder, candidates, seen)


def popularity_scores(loo: LooData) -> np.ndarray:
    """Every user's score for every item: the item's number of training interactions.

    Example:
        >>> import pandas as pd
        >>> ratings = pd.DataFrame({"user_id": [1, 1, 2, 2], "item_id": [7, 8, 8, 9],
        ...                         "rating": [5, 1, 3, 4], "timestamp": [1, 2, 1, 2]})
        >>> popularity_scores(prepare_loo(ratings, n_neg=1)).tolist()
        [[1.0, 1.0, 0.0], [1.0, 1.0, 0.0]]
    """
    counts = np.bincount(loo.train["item_idx"].to_numpy(), minlength=loo.n_items)
    return np.tile(counts.astype(np.float64), (loo.n_users, 1))


def ranking_metrics(scores: np.ndarray, loo: LooData) -> dict[str, float]:
    """:data:`IMPLICIT_KEYS` for a full (n_users × n_items) score matrix, both protocols.

    Sampled: each test user's held-out item ranked among its 99 candidates. Full: ranked
    among every item the user did not interact with in training; coverage@10 from the same
    full-ranking top-10 lists. Ties are pessimistic (``reclab.metrics``).

    Example:
        >>> import pandas as pd
        >>> ratings = pd.DataFrame({"user_id": [1, 1, 2, 2], "item_id": [7, 8, 8, 9],
        ...                         "rating": [5, 1, 3, 4], "timestamp": [1, 2, 1, 2]})
        >>> loo = prepare_loo(ratings, n_neg=1)
        >>> for key, value in ranking_metrics(popularity_scores(loo), loo).items():
        ...     print(f"{key} {value:.3f}")    # 3 items: every held-out item is in the top 10
        hr@10_sampled 1.000
        ndcg@10_sampled 0.815
        hr@10_full 1.000
        ndcg@10_full 0.815
        coverage@10 1.000
    """
    expected = (loo.n_users, loo.n_items)
    if scores.shape != expected:
        raise ValueError(f"scores must have shape {expected} (users × items), got {scores.shape}")
    cand = loo.candidates
    sampled = scores[cand.users[:, None], cand.items]
    relevant = rm.first_column_relevant(sampled.shape)
    users = loo.test["user_idx"].to_numpy()
    full = scores[users]
    exclude = loo.train_seen[users]
    full_relevant = np.zeros(full.shape, dtype=bool)
    full_relevant[np.arange(users.size), loo.test["item_idx"].to_numpy()] = True
    top = rm.top_k_items(full, K, exclude=exclude)
    return {
        "hr@10_sampled": rm.hit_rate_at_k(sampled, relevant, K),
        "ndcg@10_sampled": rm.ndcg_at_k(sampled, relevant, K),
        "hr@10_full": rm.hit_rate_at_k(full, full_relevant, K, exclude=exclude),
        "ndcg@10_full": rm.ndcg_at_k(full, full_relevant, K, exclude=exclude),
        "coverage@10": rm.coverage_at_k(top, loo.n_items),
    }


# --------------------------------------------------------------------------------------------
# peers (thin wrappers around the libraries)


def _import_peer(module: str, package: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise BenchError(
            f"the benchmark peer {package} is not installed ({exc}). Install the peers with "
            "`pip install -e '.[bench]'` (`make bench` does it for you)."
        ) from exc


def check_peers_installed() -> None:
    """Raise :class:`BenchError` with the install command if Surprise or implicit is missing."""
    _import_peer("surprise", "scikit-surprise")
    _import_peer("implicit", "implicit")


@dataclass(frozen=True, eq=False)
class PeerFit:
    """A fitted explicit peer: its u1.test predictions and fitting time."""

    model: str
    predictions: pd.DataFrame
    train_seconds: float


def fit_surprise_peers(
    train: pd.DataFrame, test: pd.DataFrame, seed: int = PEER_SEED
) -> list[PeerFit]:
    """Fit Surprise BaselineOnly, SVD, SVD++ and KNNBaseline on ``train``, predict ``test``.

    Settings are the library defaults (as in Surprise's own benchmark table), with
    KNNBaseline item-based on ``pearson_baseline`` similarities (the setting its docs
    recommend); SVD and SVD++ are seeded. Predictions are clipped to 1–5 by Surprise.

    Example (needs scikit-surprise and the data, so it is not run as a doctest)::

        fits = fit_surprise_peers(*reclab.data.load_split("u1"))
        [f.model for f in fits]   # ['BaselineOnly', 'SVD', 'SVD++', 'KNNBaseline']
    """
    surprise = _import_peer("surprise", "scikit-surprise")
    algorithms = [
        ("BaselineOnly", surprise.BaselineOnly(verbose=False)),
        ("SVD", surprise.SVD(random_state=seed)),
        ("SVD++", surprise.SVDpp(random_state=seed, cache_ratings=True)),
        ("KNNBaseline", surprise.KNNBaseline(
            sim_options={"name": "pearson_baseline", "user_based": False}, verbose=False)),
    ]
    reader = surprise.Reader(rating_scale=(1, 5))
    trainset = surprise.Dataset.load_from_df(
        train[["user_id", "item_id", "rating"]], reader
    ).build_full_trainset()
    pairs = list(zip(test["user_id"].tolist(), test["item_id"].tolist(), strict=True))
    fits = []
    for name, algo in algorithms:
        start = time.perf_counter()
        algo.fit(trainset)
        seconds = time.perf_counter() - start
        estimates = [algo.predict(u, i).est for u, i in pairs]
        predictions = test[["user_id", "item_id"]].assign(prediction=estimates)
        fits.append(PeerFit(name, predictions, seconds))
    return fits


@contextlib.contextmanager
def _single_threaded_blas() -> Iterator[None]:
    """One BLAS thread (implicit's ALS otherwise warns, and results vary with thread counts)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # threadpoolctl comes with scikit-learn; without it, trust the env
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield


@dataclass(frozen=True, eq=False)
class RankingFit:
    """A fitted implicit peer: its (n_users × n_items) scores and fitting time."""

    model: str
    scores: np.ndarray
    train_seconds: float


def fit_implicit_peers(loo: LooData, seed: int = PEER_SEED) -> list[RankingFit]:
    """Popularity, ``implicit`` ALS (32 factors) and BPR (64 factors) on ``loo.train``.

    Library defaults otherwise (ALS: 15 iterations, regularization 0.01; BPR: 100 iterations,
    learning rate 0.01), binary interactions, one thread and ``random_state=seed`` so runs
    repeat exactly (the results of both depend on the thread count).

    Example (needs implicit and the data, so it is not run as a doctest)::

        fits = fit_implicit_peers(prepare_loo(reclab.data.load_movielens_100k().ratings))
        [f.model for f in fits]   # ['popularity', 'ALS (32 factors)', 'BPR (64 factors)']
    """
    import scipy.sparse as sp

    start = time.perf_counter()
    popularity = popularity_scores(loo)
    fits = [RankingFit("popularity", popularity, time.perf_counter() - start)]
    implicit = _import_peer("implicit", "implicit")
    importlib.import_module("implicit.als")
    importlib.import_module("implicit.bpr")
    user_items = sp.csr_matrix(loo.train_seen.astype(np.float32))
    models: list[tuple[str, Callable[[], Any]]] = [
        ("ALS (32 factors)", lambda: implicit.als.AlternatingLeastSquares(
            factors=32, random_state=seed, num_threads=1)),
        ("BPR (64 factors)", lambda: implicit.bpr.BayesianPersonalizedRanking(
            factors=64, random_state=seed, num_threads=1)),
    ]
    for name, make_model in models:
        with _single_threaded_blas():  # ALS checks the BLAS threads when it is built
            model = make_model()
            start = time.perf_counter()
            model.fit(user_items, show_progress=False)
            seconds = time.perf_counter() - start
        scores = np.asarray(model.user_factors) @ np.asarray(model.item_factors).T
        fits.append(RankingFit(name, scores.astype(np.float64), seconds))
    return fits


def _library_label(package: str) -> str:
    short = {"scikit-surprise": "Surprise"}.get(package, package)
    return f"{short} {_version(package)}"


def _file_stem(model: str) -> str:
    """A file name for a model ("SVD++" -> "SVDpp", "ALS (32 factors)" -> "ALS_32_factors").

    Example:
        >>> _file_stem("SVD++"), _file_stem("ALS (32 factors)")
        ('SVDpp', 'ALS_32_factors')
    """
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", model.strip().replace("+", "p")).strip("_")
    return stem or "model"


def save_ranking_predictions(fit: RankingFit, loo: LooData, folder: Path, k: int = K) -> None:
    """Write a ranking peer's sampled-candidate scores and its full-ranking top-k lists.

    ``<model>.csv``: ``user_id, item_id, prediction`` for every candidate (held-out item
    first for each user); ``<model>.top10.csv``: ``user_id, rank, item_id`` (rank 1 = best,
    items seen in training excluded), enough to rescore every metric of :data:`IMPLICIT_KEYS`.
    """
    folder.mkdir(parents=True, exist_ok=True)
    cand = loo.candidates
    users, items = cand.model_inputs()
    scores = fit.scores[users, items]
    pd.DataFrame(
        {
            "user_id": loo.encoder.inverse_users(users),
            "item_id": loo.encoder.inverse_items(items),
            "prediction": scores,
        }
    ).to_csv(folder / f"{_file_stem(fit.model)}.csv", index=False, float_format="%.6f")
    test_users = loo.test["user_idx"].to_numpy()
    top = rm.top_k_items(fit.scores[test_users], k, exclude=loo.train_seen[test_users])
    pd.DataFrame(
        {
            "user_id": np.repeat(loo.encoder.inverse_users(test_users), top.shape[1]),
            "rank": np.tile(np.arange(1, top.shape[1] + 1), top.shape[0]),
            "item_id": loo.encoder.inverse_items(top.ravel()),
        }
    ).to_csv(folder / f"{_file_stem(fit.model)}.top{k}.csv", index=False)


def run_peers(
    u1_train: pd.DataFrame,
    u1_test: pd.DataFrame,
    ratings: pd.DataFrame,
    peers_dir: Path,
    *,
    seed: int = PEER_SEED,
    candidate_seed: int = CANDIDATE_SEED,
    log: Callable[[str], None] = print,
) -> list[ModelResult]:
    """Fit every peer, save its predictions to ``peers_dir`` and score it like the notebooks.

    Example (needs the peers and the data, so it is not run as a doctest)::

        results = run_peers(*load_split("u1"), load_movielens_100k().ratings,
                            Path("results/peers"))
    """
    results = []
    surprise_label = _library_label("scikit-surprise")
    log(f"bench: fitting Surprise peers on u1 ({surprise_label})")
    if peers_dir.exists():
        shutil.rmtree(peers_dir)
    peers_dir.mkdir(parents=True)
    for fit in fit_surprise_peers(u1_train, u1_test, seed=seed):
        fit.predictions.to_csv(peers_dir / f"{_file_stem(fit.model)}.csv", index=False,
                               float_format="%.6f")
        scores = rescore_predictions(fit.predictions, u1_test, label=f"peer {fit.model}")
        log(f"bench:   {fit.model:<14} RMSE {scores['rmse']:.4f}  ({fit.train_seconds:.1f} s)")
        results.append(ModelResult(fit.model, surprise_label, "peer", U1, scores,
                                   fit.train_seconds))
    log(f"bench: fitting implicit peers on leave-one-out ({_library_label('implicit')})")
    loo = prepare_loo(ratings, seed=candidate_seed)
    for rfit in fit_implicit_peers(loo, seed=seed):
        save_ranking_predictions(rfit, loo, peers_dir)
        values = ranking_metrics(rfit.scores, loo)
        source = "reclab (numpy)" if rfit.model == "popularity" else _library_label("implicit")
        log(f"bench:   {rfit.model:<18} HR@10 sampled {values['hr@10_sampled']:.3f} "
            f"full {values['hr@10_full']:.3f}  ({rfit.train_seconds:.1f} s)")
        results.append(ModelResult(rfit.model, source, "peer", LOO, values,
                                   rfit.train_seconds))
    return results


# --------------------------------------------------------------------------------------------
# notebooks


Executor = Callable[[Path, Path], None]


def _execute_with_nbclient(notebook: Path, cwd: Path) -> None:
    """Execute ``notebook`` top to bottom in a fresh python3 kernel with ``cwd`` as its folder."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(notebook, as_version=4)
    NotebookClient(
        nb, timeout=NOTEBOOK_TIMEOUT, kernel_name="python3",
        resources={"metadata": {"path": str(cwd)}},
        # the kernel's own log (e.g. "running over TCP without encryption") is not news here;
        # errors raised by cells still come back through nbclient
        extra_arguments=["--IPKernelApp.log_level=ERROR"],
    ).execute()


def _first_line_of_error(exc: BaseException) -> str:
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).strip()  # no terminal colours
    lines = [line for line in text.splitlines() if line.strip()]
    # nbclient's CellExecutionError ends with "ErrorName: message"; that's the useful line
    tail = next((line for line in reversed(lines) if re.match(r"^\w+(Error|Exception|Failed)",
                                                             line)), None)
    summary = tail or (lines[0] if lines else type(exc).__name__)
    return summary[:300]


def solution_notebooks(solutions_dir: Path) -> list[str]:
    """Names (without ``.ipynb``) of the solution notebooks, in order.

    Example:
        >>> solution_notebooks(Path("/nonexistent"))
        []
    """
    return sorted(p.stem for p in solutions_dir.glob("*.ipynb"))


def execute_notebooks(
    solutions_dir: Path,
    results_dir: Path,
    notebooks: Sequence[str],
    *,
    executor: Executor = _execute_with_nbclient,
    log: Callable[[str], None] = print,
) -> list[NotebookRun]:
    """Execute each notebook (cwd ``solutions_dir``) and time it; a failure does not stop the rest.

    ``results/<notebook>/`` is emptied first, so models a notebook no longer records do not
    linger. ``executor(notebook_path, cwd)`` runs one notebook (nbclient by default).

    Example:
        >>> runs = execute_notebooks(Path("solutions"), Path("/tmp/r"), ["00_x"],
        ...                          executor=lambda nb, cwd: None, log=lambda s: None)
        >>> runs[0].status
        'ok'
    """
    runs = []
    for name in notebooks:
        stale = results_dir / name
        if stale.is_dir():
            shutil.rmtree(stale)
        log(f"bench: executing solutions/{name}.ipynb")
        start = time.perf_counter()
        try:
            executor(solutions_dir / f"{name}.ipynb", solutions_dir)
        except Exception as exc:  # any failure: record it, go on with the next notebook
            seconds = time.perf_counter() - start
            runs.append(NotebookRun(name, seconds, f"failed: {_first_line_of_error(exc)}"))
            log(f"bench:   FAILED after {seconds:.1f} s: {_first_line_of_error(exc)}")
            continue
        seconds = time.perf_counter() - start
        runs.append(NotebookRun(name, seconds, "ok"))
        log(f"bench:   ok in {seconds:.1f} s")
    return runs


# --------------------------------------------------------------------------------------------
# the whole run


def _project_root(start: Path | None = None) -> Path:
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "pyproject.toml").is_file() and (folder / "reclab").is_dir():
            return folder
    raise BenchError(
        f"{here} is not inside a reclab checkout (no pyproject.toml next to reclab/): "
        "run `reclab bench` from the repository, e.g. with `make bench`."
    )


def _load_data() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    from reclab.data import load_movielens_100k, load_split

    train, test = load_split(U1)
    return train, test, load_movielens_100k().ratings


PeerRunner = Callable[..., list[ModelResult]]


def run_bench(
    out_dir: Path,
    skip_notebooks: bool = False,
    *,
    solutions_dir: Path | None = None,
    results_dir: Path | None = None,
    data: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame] | None = None,
    peers: PeerRunner = run_peers,
    executor: Executor = _execute_with_nbclient,
    log: Callable[[str], None] = print,
) -> BenchReport:
    """The whole benchmark; returns the report after writing it to ``out_dir``.

    ``data`` is ``(u1_train, u1_test, ratings)`` (loaded with ``reclab.data`` when None);
    ``peers`` and ``executor`` are injectable so the run can be tested without the libraries.

    Example (slow, so it is not run as a doctest)::

        report = run_bench(Path("benchmarks"), skip_notebooks=True)
        [r.model for r in report.results if r.kind == "peer"]
    """
    from reclab.results import results_dir as default_results_dir

    environment = environment_info()  # date and load average at the start of the run
    if peers is run_peers:
        check_peers_installed()  # before spending minutes on the notebooks
    if solutions_dir is None:
        solutions_dir = _project_root() / "solutions"
    if results_dir is None:
        results_dir = default_results_dir()
    notebooks = solution_notebooks(solutions_dir)
    u1_train, u1_test, ratings = data if data is not None else _load_data()
    problems: list[str] = []
    if not notebooks:
        problems.append(f"no solution notebooks in {solutions_dir}: only the peers were run.")
    if skip_notebooks:
        runs = [NotebookRun(n, None, "not run (--skip-notebooks)") for n in notebooks]
    else:
        runs = execute_notebooks(solutions_dir, results_dir, notebooks, executor=executor,
                                 log=log)
        problems += [f"{r.notebook} {r.status}" for r in runs if r.status != "ok"]
        problems += [
            f"{r.notebook} took {r.wall_seconds:.0f} s, over its budget of "
            f"{r.budget_seconds:.0f} s" for r in runs if r.within_budget is False
        ]
    collected, collect_problems = collect_notebook_results(results_dir, u1_test, notebooks)
    problems += collect_problems
    peer_results = peers(u1_train, u1_test, ratings, results_dir / PEERS_FOLDER, log=log)
    problems += check_protocol_agreement([*collected, *peer_results])
    report = BenchReport(
        environment=environment,
        results=[*collected, *peer_results],
        notebooks=runs,
        problems=problems,
        skipped_notebooks=skip_notebooks,
    )
    for path in write_report(report, out_dir):
        log(f"bench: wrote {path}")
    return report


def run_cli(out_dir: Path, skip_notebooks: bool) -> int:
    """Entry point of ``reclab bench``: 0 when everything ran and rescored cleanly, else 1.

    The report is written even when something failed; the problems are listed in it and on
    stderr.

    Example (what ``reclab bench --skip-notebooks`` runs; slow, so not a doctest)::

        exit_code = run_cli(Path("benchmarks"), skip_notebooks=True)
    """
    report = run_bench(out_dir, skip_notebooks)
    for problem in report.problems:
        print(f"reclab bench: problem: {problem}", file=sys.stderr)
    return 1 if report.problems else 0
