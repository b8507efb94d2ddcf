"""A notebook run twice gives the same metrics to 4 decimals (seeds + op determinism).

Each listed solution notebook is executed twice, each time into its own results folder, and
every metric it recorded is compared. Timings are excluded; they vary by nature.
"""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
# 01: embedding init + shuffling + early stopping, executed twice (~50 s). 06 (per-epoch
# negative sampling) took 405 s twice and broke make test's 20-minute budget; its sampling is
# covered by the seeded-repeatability tests of reclab.sampling, and 07/08 were checked by
# running twice by hand (see the closing note of session 2).
NOTEBOOKS = ["01_regression_dot"]
NOT_METRICS = {"notebook", "model", "split", "train_seconds", "predictions"}


def _run(name: str, results: Path) -> pd.DataFrame:
    nb = nbformat.read(ROOT / "solutions" / f"{name}.ipynb", as_version=4)
    old = os.environ.get("RECLAB_RESULTS")
    os.environ["RECLAB_RESULTS"] = str(results)
    try:
        NotebookClient(
            nb,
            timeout=600,
            kernel_name="python3",
            resources={"metadata": {"path": str(ROOT / "solutions")}},
        ).execute()
    finally:
        if old is None:
            os.environ.pop("RECLAB_RESULTS", None)
        else:
            os.environ["RECLAB_RESULTS"] = old
    table = pd.read_csv(results / name / "metrics.csv")
    return table.drop(columns=[c for c in table.columns if c in NOT_METRICS and c != "model"])


@pytest.mark.slow
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_metrics_repeat_to_4_decimals(name: str, tmp_path: Path) -> None:
    first = _run(name, tmp_path / "first").set_index("model").sort_index()
    second = _run(name, tmp_path / "second").set_index("model").sort_index()
    assert list(first.index) == list(second.index)
    assert not first.empty
    pd.testing.assert_frame_equal(first.round(4), second.round(4), check_exact=False, atol=5e-5)
