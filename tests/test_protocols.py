"""reclab.protocols: the leave-one-out split, its candidates and the ranking evaluation."""

from __future__ import annotations

import ast
import inspect
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from reclab import metrics, protocols

ROOT = Path(__file__).resolve().parents[1]


def _interactions(n_users: int = 30, n_items: int = 40, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for user in range(1, n_users + 1):
        items = rng.choice(np.arange(100, 100 + n_items), size=rng.integers(5, 15),
                           replace=False)
        rows += [(user, int(item), int(t)) for t, item in enumerate(items)]
    return pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp"])


@pytest.fixture(scope="module")
def data() -> protocols.LeaveOneOut:
    return protocols.leave_one_out_data(_interactions(), n_neg=9)


def test_test_and_validation_items_are_each_users_two_latest(data) -> None:
    frame = _interactions()
    latest = frame.sort_values("timestamp").groupby("user_id")["item_id"].agg(list)
    test_ids = data.encoder.inverse_items(data.positives("test"))
    val_ids = data.encoder.inverse_items(data.positives("val"))
    users = data.encoder.inverse_users(np.arange(data.n_users))
    assert test_ids.tolist() == [latest[u][-1] for u in users]
    assert val_ids.tolist() == [latest[u][-2] for u in users]
    assert len(data.fit) + len(data.val) == len(data.train)
    assert len(data.train) + len(data.test) == len(frame)


def test_candidates_are_unseen_distinct_and_seeded(data) -> None:
    for on in ("val", "test"):
        cand = data.candidates(on)
        assert cand.shape == (data.n_users, 10)
        history = data.seen(on)
        assert not history[np.arange(data.n_users)[:, None], cand].any()
        assert all(len(set(row)) == len(row) for row in cand.tolist())
    again = protocols.leave_one_out_data(_interactions(), n_neg=9)
    assert np.array_equal(again.test_candidates, data.test_candidates)
    other = protocols.leave_one_out_data(_interactions(), n_neg=9, test_seed=1)
    assert not np.array_equal(other.test_candidates, data.test_candidates)


def test_validation_mask_excludes_fit_only_and_test_mask_fit_and_val(data) -> None:
    rows = np.arange(data.n_users)
    assert not data.seen("val")[rows, data.positives("val")].any()
    assert data.seen("test")[rows, data.positives("val")].all()
    assert not data.seen("test")[rows, data.positives("test")].any()


def test_candidate_inputs_reshape_back_to_the_candidates(data) -> None:
    users, items = data.candidate_inputs("val")
    assert users.dtype == np.int32 and items.dtype == np.int32
    assert np.array_equal(items.reshape(data.val_candidates.shape), data.val_candidates)
    assert np.array_equal(users.reshape(data.val_candidates.shape)[:, 0],
                          np.arange(data.n_users))


def test_an_oracle_scores_one_and_a_constant_scores_zero(data) -> None:
    oracle = np.zeros((data.n_users, data.n_items))
    oracle[np.arange(data.n_users), data.positives("test")] = 1.0
    best = protocols.evaluate_ranking(oracle, data)
    assert list(best) == list(protocols.METRIC_KEYS)
    assert all(best[key] == 1.0 for key in protocols.METRIC_KEYS[:4])
    flat = protocols.evaluate_ranking(np.ones((data.n_users, data.n_items)), data, k=5)
    assert flat["hr@5_sampled"] == 0.0 and flat["hr@5_full"] == 0.0  # ties count against


def test_evaluation_agrees_with_reclab_metrics(data) -> None:
    scores = np.random.default_rng(1).integers(0, 5, size=(data.n_users, data.n_items))
    got = protocols.evaluate_ranking(scores, data, on="val")
    seen = data.seen("val")
    relevant = np.zeros(seen.shape, dtype=bool)
    relevant[np.arange(data.n_users), data.positives("val")] = True
    assert got["hr@10_full"] == pytest.approx(
        metrics.hit_rate_at_k(scores, relevant, 10, exclude=seen))
    assert got["ndcg@10_full"] == pytest.approx(
        metrics.ndcg_at_k(scores, relevant, 10, exclude=seen))
    sampled = np.take_along_axis(scores.astype(float), data.candidates("val"), axis=1)
    assert got["hr@10_sampled"] == pytest.approx(
        metrics.hit_rate_at_k(sampled, metrics.first_column_relevant(sampled.shape), 10))


def test_popularity_counts_the_history_of_each_protocol(data) -> None:
    test_scores = protocols.popularity_scores(data, "test")
    val_scores = protocols.popularity_scores(data, "val")
    assert test_scores.sum(axis=1)[0] == len(data.train)
    assert val_scores.sum(axis=1)[0] == len(data.fit)
    assert (test_scores == test_scores[0]).all()


def test_hit_rate_and_ndcg_pessimistic_ties() -> None:
    assert protocols.hit_rate_and_ndcg([[0.5, 0.5, 0.1]], [0], k=1) == (0.0, 0.0)
    assert protocols.hit_rate_and_ndcg([[0.3, 0.5, 0.5, 0.1]], [1], k=2) == pytest.approx(
        (1.0, 1 / np.log2(3)))


def test_bad_inputs_say_what_to_do() -> None:
    with pytest.raises(ValueError, match="at least 3 interactions"):
        protocols.leave_one_out_data(pd.DataFrame({"user_id": [1, 1], "item_id": [1, 2],
                                                   "timestamp": [1, 2]}), n_neg=0)
    data = protocols.leave_one_out_data(_interactions(5, 20), n_neg=3)
    with pytest.raises(ValueError, match="row u for user u"):
        protocols.evaluate_ranking(np.zeros((3, data.n_items)), data)
    with pytest.raises(ValueError, match="'val' or 'test'"):
        data.candidates("train")


def _normalised(function: ast.FunctionDef) -> str:
    """The function's code without its docstring and type annotations (comments are gone)."""
    body = function.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]
    args = function.args
    for arg in (*args.posonlyargs, *args.args, *args.kwonlyargs):
        arg.annotation = None
    clean = ast.FunctionDef(name=function.name, args=args, body=body, decorator_list=[],
                            returns=None, type_params=[])
    return ast.dump(ast.fix_missing_locations(clean))


def test_the_exercise_of_notebook_06_and_the_package_hold_the_same_hit_rate_and_ndcg() -> None:
    notebook = json.loads((ROOT / "solutions" / "06_implicit_feedback.ipynb").read_text())
    cells = ["".join(cell["source"]) for cell in notebook["cells"]
             if cell["cell_type"] == "code" and "def hit_rate_and_ndcg(" in "".join(cell["source"])]
    assert len(cells) == 1, "06 teaches hit_rate_and_ndcg in exactly one cell"
    taught = next(node for node in ast.parse(cells[0]).body if isinstance(node, ast.FunctionDef))
    package = ast.parse(inspect.getsource(protocols.hit_rate_and_ndcg)).body[0]
    assert _normalised(taught) == _normalised(package), (
        "notebook 06's hit_rate_and_ndcg (exercise 2) and reclab.protocols.hit_rate_and_ndcg "
        "differ: change both")
