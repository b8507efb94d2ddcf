"""Splits and filters of a ratings table.

A ratings table is a DataFrame with the int64 columns ``user_id, item_id, rating, timestamp``
(as loaded by ``reclab.data``). Every split returns ``(train, test)``: two new DataFrames that
keep the input's columns, index and row order, so ``train.index`` and ``test.index`` are disjoint
and together give back the input's index. Id codes for Keras embeddings are
:mod:`reclab.encoding`'s job; negative sampling and ranking candidates are :mod:`reclab.sampling`'s.

Protocols, in the order the labs meet them:

- :func:`random_split` — explicit ratings, a seeded random 80/20 cut;
- :func:`stratified_split` — the same per user, so every user is seen in training;
- :func:`chronological_split` — one global time cut: train on the past, test on the future;
- :func:`last_n_split` / :func:`leave_one_out` — each user's latest rating(s) held out, the
  NCF protocol for implicit feedback, scored with
  :func:`reclab.sampling.evaluation_candidates` (one positive
  plus 99 sampled negatives) and by full ranking (``reclab.metrics``).

Example:
    >>> import pandas as pd
    >>> ratings = pd.DataFrame({"user_id": [1, 1, 1, 2, 2], "item_id": [10, 20, 30, 10, 40],
    ...                         "rating": [5, 3, 4, 2, 5], "timestamp": [3, 1, 2, 5, 4]})
    >>> train, test = leave_one_out(ratings)
    >>> test[["user_id", "item_id"]].to_numpy().tolist()
    [[1, 10], [2, 10]]
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

from reclab.columns import ITEM_COL, LABEL_COL, RATING_COL, TIMESTAMP_COL, USER_COL
from reclab.columns import require_columns as _require_columns

__all__ = [
    "binarize",
    "chronological_split",
    "filter_min_count",
    "last_n_split",
    "leave_one_out",
    "random_split",
    "stratified_split",
]


# --------------------------------------------------------------------------------------------
# helpers


def _check_test_size(test_size: float) -> None:
    if not 0.0 < float(test_size) < 1.0:
        raise ValueError(f"test_size must be a fraction strictly between 0 and 1, got {test_size}")


def _round_half_up(x: npt.ArrayLike) -> np.ndarray:
    """Round halves up (Python's round() rounds halves to even, which surprises students)."""
    return np.floor(np.asarray(x, dtype=np.float64) + 0.5).astype(np.int64)


def _split_by_mask(df: pd.DataFrame, is_test: np.ndarray) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(rows where not is_test, rows where is_test), both new frames in the input's row order."""
    train = df.iloc[np.flatnonzero(~is_test)].copy()
    test = df.iloc[np.flatnonzero(is_test)].copy()
    return train, test


def _group_positions(keys: np.ndarray, *sort_keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rank of each row inside its group of ``keys`` when ordered by ``sort_keys``.

    Returns ``(rank, group_size)`` per row, both int64; ``sort_keys`` are given most
    significant first and ties fall back to the original row order.
    """
    n = keys.size
    _, codes, counts = np.unique(keys, return_inverse=True, return_counts=True)
    # np.lexsort sorts by its *last* key first: group, then sort_keys, then row number.
    order = np.lexsort((np.arange(n), *reversed(sort_keys), codes))
    starts = np.cumsum(counts) - counts
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n) - starts[codes[order]]
    return rank, counts[codes]


# --------------------------------------------------------------------------------------------
# splits


def random_split(
    df: pd.DataFrame, test_size: float = 0.2, seed: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Seeded random split of the rows: ``round(test_size * len(df))`` rows go to test.

    Example:
        >>> import pandas as pd
        >>> df = pd.DataFrame({"user_id": range(10), "item_id": range(10)})
        >>> train, test = random_split(df, test_size=0.2, seed=0)
        >>> len(train), len(test)
        (8, 2)
    """
    _check_test_size(test_size)
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"random_split: expected a pandas DataFrame, got {type(df).__name__}")
    n = len(df)
    n_test = int(_round_half_up(test_size * n))
    rng = np.random.default_rng(seed)
    is_test = np.zeros(n, dtype=bool)
    is_test[rng.permutation(n)[:n_test]] = True
    return _split_by_mask(df, is_test)


def stratified_split(
    df: pd.DataFrame, test_size: float = 0.2, seed: int = 0, user_col: str = USER_COL
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Seeded random split *per user*: each user keeps ~``1 - test_size`` of their rows in train.

    A user with ``n`` rows sends ``min(round(test_size * n), n - 1)`` random rows to test
    (halves round up), so every user stays in train, and users with a single rating (or too
    few for one test row, e.g. 2 ratings at 0.2) stay entirely in train.

    Example:
        >>> import pandas as pd
        >>> df = pd.DataFrame({"user_id": [1] * 10 + [2], "item_id": range(11)})
        >>> train, test = stratified_split(df, test_size=0.2, seed=0)
        >>> test["user_id"].value_counts().to_dict(), sorted(train["user_id"].unique().tolist())
        ({1: 2}, [1, 2])
    """
    _check_test_size(test_size)
    _require_columns(df, [user_col], "stratified_split")
    rng = np.random.default_rng(seed)
    users = df[user_col].to_numpy()
    rank, n_rows = _group_positions(users, rng.permutation(len(df)))
    n_test = np.minimum(_round_half_up(test_size * n_rows), n_rows - 1)
    return _split_by_mask(df, rank < n_test)


def chronological_split(
    df: pd.DataFrame, test_size: float = 0.2
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One global time cut: the latest ``round(test_size * len(df))`` rows go to test.

    Rows are ordered by ``timestamp``; rows with equal timestamps keep their original order,
    so at the cut the later rows of the table are the ones sent to test. Every train
    timestamp is <= every test timestamp. Users and items may appear only in test
    (the cold-start cases a time split is meant to show).

    Example:
        >>> import pandas as pd
        >>> df = pd.DataFrame({"user_id": [1, 2, 3, 4, 5], "timestamp": [50, 10, 40, 20, 30]})
        >>> train, test = chronological_split(df, test_size=0.4)
        >>> test["timestamp"].tolist()
        [50, 40]
    """
    _check_test_size(test_size)
    _require_columns(df, [TIMESTAMP_COL], "chronological_split")
    n = len(df)
    n_test = int(_round_half_up(test_size * n))
    order = np.argsort(df[TIMESTAMP_COL].to_numpy(), kind="stable")
    is_test = np.zeros(n, dtype=bool)
    is_test[order[n - n_test :]] = True
    return _split_by_mask(df, is_test)


def last_n_split(df: pd.DataFrame, n: int = 1) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per user, the ``n`` latest rows (by ``timestamp``) go to test, the rest to train.

    Ties in ``timestamp`` are broken by row order: of two rows with the same timestamp, the
    one further down the table counts as the later. A user always keeps at least one row in
    train: a user with ``m <= n`` rows sends only ``m - 1`` to test (a single-rating user
    stays entirely in train).

    Example:
        >>> import pandas as pd
        >>> df = pd.DataFrame({"user_id": [1, 1, 1, 2, 2], "item_id": [10, 20, 30, 10, 40],
        ...                    "timestamp": [3, 1, 2, 5, 4]})
        >>> train, test = last_n_split(df, n=2)
        >>> test["item_id"].tolist(), train["item_id"].tolist()
        ([10, 30, 10], [20, 40])
    """
    if int(n) != n or n < 1:
        raise ValueError(f"n must be a positive integer, got {n}")
    _require_columns(df, [USER_COL, TIMESTAMP_COL], "last_n_split")
    users = df[USER_COL].to_numpy()
    rank, n_rows = _group_positions(users, df[TIMESTAMP_COL].to_numpy())
    rank_from_latest = n_rows - 1 - rank
    n_test = np.minimum(int(n), n_rows - 1)
    return _split_by_mask(df, rank_from_latest < n_test)


def leave_one_out(df: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Leave-one-out by latest timestamp: each user's latest row is the test row.

    This is the NCF protocol (He et al., 2017): train on everything else, then rank each
    user's held-out item against sampled negatives (:func:`evaluation_candidates`) or against
    all unseen items. Same as ``last_n_split(df, n=1)``: timestamp ties go to the row further
    down the table, and single-rating users stay in train only.

    Example:
        >>> import pandas as pd
        >>> df = pd.DataFrame({"user_id": [1, 1, 2], "item_id": [10, 20, 10],
        ...                    "timestamp": [2, 1, 7]})
        >>> train, test = leave_one_out(df)
        >>> test["item_id"].tolist(), train["item_id"].tolist()
        ([10], [20, 10])
    """
    return last_n_split(df, n=1)


# --------------------------------------------------------------------------------------------
# filters


def filter_min_count(df: pd.DataFrame, min_user: int = 1, min_item: int = 1) -> pd.DataFrame:
    """Keep rows whose user has >= ``min_user`` rows and item >= ``min_item`` rows.

    Dropping items can push a user below the threshold and vice versa, so the filter is
    repeated until nothing changes (the "k-core" of the table). Returns a new DataFrame,
    index and row order kept.

    Example:
        >>> import pandas as pd
        >>> df = pd.DataFrame({"user_id": [1, 1, 2, 2, 3], "item_id": [10, 20, 10, 20, 30]})
        >>> filter_min_count(df, min_user=2, min_item=2)["user_id"].tolist()
        [1, 1, 2, 2]
    """
    for name, value in (("min_user", min_user), ("min_item", min_item)):
        if int(value) != value or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value}")
    _require_columns(df, [USER_COL, ITEM_COL], "filter_min_count")
    _, user_codes = np.unique(df[USER_COL].to_numpy(), return_inverse=True)
    _, item_codes = np.unique(df[ITEM_COL].to_numpy(), return_inverse=True)
    keep = np.ones(len(df), dtype=bool)
    while True:
        user_counts = np.bincount(user_codes[keep], minlength=user_codes.max(initial=0) + 1)
        item_counts = np.bincount(item_codes[keep], minlength=item_codes.max(initial=0) + 1)
        still = keep & (user_counts[user_codes] >= min_user) & (item_counts[item_codes] >= min_item)
        if np.array_equal(still, keep):
            break
        keep = still
    return df.iloc[np.flatnonzero(keep)].copy()


def binarize(df: pd.DataFrame, threshold: float = 4, keep_all: bool = False) -> pd.DataFrame:
    """Turn explicit ratings into implicit feedback: a table of positive interactions.

    Rows with ``rating >= threshold`` are kept (with ``keep_all=True``: every row, i.e. "the
    user rated it" counts as an interaction, whatever the rating). The ``rating`` column is
    dropped, so it cannot leak into an implicit model, and an int64 ``label`` column of 1 is
    added. Non-positive rows are *not* kept as negatives: in implicit feedback negatives are
    sampled (:func:`sample_negatives`). Other columns, the index and the row order are kept.

    Example:
        >>> import pandas as pd
        >>> df = pd.DataFrame({"user_id": [1, 1, 2], "item_id": [10, 20, 10],
        ...                    "rating": [5, 3, 4], "timestamp": [1, 2, 3]})
        >>> binarize(df).to_dict("list")
        {'user_id': [1, 2], 'item_id': [10, 10], 'timestamp': [1, 3], 'label': [1, 1]}
        >>> len(binarize(df, keep_all=True))
        3
    """
    _require_columns(df, [RATING_COL], "binarize")
    if keep_all:
        kept = df.copy()
    else:
        kept = df.iloc[np.flatnonzero(df[RATING_COL].to_numpy() >= threshold)].copy()
    kept = kept.drop(columns=RATING_COL)
    return kept.assign(**{LABEL_COL: np.ones(len(kept), dtype=np.int64)})
