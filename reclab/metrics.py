"""Rating and ranking metrics, vectorised with numpy.

Rating metrics compare predicted and true ratings: :func:`rmse`, :func:`mae`, and
:func:`rating_metrics` (both, for a test table and its predictions, every test row required).

Ranking metrics score a matrix ``scores`` (n_users × n_candidates, higher = better) against a
boolean matrix ``relevant`` of the same shape, and return the mean over users as a float:
:func:`hit_rate_at_k`, :func:`ndcg_at_k`, :func:`precision_at_k`, :func:`recall_at_k`. The
candidates can be a sampled list (leave-one-out with 99 negatives: ``relevant`` is
:func:`first_column_relevant`) or the whole catalogue (full ranking: pass the items a user
already saw in training as ``exclude`` so they are removed from the ranking).

Tie policy (pessimistic): a relevant candidate whose score ties with non-relevant candidates
is ranked *after* them. A model that gives every candidate the same score (an untrained one)
therefore gets a hit rate of 0, never a flattering one; random scores give the expected
k / n_candidates. Relevant candidates tied with each other fill consecutive positions.
:func:`rank_of_positive` uses the same policy, so ``hit_rate_at_k(...) == mean(rank < k)``
when each user has one relevant item.

Example:
    >>> import numpy as np
    >>> scores = np.array([[0.9, 0.8, 0.1],    # the positive (column 0) is first: a hit
    ...                    [0.2, 0.7, 0.5]])   # the positive is third: a miss at k=2
    >>> hit_rate_at_k(scores, first_column_relevant(scores.shape), k=2)
    0.5
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd
import scipy.sparse as sp

__all__ = [
    "Mask",
    "coverage_at_k",
    "first_column_relevant",
    "hit_rate_at_k",
    "mae",
    "ndcg_at_k",
    "precision_at_k",
    "rank_of_positive",
    "rating_metrics",
    "recall_at_k",
    "rmse",
    "top_k_items",
]

#: A boolean (n_users × n_candidates) matrix, dense or scipy sparse: ``relevant``, ``exclude``.
Mask = npt.ArrayLike | sp.spmatrix | sp.sparray


# --------------------------------------------------------------------------------------------
# rating metrics


def _as_vector(values: npt.ArrayLike, name: str) -> np.ndarray:
    """1-d float64 view of ``values``; a Keras-style (n, 1) column is accepted and flattened."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-d (or an (n, 1) column), got shape {arr.shape}")
    n_nan = int(np.count_nonzero(np.isnan(arr)))
    if n_nan:
        raise ValueError(f"{name} contains {n_nan} NaN value(s) out of {arr.size}")
    return arr


def _rating_errors(y_true: npt.ArrayLike, y_pred: npt.ArrayLike) -> np.ndarray:
    true = _as_vector(y_true, "y_true")
    pred = _as_vector(y_pred, "y_pred")
    if true.size != pred.size:
        raise ValueError(f"y_true has {true.size} values but y_pred has {pred.size}")
    if true.size == 0:
        raise ValueError("y_true and y_pred are empty")
    return pred - true


def rmse(y_true: npt.ArrayLike, y_pred: npt.ArrayLike) -> float:
    """Root mean squared error, as a Python float.

    Example:
        >>> rmse([1, 2, 3, 4], [1, 2, 3, 6])   # sqrt((0 + 0 + 0 + 4) / 4)
        1.0
    """
    errors = _rating_errors(y_true, y_pred)
    return float(np.sqrt(np.mean(errors**2)))


def mae(y_true: npt.ArrayLike, y_pred: npt.ArrayLike) -> float:
    """Mean absolute error, as a Python float.

    Example:
        >>> mae([1, 2, 3, 4], [2, 2, 3, 1])    # (1 + 0 + 0 + 3) / 4
        1.0
    """
    errors = _rating_errors(y_true, y_pred)
    return float(np.mean(np.abs(errors)))


def _preview_pairs(frame: pd.DataFrame, limit: int = 3) -> str:
    pairs = [f"({u}, {i})" for u, i in frame[["user_id", "item_id"]].head(limit).to_numpy()]
    return ", ".join(pairs) + (", …" if len(frame) > limit else "")


