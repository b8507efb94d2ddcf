"""Unit tests for reclab.metrics: hand-computed cases, ties, and a brute-force reference."""

from __future__ import annotations

import doctest
import math

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from reclab import metrics
from reclab.metrics import (
    coverage_at_k,
    first_column_relevant,
    hit_rate_at_k,
    mae,
    ndcg_at_k,
    precision_at_k,
    rank_of_positive,
    rating_metrics,
    recall_at_k,
    rmse,
    top_k_items,
)


def test_docstring_examples_run() -> None:
    result = doctest.testmod(metrics)
    assert result.attempted > 10
    assert result.failed == 0


# ----------------------------------------------------------------------------- rating metrics


def test_rmse_mae_by_hand() -> None:
    y_true = [4.0, 3.0, 5.0, 1.0]
    y_pred = [3.5, 3.0, 4.0, 3.0]
    # errors -0.5, 0, -1, 2: squares 0.25 + 0 + 1 + 4 = 5.25, /4 = 1.3125; abs sum 3.5, /4
    assert rmse(y_true, y_pred) == pytest.approx(math.sqrt(1.3125))
    assert mae(y_true, y_pred) == pytest.approx(0.875)
    assert type(rmse(y_true, y_pred)) is float and type(mae(y_true, y_pred)) is float


def test_rating_metrics_accept_a_keras_column() -> None:
    # Keras predict() returns (n, 1); broadcasting it against (n,) would silently give (n, n)
    y_true = np.array([1.0, 2.0, 3.0])
    y_pred = np.array([[1.0], [2.0], [5.0]])
    assert mae(y_true, y_pred) == pytest.approx(2 / 3)
    assert rmse(y_true, y_pred) == pytest.approx(math.sqrt(4 / 3))


