"""Negative sampling and leave-one-out ranking candidates, on id codes (``user_idx, item_idx``).

:func:`seen_matrix` records who interacted with what; :func:`sample_negatives` draws unseen
items for training (notebook 06_implicit_feedback); :func:`evaluation_candidates` builds the
NCF protocol's "one held-out positive plus 99 sampled negatives" rows as :class:`Candidates`.

Example:
    >>> import pandas as pd
    >>> seen = seen_matrix(pd.DataFrame({"user_idx": [0], "item_idx": [1]}), n_users=1, n_items=2)
    >>> sample_negatives([0], n_items=2, seen=seen, n_neg=1).tolist()
    [[0]]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
import scipy.sparse as sp

from reclab.columns import ITEM_IDX, USER_IDX, preview
from reclab.columns import require_columns as _require_columns

__all__ = ["Candidates", "evaluation_candidates", "sample_negatives", "seen_matrix"]

# Rejection rounds before the sampler switches, for the few draws still colliding, to an exact
# draw from each user's complement (only users who have seen almost the whole catalogue need it).
_MAX_REJECTION_ROUNDS = 32


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
            f"{short.size} user(s) {preview(short)} have fewer than {need} unseen item(s); "
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