def _joined_predictions(truth: pd.DataFrame, predictions: pd.DataFrame,
                        label: str) -> tuple[np.ndarray, np.ndarray]:
    """(true, predicted) ratings of ``truth``'s rows, matched on (user_id, item_id)."""
    keys = ["user_id", "item_id"]
    missing_cols = {*keys, "prediction"} - set(predictions.columns)
    if missing_cols:
        raise ValueError(
            f"{label}: the predictions lack column(s) {sorted(missing_cols)}; they need "
            "user_id, item_id, prediction (reclab.results.record_result writes them)"
        )
    dup = predictions[predictions.duplicated(keys, keep=False)]
    if len(dup):
        raise ValueError(f"{label}: {len(dup)} prediction rows repeat a (user, item) pair, "
                         f"e.g. {_preview_pairs(dup)}")
    joined = truth[[*keys, "rating"]].merge(predictions[[*keys, "prediction"]], on=keys,
                                            how="outer", indicator=True)
    absent = joined[joined["_merge"] == "left_only"]
    if len(absent):
        raise ValueError(f"{label}: {len(absent)} of {len(truth)} test rows have no prediction, "
                         f"e.g. (user, item) {_preview_pairs(absent)}")
    extra = joined[joined["_merge"] == "right_only"]
    if len(extra):
        raise ValueError(
            f"{label}: {len(extra)} predictions are for (user, item) pairs that are not in the "
            f"test set, e.g. {_preview_pairs(extra)}: were they made on another split?"
        )
    pred = pd.to_numeric(joined["prediction"], errors="coerce").to_numpy(dtype=np.float64)
    return joined["rating"].to_numpy(dtype=np.float64), pred


def rating_metrics(truth: pd.DataFrame, predictions: pd.DataFrame | npt.ArrayLike, *,
                   label: str = "predictions") -> dict[str, float]:
    """``{"rmse": …, "mae": …}`` of ``predictions`` for the test table ``truth``.

    ``truth`` has ``user_id, item_id, rating`` (e.g. u1.test). ``predictions`` is either
    one number per row of ``truth`` (in its order, e.g. ``model.predict`` output) or a
    DataFrame ``user_id, item_id, prediction`` in any order, which must predict every test
    row exactly once. Raises ValueError naming ``label`` otherwise, or on NaN/inf.

    Example:
        >>> import pandas as pd
        >>> truth = pd.DataFrame({"user_id": [1, 1], "item_id": [10, 20], "rating": [4, 2]})
        >>> rating_metrics(truth, [3.0, 2.0])
        {'rmse': 0.7071067811865476, 'mae': 0.5}
        >>> preds = pd.DataFrame({"user_id": [1], "item_id": [20], "prediction": [3.0]})
        >>> rating_metrics(truth, preds, label="dot")
        Traceback (most recent call last):
        ...
        ValueError: dot: 1 of 2 test rows have no prediction, e.g. (user, item) (1, 10)
    """
    if isinstance(predictions, pd.DataFrame):
        true, pred = _joined_predictions(truth, predictions, label)
    else:
        true = truth["rating"].to_numpy(dtype=np.float64)
        pred = np.asarray(predictions, dtype=np.float64).reshape(-1)
        if pred.size != true.size:
            raise ValueError(f"{label}: {pred.size} predictions for {true.size} test rows; "
                             "predict every row of the test table, in its order")
    bad = ~np.isfinite(pred)
    if bad.any():
        raise ValueError(f"{label}: {int(bad.sum())} predictions are missing, NaN or infinite")
    return {"rmse": rmse(true, pred), "mae": mae(true, pred)}


# --------------------------------------------------------------------------------------------
# ranking: shared machinery


def _as_score_matrix(scores: npt.ArrayLike) -> np.ndarray:
    arr = np.asarray(scores, dtype=np.float64)
    if arr.ndim != 2:
        raise ValueError(
            f"scores must be a 2-d (n_users, n_candidates) matrix, got shape {arr.shape}"
            + (" (one user? use scores.reshape(1, -1))" if arr.ndim == 1 else "")
        )
    n_nan = int(np.count_nonzero(np.isnan(arr)))
    if n_nan:
        raise ValueError(f"scores contain {n_nan} NaN value(s)")
    return arr


