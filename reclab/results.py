"""A shared results table: every notebook records its models' metrics and test predictions.

Files go to ``results/<notebook>/``: ``metrics.csv`` (one row per model) and
``<model>.csv`` (``user_id,item_id,prediction`` for every test row), so anyone can rescore
them and the benchmark can collect them. The folder is ``$RECLAB_RESULTS`` if set, else
``results/`` at the top of the checkout (the first parent folder with a ``pyproject.toml``),
else ``./results``.

Example:
    >>> record_result("01_regression_dot", "dot (MSE)", {"rmse": 0.95, "mae": 0.75},
    ...               train_seconds=12.3)          # doctest: +SKIP
    >>> results_table(split="u1")                  # doctest: +SKIP
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["record_result", "results_dir", "results_table"]


def _checkout(folder: Path) -> bool:
    return (folder / "pyproject.toml").is_file() and (folder / "reclab").is_dir()


def results_dir() -> Path:
    """Return the results folder (created on first write, not here).

    In order: ``$RECLAB_RESULTS``; ``results/`` of the checkout the working folder is in
    (``solutions/``, ``labs/``, ``my-labs/`` all share it); ``results/`` of the checkout
    whose ``reclab`` is imported (a student's folder elsewhere still shares the course's
    table); ``./results``.

    Example:
        >>> results_dir().name
        'results'
    """
    env = os.environ.get("RECLAB_RESULTS")
    if env:
        return Path(env)
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if _checkout(folder):
            return folder / "results"
    package_checkout = Path(__file__).resolve().parents[1]
    if _checkout(package_checkout):
        return package_checkout / "results"
    return here / "results"


def _slug(name: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", re.sub(r"(?<=\S)\+", "p", name.strip())).strip("_")
    if not slug:
        raise ValueError(f"cannot make a file name from model name {name!r}")
    return slug


def record_result(
    notebook: str,
    model: str,
    metrics: Mapping[str, float],
    *,
    train_seconds: float | None = None,
    split: str = "u1",
    predictions: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Record a model's metrics (and optionally its test predictions); return the table.

    ``predictions`` must have columns ``user_id, item_id, prediction``; it is written to
    ``results/<notebook>/<model>.csv``. Re-recording a model replaces its row.

    Example:
        >>> record_result("00_movielens_tour", "global mean", {"rmse": 1.15, "mae": 0.95},
        ...               train_seconds=0.0)       # doctest: +SKIP
    """
    folder = results_dir() / notebook
    folder.mkdir(parents=True, exist_ok=True)
    row = {"notebook": notebook, "model": model, "split": split}
    row.update({name: float(value) for name, value in metrics.items()})
    row["train_seconds"] = np.nan if train_seconds is None else round(float(train_seconds), 2)
    if predictions is not None:
        missing = {"user_id", "item_id", "prediction"} - set(predictions.columns)
        if missing:
            raise ValueError(f"predictions lack column(s) {sorted(missing)}")
        file = folder / f"{_slug(model)}.csv"
        predictions[["user_id", "item_id", "prediction"]].to_csv(
            file, index=False, float_format="%.6f"
        )
        row["predictions"] = file.name
    table_file = folder / "metrics.csv"
    table = pd.read_csv(table_file) if table_file.is_file() else pd.DataFrame()
    if not table.empty:
        table = table[~((table["model"] == model) & (table["split"] == split))]
    table = pd.concat([table, pd.DataFrame([row])], ignore_index=True)
    table.to_csv(table_file, index=False)
    return table


def results_table(split: str | None = "u1", notebooks: list[str] | None = None) -> pd.DataFrame:
    """Collect every recorded model into one table (best RMSE first when there is one).

    Example:
        >>> results_table(split="u1")[["notebook", "model", "rmse"]]  # doctest: +SKIP
    """
    files = sorted(results_dir().glob("*/metrics.csv"))
    frames = [pd.read_csv(f) for f in files if notebooks is None or f.parent.name in notebooks]
    frames = [f for f in frames if not f.empty]
    if not frames:
        return pd.DataFrame(columns=["notebook", "model", "split"])
    table = pd.concat(frames, ignore_index=True)
    if split is not None:
        table = table[table["split"] == split]
    if "rmse" in table.columns:
        table = table.sort_values("rmse", kind="stable")
    return table.dropna(axis="columns", how="all").reset_index(drop=True)
