"""Splits, filters, id encoding and negative sampling for a ratings table.

A ratings table is a DataFrame with the int64 columns ``user_id, item_id, rating, timestamp``
(as loaded by ``reclab.data``). Every split returns ``(train, test)``: two new DataFrames that
keep the input's columns, index and row order, so ``train.index`` and ``test.index`` are disjoint
and together give back the input's index. After :class:`IdEncoder` the tables also carry the
contiguous codes ``user_idx, item_idx`` (int64, 0..n−1) that Keras embeddings need; the
negative-sampling functions work on those codes.

Protocols, in the order the labs meet them:

- :func:`random_split` — explicit ratings, a seeded random 80/20 cut;
- :func:`stratified_split` — the same per user, so every user is seen in training;
- :func:`chronological_split` — one global time cut: train on the past, test on the future;
- :func:`last_n_split` / :func:`leave_one_out` — each user's latest rating(s) held out, the
  NCF protocol for implicit feedback, scored with :func:`evaluation_candidates` (one positive
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

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
import scipy.sparse as sp

__all__ = [
    "Candidates",
    "IdEncoder",
    "binarize",
    "chronological_split",
    "evaluation_candidates",
    "filter_min_count",
    "last_n_split",
    "leave_one_out",
    "random_split",
    "sample_negatives",
    "seen_matrix",
    "stratified_split",
]

USER_COL = "user_id"
ITEM_COL = "item_id"
RATING_COL = "rating"
TIMESTAMP_COL = "timestamp"
USER_IDX = "user_idx"
ITEM_IDX = "item_idx"
LABEL_COL = "label"

# Rejection rounds before the sampler switches, for the few draws still colliding, to an exact
# draw from each user's complement (only users who have seen almost the whole catalogue need it).
_MAX_REJECTION_ROUNDS = 32


# --------------------------------------------------------------------------------------------
# helpers


def _require_columns(df: pd.DataFrame, columns: Sequence[str], where: str) -> None:
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"{where}: expected a pandas DataFrame, got {type(df).__name__}")
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(
            f"{where}: missing column(s) {missing}; the DataFrame has {list(df.columns)}"
        )


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


# --------------------------------------------------------------------------------------------
# id encoding


def _preview(ids: np.ndarray, limit: int = 5) -> str:
    shown = ", ".join(str(x) for x in ids[:limit].tolist())
    return f"[{shown}{', …' if ids.size > limit else ''}]"


class IdEncoder:
    """Map raw ``user_id`` / ``item_id`` to contiguous codes 0..n−1 (sorted by raw id), and back.

    Fit it on the training ratings: a user or item that only appears in the test set would
    get an embedding row that training never updates (a random vector, not knowledge).
    Test ids that training never saw need a policy and a fallback prediction (e.g. the
    global mean or the user's bias). Keras embeddings need ``input_dim = n_users``.
    ``transform`` adds int64 columns ``user_idx`` and ``item_idx``. Ids that ``fit`` never saw
    are handled by ``unknown``:

    - ``"error"`` (default): raise a ValueError saying how many unseen users/items and which;
    - ``"drop"``: silently drop the rows with an unseen user or item (no warning);
    - ``"keep"``: keep those rows with code -1 (never feed -1 to an embedding layer).

    Example:
        >>> import pandas as pd
        >>> df = pd.DataFrame({"user_id": [7, 3, 7], "item_id": [50, 181, 181]})
        >>> enc = IdEncoder().fit(df)
        >>> enc
        IdEncoder(n_users=2, n_items=2)
        >>> enc.transform(df)[["user_idx", "item_idx"]].to_numpy().tolist()
        [[1, 0], [0, 1], [1, 1]]
        >>> enc.inverse_items([1, 0]).tolist()
        [181, 50]
    """

    def __init__(self) -> None:
        self._user_ids: np.ndarray | None = None
        self._item_ids: np.ndarray | None = None

    # -- fitted state ---------------------------------------------------------------------

    def _fitted(self) -> tuple[np.ndarray, np.ndarray]:
        if self._user_ids is None or self._item_ids is None:
            raise RuntimeError("this IdEncoder is not fitted yet: call fit(ratings) first")
        return self._user_ids, self._item_ids

    @property
    def user_ids(self) -> np.ndarray:
        """Raw user ids in code order: ``user_ids[code]`` is the raw id (a read-only array)."""
        return self._fitted()[0]

    @property
    def item_ids(self) -> np.ndarray:
        """Raw item ids in code order: ``item_ids[code]`` is the raw id (a read-only array)."""
        return self._fitted()[1]

    @property
    def n_users(self) -> int:
        """Number of distinct users seen by ``fit`` (a Python int)."""
        return int(self.user_ids.size)

    @property
    def n_items(self) -> int:
        """Number of distinct items seen by ``fit`` (a Python int)."""
        return int(self.item_ids.size)

    def __repr__(self) -> str:
        if self._user_ids is None or self._item_ids is None:
            return "IdEncoder(not fitted)"
        return f"IdEncoder(n_users={self.n_users}, n_items={self.n_items})"

    # -- fit / transform ------------------------------------------------------------------

    def fit(self, df: pd.DataFrame) -> IdEncoder:
        """Learn the codes from ``df``'s ``user_id`` and ``item_id``; returns ``self``."""
        _require_columns(df, [USER_COL, ITEM_COL], "IdEncoder.fit")
        ids = []
        for col in (USER_COL, ITEM_COL):
            values = df[col]
            if values.isna().any():
                raise ValueError(f"IdEncoder.fit: column {col!r} has missing values")
            unique = np.unique(values.to_numpy())
            unique.setflags(write=False)
            ids.append(unique)
        self._user_ids, self._item_ids = ids
        return self

    def transform(
        self, df: pd.DataFrame, unknown: Literal["error", "drop", "keep"] = "error"
    ) -> pd.DataFrame:
        """Return a copy of ``df`` with int64 ``user_idx`` and ``item_idx`` columns added."""
        if unknown not in ("error", "drop", "keep"):
            raise ValueError(f"unknown must be 'error', 'drop' or 'keep', got {unknown!r}")
        user_ids, item_ids = self._fitted()
        _require_columns(df, [USER_COL, ITEM_COL], "IdEncoder.transform")
        user_idx, user_known = _encode(user_ids, df[USER_COL].to_numpy())
        item_idx, item_known = _encode(item_ids, df[ITEM_COL].to_numpy())
        known = user_known & item_known
        if unknown == "error" and not known.all():
            new_users = np.unique(df[USER_COL].to_numpy()[~user_known])
            new_items = np.unique(df[ITEM_COL].to_numpy()[~item_known])
            unseen = " and ".join(
                f"{ids.size} {kind} id(s) {_preview(ids)}"
                for kind, ids in (("user", new_users), ("item", new_items))
                if ids.size
            )
            raise ValueError(
                f"IdEncoder.transform: {unseen} in {np.count_nonzero(~known)} row(s) were not "
                "seen by fit(), so a model trained on the fitted table has no learned vector "
                "for them. Pass unknown='drop' to leave those rows out, or unknown='keep' to "
                "code them as -1 and give them a fallback prediction (e.g. the mean training "
                "rating). Refitting the encoder on a table that includes the test rows would "
                "only give them codes whose vectors are never trained."
            )
        out = df.assign(**{USER_IDX: user_idx, ITEM_IDX: item_idx})
        if unknown == "drop":
            out = out.iloc[np.flatnonzero(known)].copy()
        return out

    def fit_transform(self, df: pd.DataFrame) -> pd.DataFrame:
        """``fit(df)`` then ``transform(df)``."""
        return self.fit(df).transform(df)

    def inverse_users(self, idx: npt.ArrayLike) -> np.ndarray:
        """Raw user ids for the codes ``idx`` (IndexError for codes outside 0..n_users−1)."""
        return _decode(self.user_ids, idx, "user")

    def inverse_items(self, idx: npt.ArrayLike) -> np.ndarray:
        """Raw item ids for the codes ``idx`` (IndexError for codes outside 0..n_items−1)."""
        return _decode(self.item_ids, idx, "item")


def _encode(sorted_ids: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Codes of ``values`` in ``sorted_ids`` (int64, -1 where unseen) and the "seen" mask."""
    pos = np.searchsorted(sorted_ids, values)
    clipped = np.minimum(pos, max(sorted_ids.size - 1, 0))
    known = sorted_ids[clipped] == values if sorted_ids.size else np.zeros(values.size, dtype=bool)
    return np.where(known, pos, -1).astype(np.int64), known


def _decode(ids: np.ndarray, idx: npt.ArrayLike, what: str) -> np.ndarray:
    codes = np.asarray(idx)
    if codes.size and not np.issubdtype(codes.dtype, np.integer):
        raise TypeError(f"{what} codes must be integers, got dtype {codes.dtype}")
    bad = (codes < 0) | (codes >= ids.size)
    if np.any(bad):
        raise IndexError(
            f"{what} code(s) {_preview(np.unique(codes[bad]))} out of range 0..{ids.size - 1}"
        )
    return ids[codes.astype(np.int64)]


# --------------------------------------------------------------------------------------------
# negative sampling


def seen_matrix(df: pd.DataFrame, n_users: int, n_items: int) -> sp.csr_matrix:
    """Boolean CSR matrix (n_users × n_items), True where ``(user_idx, item_idx)`` is in ``df``.

    Duplicate rows count once. This is the ``seen`` argument of :func:`sample_negatives`, and
    (``.toarray()``) an ``exclude`` mask for full ranking in ``reclab.metrics``.

    Example:
        >>> import pandas as pd
        >>> df = pd.DataFrame({"user_idx": [0, 0, 1], "item_idx": [2, 0, 2]})
        >>> seen_matrix(df, n_users=2, n_items=3).toarray().astype(int).tolist()
        [[1, 0, 1], [0, 0, 1]]
    """
    _require_columns(df, [USER_IDX, ITEM_IDX], "seen_matrix")
    users = df[USER_IDX].to_numpy().astype(np.int64)
    items = df[ITEM_IDX].to_numpy().astype(np.int64)
    n_users, n_items = int(n_users), int(n_items)
    for name, codes, n in (("user_idx", users, n_users), ("item_idx", items, n_items)):
        if codes.size and (codes.min() < 0 or codes.max() >= n):
            raise ValueError(
                f"seen_matrix: {name} must lie in 0..{n - 1}, found values from "
                f"{codes.min()} to {codes.max()} (unknown ids coded as -1?)"
            )
    keys = _sorted_unique(users * n_items + items)
    data = np.ones(keys.size, dtype=bool)
    return sp.csr_matrix((data, (keys // n_items, keys % n_items)), shape=(n_users, n_items))


def _sorted_unique(keys: np.ndarray) -> np.ndarray:
    """``np.unique`` for int keys by sort + diff (much faster than hashing for ~1e5 keys)."""
    ordered = np.sort(keys)
    if ordered.size == 0:
        return ordered
    first = np.empty(ordered.size, dtype=bool)
    first[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=first[1:])
    return ordered[first]


def _seen_keys(seen: sp.spmatrix | sp.sparray) -> np.ndarray:
    """Sorted unique keys ``user * n_items + item`` of the nonzero entries of ``seen``."""
    csr = sp.csr_matrix(seen)
    n_rows, n_cols = csr.shape
    rows = np.repeat(np.arange(n_rows, dtype=np.int64), np.diff(csr.indptr))
    keys = rows * n_cols + csr.indices.astype(np.int64)
    keys = keys[csr.data != 0]
    if csr.has_canonical_format:  # sorted, no duplicates: what seen_matrix() builds
        return keys
    return _sorted_unique(keys)


def _is_in_sorted(keys: np.ndarray, sorted_keys: np.ndarray) -> np.ndarray:
    """Vectorised membership test of ``keys`` in the sorted array ``sorted_keys``."""
    if sorted_keys.size == 0:
        return np.zeros(keys.shape, dtype=bool)
    pos = np.searchsorted(sorted_keys, keys)
    np.minimum(pos, sorted_keys.size - 1, out=pos)
    return sorted_keys[pos] == keys


def _repeats_in_rows(a: np.ndarray) -> np.ndarray:
    """Mask of entries equal to an entry further left in the same row (first ones stay False)."""
    order = np.argsort(a, axis=1, kind="stable")
    ordered = np.take_along_axis(a, order, axis=1)
    repeat_sorted = np.zeros(a.shape, dtype=bool)
    repeat_sorted[:, 1:] = ordered[:, 1:] == ordered[:, :-1]
    repeats = np.empty_like(repeat_sorted)
    np.put_along_axis(repeats, order, repeat_sorted, axis=1)
    return repeats


def _draw_unseen(
    users: np.ndarray,
    n_items: int,
    seen_keys: np.ndarray,
    n_neg: int,
    rng: np.random.Generator,
    replace: bool,
) -> np.ndarray:
    """Rejection sampling of ``n_neg`` unseen items per entry of ``users``, all rows at once."""
    out = rng.integers(0, n_items, size=(users.size, n_neg), dtype=np.int64)
    bad = _is_in_sorted(users[:, None] * n_items + out, seen_keys)
    if not replace:
        bad |= _repeats_in_rows(out)
    for _ in range(_MAX_REJECTION_ROUNDS):
        if not bad.any():
            return out
        rows, cols = np.nonzero(bad)
        out[rows, cols] = rng.integers(0, n_items, size=rows.size, dtype=np.int64)
        if replace:  # only the redrawn cells can be bad
            bad[rows, cols] = _is_in_sorted(users[rows] * n_items + out[rows, cols], seen_keys)
        else:  # a redraw can repeat any item of its row: recheck the touched rows
            touched = np.unique(rows)
            sub = out[touched]
            bad[touched] = _is_in_sorted(users[touched, None] * n_items + sub, seen_keys)
            bad[touched] |= _repeats_in_rows(sub)
    # Users who have seen nearly every item: draw exactly from what is left for them.
    for row in np.unique(np.nonzero(bad)[0]):
        user_keys = seen_keys[
            np.searchsorted(seen_keys, users[row] * n_items) : np.searchsorted(
                seen_keys, (users[row] + 1) * n_items
            )
        ]
        taken = user_keys - users[row] * n_items
        if not replace:
            taken = np.concatenate([taken, out[row, ~bad[row]]])
        allowed = np.setdiff1d(np.arange(n_items), taken)
        out[row, bad[row]] = rng.choice(allowed, size=np.count_nonzero(bad[row]), replace=replace)
    return out


def _check_users(users: npt.ArrayLike, n_users: int) -> np.ndarray:
    arr = np.asarray(users)
    if arr.ndim != 1:
        raise ValueError(f"users must be a 1-d array of user codes, got shape {arr.shape}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"users must be integer codes (user_idx), got dtype {arr.dtype}")
    arr = arr.astype(np.int64)
    if arr.size and (arr.min() < 0 or arr.max() >= n_users):
        raise ValueError(
            f"users must lie in 0..{n_users - 1} (the rows of `seen`), "
            f"found values from {arr.min()} to {arr.max()}"
        )
    return arr


def sample_negatives(
    users: npt.ArrayLike,
    n_items: int,
    seen: sp.spmatrix | sp.sparray,
    n_neg: int = 4,
    seed: int | np.random.Generator = 0,
    *,
    replace: bool = True,
) -> np.ndarray:
    """Draw ``n_neg`` items per entry of ``users`` that the user has not interacted with.

    ``users`` are user codes (``user_idx``, may repeat, e.g. one per positive row); ``seen`` is
    the (n_users × n_items) sparse matrix of interactions from :func:`seen_matrix`. Returns
    an int64 array of shape ``(len(users), n_neg)`` of item codes in ``0..n_items−1``, never a
    seen item. Draws are uniform over each user's unseen items and independent, so a row may
    hold the same item twice (and two rows of one user share nothing but the seed); pass
    ``replace=False`` to get distinct items within each row. The result depends only on
    the inputs and ``seed`` (an int, or a ``np.random.Generator`` to continue a stream,
    e.g. fresh negatives every epoch).

    Vectorised rejection sampling: draw everything at once, find the collisions with one
    ``np.searchsorted`` on the sorted keys ``user * n_items + item``, redraw only those.

    Example:
        >>> import pandas as pd
        >>> seen = seen_matrix(pd.DataFrame({"user_idx": [0, 0], "item_idx": [0, 1]}), 1, 3)
        >>> sample_negatives([0, 0], n_items=3, seen=seen, n_neg=2).tolist()
        [[2, 2], [2, 2]]
    """
    if isinstance(seen, pd.DataFrame):
        raise TypeError(
            "seen must be a scipy.sparse matrix; build it with "
            "seen_matrix(df, n_users, n_items) from a DataFrame with user_idx, item_idx"
        )
    if not sp.issparse(seen):
        raise TypeError(f"seen must be a scipy.sparse matrix, got {type(seen).__name__}")
    n_items = int(n_items)
    if seen.shape[1] != n_items:
        raise ValueError(f"seen has {seen.shape[1]} columns but n_items is {n_items}")
    if int(n_neg) != n_neg or n_neg < 0:
        raise ValueError(f"n_neg must be a non-negative integer, got {n_neg}")
    n_neg = int(n_neg)
    users_arr = _check_users(users, seen.shape[0])
    keys = _seen_keys(seen)
    n_unseen = n_items - np.bincount(keys // n_items, minlength=seen.shape[0])
    need = n_neg if not replace else min(n_neg, 1)
    short = np.unique(users_arr[n_unseen[users_arr] < need])
    if short.size:
        raise ValueError(
            f"{short.size} user(s) {_preview(short)} have fewer than {need} unseen item(s); "
            f"cannot draw {n_neg} negative(s) {'distinct ' if not replace else ''}for them"
        )
    rng = np.random.default_rng(seed)
    return _draw_unseen(users_arr, n_items, keys, n_neg, rng, replace)


@dataclass(frozen=True, eq=False)
class Candidates:
    """Items to score for leave-one-out evaluation, one row per test row.

    ``users`` (int64, shape (n,)) are user codes; ``items`` (int64, shape (n, 1 + n_neg)) are
    item codes, column 0 the held-out positive, the other columns sampled negatives. Score
    everything in one ``model.predict`` call with :meth:`model_inputs` and
    :meth:`reshape_scores`, then pass ``relevant`` to the ``reclab.metrics`` ranking metrics.

    Example:
        >>> import numpy as np
        >>> cand = Candidates(users=np.array([4, 9]), items=np.array([[1, 5, 6], [2, 7, 8]]))
        >>> users, items = cand.model_inputs()
        >>> users.tolist(), items.tolist()
        ([4, 4, 4, 9, 9, 9], [1, 5, 6, 2, 7, 8])
        >>> cand.reshape_scores(np.arange(6.0)).shape
        (2, 3)
    """

    users: np.ndarray
    items: np.ndarray

    def __len__(self) -> int:
        return int(self.users.size)

    @property
    def positives(self) -> np.ndarray:
        """The held-out item of each row (``items[:, 0]``)."""
        return self.items[:, 0]

    @property
    def relevant(self) -> np.ndarray:
        """Boolean matrix shaped like ``items``, True in column 0 only."""
        mask = np.zeros(self.items.shape, dtype=bool)
        mask[:, 0] = True
        return mask

    def model_inputs(self) -> tuple[np.ndarray, np.ndarray]:
        """Flat ``(users, items)`` arrays, row-major: ``model.predict([users, items])``."""
        return np.repeat(self.users, self.items.shape[1]), self.items.ravel()

    def reshape_scores(self, scores: npt.ArrayLike) -> np.ndarray:
        """Turn the flat predictions for :meth:`model_inputs` into an (n, 1 + n_neg) matrix."""
        flat = np.asarray(scores, dtype=np.float64)
        if flat.size != self.items.size:
            raise ValueError(
                f"expected {self.items.size} scores (one per candidate), got {flat.size}"
            )
        return flat.reshape(self.items.shape)


def evaluation_candidates(
    train: pd.DataFrame, test: pd.DataFrame, n_items: int, n_neg: int = 99, seed: int = 0
) -> Candidates:
    """Leave-one-out candidates: each test row's item followed by ``n_neg`` sampled negatives.

    Negatives are distinct within a row, drawn uniformly from the items the user interacted
    with in neither ``train`` nor ``test``. Both frames need ``user_idx`` and ``item_idx``;
    rows come in ``test``'s order (one per user after :func:`leave_one_out`). Seeded.

    Example:
        >>> import pandas as pd
        >>> train = pd.DataFrame({"user_idx": [0, 0, 1], "item_idx": [0, 1, 2]})
        >>> test = pd.DataFrame({"user_idx": [0, 1], "item_idx": [2, 3]})
        >>> cand = evaluation_candidates(train, test, n_items=5, n_neg=2)
        >>> cand.items.shape, cand.positives.tolist(), sorted(cand.items[0, 1:].tolist())
        ((2, 3), [2, 3], [3, 4])
    """
    _require_columns(train, [USER_IDX, ITEM_IDX], "evaluation_candidates (train)")
    _require_columns(test, [USER_IDX, ITEM_IDX], "evaluation_candidates (test)")
    both = pd.concat([train[[USER_IDX, ITEM_IDX]], test[[USER_IDX, ITEM_IDX]]], ignore_index=True)
    n_users = int(both[USER_IDX].max()) + 1 if len(both) else 0
    seen = seen_matrix(both, n_users=n_users, n_items=n_items)
    users = test[USER_IDX].to_numpy().astype(np.int64)
    positives = test[ITEM_IDX].to_numpy().astype(np.int64)
    negatives = sample_negatives(users, n_items, seen, n_neg=n_neg, seed=seed, replace=False)
    return Candidates(users=users, items=np.column_stack([positives, negatives]))