def _as_mask(mask: Mask, shape: tuple, name: str) -> np.ndarray:
    dense = mask.toarray() if sp.issparse(mask) else np.asarray(mask)
    if dense.shape != shape:
        raise ValueError(f"{name} has shape {dense.shape} but scores have shape {shape}")
    if dense.dtype != bool:
        raise TypeError(f"{name} must be a boolean matrix, got dtype {dense.dtype}")
    return dense


def _check_k(k: int) -> int:
    if int(k) != k or k < 1:
        raise ValueError(f"k must be a positive integer, got {k}")
    return int(k)


def _ordered_top_k(neg: np.ndarray, tier: np.ndarray, k: int) -> np.ndarray:
    """Columns of the first ``k`` entries of each row in the order (neg, tier, column).

    ``neg`` are negated scores (smaller = better), ``tier`` small ints that order ties
    (smaller first). Equivalent to a full ``np.lexsort((column, tier, neg))[:, :k]`` but
    linear in the row length: a partition finds each row's k-th value, entries strictly
    better are all in, and ties at that value are admitted tier by tier, column by column.
    """
    n_rows = neg.shape[0]
    kth = np.partition(neg, k - 1, axis=1)[:, k - 1 : k]
    selected = neg < kth
    free = k - selected.sum(axis=1, keepdims=True)
    tied = neg == kth
    for level in np.unique(tier[tied]):
        candidates = tied & (tier == level)
        admitted = candidates & (np.cumsum(candidates, axis=1) <= free)
        selected |= admitted
        free = free - admitted.sum(axis=1, keepdims=True)
    cols = np.nonzero(selected)[1].reshape(n_rows, k)
    order = np.lexsort(
        (cols, np.take_along_axis(tier, cols, axis=1), np.take_along_axis(neg, cols, axis=1))
    )
    return np.take_along_axis(cols, order, axis=1)


def _relevant_in_top_k(
    scores: npt.ArrayLike, relevant: Mask, k: int, exclude: Mask | None
) -> tuple[np.ndarray, np.ndarray]:
    """``(hits, n_relevant)``: hits[u, p] is True when position p of user u's ranking is relevant.

    Ranking: excluded candidates last, then by score (descending), ties pessimistic
    (non-relevant before relevant), then by column. ``hits`` has min(k, n_candidates) columns.
    """
    score_matrix = _as_score_matrix(scores)
    rel = _as_mask(relevant, score_matrix.shape, "relevant")
    k = min(_check_k(k), score_matrix.shape[1])
    n_relevant = rel.sum(axis=1)
    if np.any(n_relevant == 0):
        empty = np.flatnonzero(n_relevant == 0)
        raise ValueError(
            f"{empty.size} row(s) of relevant have no relevant item (e.g. rows "
            f"{empty[:5].tolist()}); drop those users before scoring"
        )
    tier = rel.astype(np.int8)  # 0 = non-relevant, 1 = relevant: pessimistic ties
    neg = -score_matrix
    if exclude is not None:
        excluded = _as_mask(exclude, score_matrix.shape, "exclude")
        if np.any(excluded & rel):
            raise ValueError(
                "some relevant items are also excluded; a held-out item must "
                "not be in the exclude mask (was it also in train?)"
            )
        neg[excluded] = np.inf
        tier[excluded] = 2  # after everything else, even after scores of -inf
    cols = _ordered_top_k(neg, tier, k)
    return np.take_along_axis(rel, cols, axis=1), n_relevant


def _discounts(k: int) -> np.ndarray:
    """1 / log2(position + 2) for positions 0..k−1."""
    return 1.0 / np.log2(np.arange(2, k + 2))