@pytest.mark.parametrize("metric", [rmse, mae])
def test_rating_metrics_errors(metric) -> None:
    with pytest.raises(ValueError, match="y_true has 3 values but y_pred has 2"):
        metric([1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match=r"y_pred contains 1 NaN value\(s\) out of 3"):
        metric([1, 2, 3], [1, np.nan, 3])
    with pytest.raises(ValueError, match="y_true contains 2 NaN"):
        metric([np.nan, np.nan, 3], [1, 2, 3])
    with pytest.raises(ValueError, match="empty"):
        metric([], [])
    with pytest.raises(ValueError, match="1-d"):
        metric(np.ones((2, 2)), np.ones((2, 2)))


@pytest.fixture
def truth() -> pd.DataFrame:
    return pd.DataFrame({"user_id": [1, 1, 2, 3], "item_id": [10, 20, 10, 30],
                         "rating": [4, 2, 5, 3]})


def test_rating_metrics_of_aligned_predictions_and_of_a_table_in_any_order(truth) -> None:
    aligned = rating_metrics(truth, np.array([[3.0], [2.0], [5.0], [4.0]]))
    assert aligned == pytest.approx({"rmse": math.sqrt(2 / 4), "mae": 2 / 4})
    table = truth[["user_id", "item_id"]].assign(prediction=[3.0, 2.0, 5.0, 4.0])
    assert rating_metrics(truth, table.iloc[::-1]) == pytest.approx(aligned)


def test_rating_metrics_require_every_test_row_once(truth) -> None:
    table = truth[["user_id", "item_id"]].assign(prediction=3.0)
    with pytest.raises(ValueError, match=r"dot: 1 of 4 test rows have no prediction.*\(3, 30\)"):
        rating_metrics(truth, table.iloc[:3], label="dot")
    with pytest.raises(ValueError, match="repeat a"):
        rating_metrics(truth, pd.concat([table, table.iloc[:1]]))
    extra = pd.concat([table, pd.DataFrame({"user_id": [9], "item_id": [9], "prediction": [1.0]})])
    with pytest.raises(ValueError, match="another split"):
        rating_metrics(truth, extra)
    with pytest.raises(ValueError, match="NaN or infinite"):
        rating_metrics(truth, table.assign(prediction=[1.0, np.nan, 2.0, 3.0]))
    with pytest.raises(ValueError, match=r"lack column\(s\) \['prediction'\]"):
        rating_metrics(truth, truth[["user_id", "item_id"]])
    with pytest.raises(ValueError, match="3 predictions for 4 test rows"):
        rating_metrics(truth, [1.0, 2.0, 3.0])


# ------------------------------------------------------------------- ranking: hand-computed


def test_two_users_hit_rate_and_ndcg_by_hand() -> None:
    # user 0: positive (col 0) scores 0.8, one negative scores 0.9 -> position 1 (2nd)
    # user 1: positive scores 0.1, two negatives score higher      -> position 2 (3rd)
    scores = np.array([[0.8, 0.9, 0.3], [0.1, 0.5, 0.7]])
    relevant = first_column_relevant(scores.shape)
    # HR@2 = (1 + 0) / 2 = 0.5;   NDCG@2 = (1/log2(3) + 0) / 2
    assert hit_rate_at_k(scores, relevant, k=2) == 0.5
    assert ndcg_at_k(scores, relevant, k=2) == pytest.approx(0.5 / math.log2(3))
    # HR@3 = 1;   NDCG@3 = (1/log2(3) + 1/log2(4)) / 2
    assert hit_rate_at_k(scores, relevant, k=3) == 1.0
    assert ndcg_at_k(scores, relevant, k=3) == pytest.approx((1 / math.log2(3) + 0.5) / 2)
    # HR@1 = 0: neither positive is first
    assert hit_rate_at_k(scores, relevant, k=1) == 0.0
    assert rank_of_positive(scores, [0, 0]).tolist() == [1, 2]


def test_precision_recall_ndcg_several_relevant_by_hand() -> None:
    scores = np.array([[0.9, 0.8, 0.7, 0.6, 0.5]])
    relevant = np.array([[False, True, False, True, True]])
    # top 2 = cols 0, 1 -> 1 relevant: P@2 = 1/2, R@2 = 1/3
    assert precision_at_k(scores, relevant, k=2) == pytest.approx(0.5)
    assert recall_at_k(scores, relevant, k=2) == pytest.approx(1 / 3)
    # top 4 = cols 0..3 -> relevant at positions 1 and 3: DCG = 1/log2(3) + 1/log2(5)
    # ideal for 3 relevant capped at k=4: 1 + 1/log2(3) + 1/log2(4)
    dcg = 1 / math.log2(3) + 1 / math.log2(5)
    ideal = 1 + 1 / math.log2(3) + 0.5
    assert ndcg_at_k(scores, relevant, k=4) == pytest.approx(dcg / ideal)
    # k=2: ideal capped at 2 relevant: 1 + 1/log2(3); DCG = 1/log2(3)
    assert ndcg_at_k(scores, relevant, k=2) == pytest.approx(
        (1 / math.log2(3)) / (1 + 1 / math.log2(3))
    )


def test_perfect_ranking_scores_one() -> None:
    rng = np.random.default_rng(0)
    relevant = rng.random((50, 30)) < 0.2
    relevant[:, 0] = True
    scores = relevant + rng.random((50, 30)) * 0.5  # every relevant item above every other
    assert ndcg_at_k(scores, relevant, k=10) == pytest.approx(1.0)
    assert hit_rate_at_k(scores, relevant, k=1) == 1.0
    n_relevant = relevant.sum(axis=1)
    assert recall_at_k(scores, relevant, k=30) == 1.0
    assert precision_at_k(scores, relevant, k=5) == pytest.approx(
        np.mean(np.minimum(n_relevant, 5) / 5)
    )


# ------------------------------------------------------------------------------------ ties


def test_all_tied_scores_never_flatter() -> None:
    # an untrained model: 100 candidates, all the same score -> the positive ranks last
    scores = np.zeros((4, 100))
    relevant = first_column_relevant(scores.shape)
    assert hit_rate_at_k(scores, relevant, k=10) == 0.0
    assert ndcg_at_k(scores, relevant, k=10) == 0.0
    assert hit_rate_at_k(scores, relevant, k=100) == 1.0
    assert ndcg_at_k(scores, relevant, k=100) == pytest.approx(1 / math.log2(101))
    assert rank_of_positive(scores, np.zeros(4, dtype=int)).tolist() == [99] * 4


def test_partial_tie_is_pessimistic() -> None:
    # positive 0.5 ties with col 1, col 2 is better: order col 2, col 1, positive -> position 2
    scores = np.array([[0.5, 0.5, 0.9, 0.1]])
    relevant = first_column_relevant(scores.shape)
    assert hit_rate_at_k(scores, relevant, k=2) == 0.0
    assert hit_rate_at_k(scores, relevant, k=3) == 1.0
    assert ndcg_at_k(scores, relevant, k=3) == pytest.approx(0.5)  # 1 / log2(4)
    assert rank_of_positive(scores, [0]).tolist() == [2]


def test_relevant_items_tied_with_each_other() -> None:
    # all tied: the non-relevant col 2 goes first, then the two relevant -> positions 1, 2
    scores = np.ones((1, 3))
    relevant = np.array([[True, True, False]])
    assert precision_at_k(scores, relevant, k=2) == pytest.approx(0.5)
    assert recall_at_k(scores, relevant, k=2) == pytest.approx(0.5)
    expected = (1 / math.log2(3) + 1 / math.log2(4)) / (1 + 1 / math.log2(3))
    assert ndcg_at_k(scores, relevant, k=3) == pytest.approx(expected)


def test_k_larger_than_the_candidates() -> None:
    scores = np.array([[0.1, 0.3, 0.2], [0.3, 0.2, 0.1]])
    relevant = np.array([[True, False, True], [False, True, False]])
    assert hit_rate_at_k(scores, relevant, k=10) == 1.0
    assert recall_at_k(scores, relevant, k=10) == 1.0
    # precision divides by k: (2/10 + 1/10) / 2
    assert precision_at_k(scores, relevant, k=10) == pytest.approx(0.15)
    # user 0: relevant at positions 1, 2 of 3, ideal 0, 1 -> (1/log2 3 + 1/2) / (1 + 1/log2 3)
    # user 1: relevant at position 1 -> 1/log2(3)
    user0 = (1 / math.log2(3) + 0.5) / (1 + 1 / math.log2(3))
    assert ndcg_at_k(scores, relevant, k=10) == pytest.approx((user0 + 1 / math.log2(3)) / 2)


def test_exclude_removes_candidates() -> None:
    scores = np.array([[0.9, 0.5, 0.95, 0.1], [0.2, 0.8, 0.9, 0.7]])
    relevant = np.array([[False, True, False, False], [True, False, False, False]])
    exclude = np.array([[True, False, True, False], [False, True, True, False]])
    # without exclusion: user 0's positive is 3rd, user 1's 4th -> HR@1 = 0
    assert hit_rate_at_k(scores, relevant, k=1) == 0.0
    # excluded: user 0 ranks cols 1, 3 -> first; user 1 ranks cols 3, 0 -> second
    assert hit_rate_at_k(scores, relevant, k=1, exclude=exclude) == 0.5
    assert ndcg_at_k(scores, relevant, k=2, exclude=exclude) == pytest.approx(
        (1 + 1 / math.log2(3)) / 2
    )
    assert rank_of_positive(scores, [1, 0], exclude=exclude).tolist() == [0, 1]
    # a sparse mask (e.g. seen_matrix(train, ...)) works too
    sparse = sp.csr_matrix(exclude)
    assert hit_rate_at_k(scores, relevant, k=1, exclude=sparse) == 0.5


def test_excluded_items_rank_after_minus_infinity() -> None:
    scores = np.array([[-np.inf, 0.0, 1.0]])
    relevant = np.array([[True, False, False]])
    exclude = np.array([[False, True, False]])
    # ranking: col 2, then col 0 (score -inf but not excluded); the excluded col 1 is gone
    assert hit_rate_at_k(scores, relevant, k=2, exclude=exclude) == 1.0
    assert hit_rate_at_k(scores, relevant, k=1, exclude=exclude) == 0.0


def test_ranking_input_errors() -> None:
    scores = np.zeros((2, 3))
    relevant = first_column_relevant((2, 3))
    with pytest.raises(ValueError, match="no relevant item"):
        hit_rate_at_k(scores, np.zeros((2, 3), dtype=bool))
    with pytest.raises(ValueError, match="shape"):
        ndcg_at_k(scores, first_column_relevant((2, 4)))
    with pytest.raises(TypeError, match="boolean"):
        ndcg_at_k(scores, relevant.astype(int))
    with pytest.raises(ValueError, match="NaN"):
        ndcg_at_k(np.array([[np.nan, 0, 0], [0, 0, 0]]), relevant)
    with pytest.raises(ValueError, match="reshape"):
        ndcg_at_k(np.zeros(3), relevant[0])
    with pytest.raises(ValueError, match="excluded"):
        ndcg_at_k(scores, relevant, exclude=relevant)
    with pytest.raises(ValueError, match="positive integer"):
        precision_at_k(scores, relevant, k=0)
    with pytest.raises(ValueError, match="excluded"):
        rank_of_positive(scores, [0, 0], exclude=relevant)
    with pytest.raises(ValueError, match="shape"):
        rank_of_positive(scores, [0])


# ------------------------------------------------------------ brute-force reference, random


def reference_ranking(scores_row, relevant_row, exclude_row) -> list[int]:
    """Columns in ranking order: not excluded first, score desc, non-relevant first, column."""

    def key(c: int) -> tuple:
        return (bool(exclude_row[c]), -scores_row[c], bool(relevant_row[c]), c)

    return sorted(range(len(scores_row)), key=key)


def reference_metrics(scores, relevant, exclude, k) -> dict[str, float]:
    per_user = {"hr": [], "ndcg": [], "precision": [], "recall": []}
    for s, r, e in zip(scores, relevant, exclude, strict=True):
        top = reference_ranking(s, r, e)[:k]
        gains = [1.0 if r[c] else 0.0 for c in top]
        dcg = sum(g / math.log2(p + 2) for p, g in enumerate(gains))
        ideal = sum(1 / math.log2(p + 2) for p in range(min(int(r.sum()), k)))
        per_user["hr"].append(float(any(gains)))
        per_user["ndcg"].append(dcg / ideal)
        per_user["precision"].append(sum(gains) / k)
        per_user["recall"].append(sum(gains) / r.sum())
    return {name: float(np.mean(values)) for name, values in per_user.items()}


@pytest.mark.parametrize("seed", range(8))
def test_ranking_metrics_match_a_brute_force_sort(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n_users, n_candidates = 30, 12
    scores = rng.integers(0, 4, size=(n_users, n_candidates)).astype(float)  # many ties
    scores[rng.random(scores.shape) < 0.05] = -np.inf
    relevant = rng.random(scores.shape) < 0.25
    relevant[np.arange(n_users), rng.integers(0, n_candidates, n_users)] = True
    exclude = (rng.random(scores.shape) < 0.3) & ~relevant
    for k in (1, 3, 5, 12, 20):
        for mask in (np.zeros_like(exclude), exclude):
            expected = reference_metrics(scores, relevant, mask, k)
            kwargs = {"k": k, "exclude": mask}
            assert hit_rate_at_k(scores, relevant, **kwargs) == pytest.approx(expected["hr"])
            assert ndcg_at_k(scores, relevant, **kwargs) == pytest.approx(expected["ndcg"])
            assert precision_at_k(scores, relevant, **kwargs) == pytest.approx(
                expected["precision"]
            )
            assert recall_at_k(scores, relevant, **kwargs) == pytest.approx(expected["recall"])


@pytest.mark.parametrize("seed", range(5))
def test_rank_of_positive_agrees_with_hit_rate_and_ndcg(seed: int) -> None:
    rng = np.random.default_rng(seed)
    scores = rng.integers(0, 5, size=(40, 25)).astype(float)
    positive = rng.integers(0, 25, size=40)
    relevant = np.zeros(scores.shape, dtype=bool)
    relevant[np.arange(40), positive] = True
    exclude = (rng.random(scores.shape) < 0.3) & ~relevant
    ranks = rank_of_positive(scores, positive, exclude=exclude)
    assert ranks.dtype == np.int64
    for row in range(40):  # rank = position in the brute-force ranking
        assert ranks[row] == reference_ranking(scores[row], relevant[row], exclude[row]).index(
            positive[row]
        )
    for k in (1, 5, 10):
        assert hit_rate_at_k(scores, relevant, k=k, exclude=exclude) == pytest.approx(
            np.mean(ranks < k)
        )
        ndcg = np.where(ranks < k, 1 / np.log2(ranks + 2), 0.0).mean()
        assert ndcg_at_k(scores, relevant, k=k, exclude=exclude) == pytest.approx(ndcg)


# ---------------------------------------------------------------------- top-k and coverage


def test_top_k_items_by_hand() -> None:
    scores = np.array([[0.2, 0.9, 0.5, 0.9, 0.1], [0.0, 0.0, 0.0, 0.3, 0.0]])
    # ties go to the lower column: row 0 -> 1, 3 (both 0.9), 2; row 1 -> 3, then 0, 1
    assert top_k_items(scores, k=3).tolist() == [[1, 3, 2], [3, 0, 1]]
    assert top_k_items(scores, k=3).dtype == np.int64
    exclude = np.array([[False, True, False, False, False], [True, True, True, True, False]])
    # row 1 has a single candidate left: padded with -1
    assert top_k_items(scores, k=3, exclude=exclude).tolist() == [[3, 2, 0], [4, -1, -1]]
    # k larger than the candidates: everything, best first
    assert top_k_items(scores, k=9).tolist() == [[1, 3, 2, 0, 4], [3, 0, 1, 2, 4]]


@pytest.mark.parametrize("seed", range(5))
def test_top_k_items_match_a_stable_sort(seed: int) -> None:
    rng = np.random.default_rng(seed)
    scores = rng.integers(0, 6, size=(50, 40)).astype(float)
    scores[rng.random(scores.shape) < 0.05] = -np.inf
    exclude = rng.random(scores.shape) < 0.4
    exclude[0, :-2] = True  # row 0: only two candidates left
    no_relevance = np.zeros(scores.shape, dtype=bool)
    for k in (1, 7, 40):
        got = top_k_items(scores, k=k, exclude=exclude)
        for row in range(50):
            ranking = reference_ranking(scores[row], no_relevance[row], exclude[row])
            expected = [c if not exclude[row, c] else -1 for c in ranking[:k]]
            assert got[row].tolist() == expected


def test_coverage_at_k() -> None:
    # items 0, 1, 4 of 8 appear (the -1 padding does not count): 3/8
    assert coverage_at_k(np.array([[0, 1], [1, 4], [4, -1]]), n_items=8) == 0.375
    scores = np.tile(np.arange(10.0), (5, 1))  # every user gets the same top 3
    assert coverage_at_k(top_k_items(scores, 3), n_items=10) == pytest.approx(0.3)
    with pytest.raises(ValueError, match="n_items is 4"):
        coverage_at_k([[0, 7]], n_items=4)


def test_first_column_relevant() -> None:
    mask = first_column_relevant((3, 4))
    assert mask.dtype == bool and mask.shape == (3, 4)
    assert mask[:, 0].all() and not mask[:, 1:].any()