def first_column_relevant(shape: tuple[int, int]) -> np.ndarray:
    """Boolean matrix of ``shape``, True in column 0 only (one positive + sampled negatives).

    Example:
        >>> first_column_relevant((2, 3)).astype(int).tolist()
        [[1, 0, 0], [1, 0, 0]]
    """
    mask = np.zeros(shape, dtype=bool)
    mask[:, 0] = True
    return mask


# --------------------------------------------------------------------------------------------
# ranking metrics


def hit_rate_at_k(
    scores: npt.ArrayLike, relevant: Mask, k: int = 10, *, exclude: Mask | None = None
) -> float:
    """Fraction of users with at least one relevant item in their top ``k`` (HR@k).

    Example:
        >>> import numpy as np
        >>> scores = np.array([[3.0, 1.0, 2.0], [1.0, 3.0, 2.0]])
        >>> relevant = first_column_relevant(scores.shape)
        >>> hit_rate_at_k(scores, relevant, k=2)   # user 0: rank 1 (hit); user 1: rank 3
        0.5
    """
    hits, _ = _relevant_in_top_k(scores, relevant, k, exclude)
    return float(np.mean(hits.any(axis=1)))


def ndcg_at_k(
    scores: npt.ArrayLike, relevant: Mask, k: int = 10, *, exclude: Mask | None = None
) -> float:
    """Normalised discounted cumulative gain at ``k``, binary relevance, mean over users.

    DCG = sum over the top-k positions p = 0..k−1 of relevant / log2(p + 2); it is divided by
    the ideal DCG of a user with min(n_relevant, k) relevant items at the top.

    Example:
        >>> import numpy as np
        >>> scores = np.array([[1.0, 3.0, 2.0]])   # the positive (column 0) is at position 2
        >>> round(ndcg_at_k(scores, first_column_relevant(scores.shape), k=3), 4)  # 1/log2(4)
        0.5
    """
    hits, n_relevant = _relevant_in_top_k(scores, relevant, k, exclude)
    discounts = _discounts(hits.shape[1])
    dcg = hits @ discounts
    ideal = np.cumsum(discounts)[np.minimum(n_relevant, hits.shape[1]) - 1]
    return float(np.mean(dcg / ideal))


def precision_at_k(
    scores: npt.ArrayLike, relevant: Mask, k: int = 10, *, exclude: Mask | None = None
) -> float:
    """Relevant items in the top ``k``, divided by ``k``, mean over users.

    The denominator is ``k`` even when there are fewer than ``k`` candidates (as in
    microsoft/recommenders), so precision@k cannot reach 1 then.

    Example:
        >>> import numpy as np
        >>> scores = np.array([[4.0, 3.0, 2.0, 1.0]])
        >>> relevant = np.array([[True, False, True, False]])
        >>> precision_at_k(scores, relevant, k=2)   # top 2 = columns 0, 1: one relevant
        0.5
    """
    hits, _ = _relevant_in_top_k(scores, relevant, k, exclude)
    return float(np.mean(hits.sum(axis=1) / _check_k(k)))


def recall_at_k(
    scores: npt.ArrayLike, relevant: Mask, k: int = 10, *, exclude: Mask | None = None
) -> float:
    """Relevant items in the top ``k``, divided by the user's number of relevant items.

    Example:
        >>> import numpy as np
        >>> scores = np.array([[4.0, 3.0, 2.0, 1.0]])
        >>> relevant = np.array([[True, False, True, True]])
        >>> round(recall_at_k(scores, relevant, k=2), 4)   # 1 of 3 relevant in the top 2
        0.3333
    """
    hits, n_relevant = _relevant_in_top_k(scores, relevant, k, exclude)
    return float(np.mean(hits.sum(axis=1) / n_relevant))


def rank_of_positive(
    scores: npt.ArrayLike,
    positive: npt.ArrayLike,
    *,
    exclude: Mask | None = None,
) -> np.ndarray:
    """0-based rank of each user's one positive column among the non-excluded candidates.

    ``positive[u]`` is the column of user u's held-out item. Rank = number of non-excluded
    candidates scoring higher + number tying with it (pessimistic ties). Returns int64 of
    shape (n_users,); ``np.mean(rank < k)`` is HR@k and ``np.where(rank < k,
    1 / np.log2(rank + 2), 0).mean()`` is NDCG@k. Full ranking of 943 users × 1682 items
    takes a few milliseconds.

    Example:
        >>> import numpy as np
        >>> scores = np.array([[0.1, 0.9, 0.5], [0.7, 0.7, 0.2]])
        >>> rank_of_positive(scores, [2, 0]).tolist()   # user 1: tie with column 1 -> rank 1
        [1, 1]
        >>> rank_of_positive(scores, [2, 0], exclude=[[False, True, False],
        ...                                           [False, False, False]]).tolist()
        [0, 1]
    """
    score_matrix = _as_score_matrix(scores)
    pos = np.asarray(positive)
    n_users, n_candidates = score_matrix.shape
    if pos.shape != (n_users,):
        raise ValueError(f"positive must have shape ({n_users},), got {pos.shape}")
    if pos.size and not np.issubdtype(pos.dtype, np.integer):
        raise TypeError(f"positive must hold integer column indices, got dtype {pos.dtype}")
    if pos.size and (pos.min() < 0 or pos.max() >= n_candidates):
        raise ValueError(f"positive must lie in 0..{n_candidates - 1}")
    rows = np.arange(n_users)
    pos_scores = score_matrix[rows, pos][:, None]
    counted = np.ones(score_matrix.shape, dtype=bool)
    if exclude is not None:
        counted = ~_as_mask(exclude, score_matrix.shape, "exclude")
        if not np.all(counted[rows, pos]):
            raise ValueError("some positives are excluded; they must not be in the exclude mask")
    counted[rows, pos] = False  # the positive does not outrank itself
    return np.count_nonzero(counted & (score_matrix >= pos_scores), axis=1).astype(np.int64)


# --------------------------------------------------------------------------------------------
# recommendation lists


def top_k_items(
    scores: npt.ArrayLike,
    k: int,
    exclude: Mask | None = None,
) -> np.ndarray:
    """Column indices of the ``k`` best-scored candidates per row, best first.

    Ties go to the lower column index. ``exclude`` (boolean, same shape, e.g. the items a
    user already rated) removes candidates; a row with fewer than ``k`` candidates left is
    padded with -1. Returns int64 of shape (n_users, min(k, n_candidates)).

    Example:
        >>> import numpy as np
        >>> scores = np.array([[0.1, 0.9, 0.5, 0.9]])
        >>> top_k_items(scores, k=3).tolist()
        [[1, 3, 2]]
        >>> top_k_items(scores, k=3, exclude=[[False, True, False, False]]).tolist()
        [[3, 2, 0]]
    """
    score_matrix = _as_score_matrix(scores)
    k = min(_check_k(k), score_matrix.shape[1])
    neg = -score_matrix
    tier = np.zeros(score_matrix.shape, dtype=np.int8)
    excluded = None
    if exclude is not None:
        excluded = _as_mask(exclude, score_matrix.shape, "exclude")
        neg[excluded] = np.inf
        tier[excluded] = 1
    cols = _ordered_top_k(neg, tier, k)
    if excluded is not None:
        cols[np.take_along_axis(excluded, cols, axis=1)] = -1
    return cols


def coverage_at_k(top_k: npt.ArrayLike, n_items: int) -> float:
    """Fraction of the catalogue that appears in at least one user's top-k list.

    ``top_k`` is the output of :func:`top_k_items` (padding -1 is ignored).

    Example:
        >>> coverage_at_k([[0, 1], [1, 2]], n_items=10)   # items 0, 1, 2 of 10
        0.3
    """
    items = np.asarray(top_k)
    if items.size and not np.issubdtype(items.dtype, np.integer):
        raise TypeError(f"top_k must hold integer item indices, got dtype {items.dtype}")
    if int(n_items) != n_items or n_items < 1:
        raise ValueError(f"n_items must be a positive integer, got {n_items}")
    listed = items[items >= 0]
    if listed.size and listed.max() >= n_items:
        raise ValueError(f"top_k holds item {listed.max()} but n_items is {n_items}")
    return float(np.unique(listed).size / n_items)
