"""Id encoding: raw MovieLens ``user_id`` / ``item_id`` to the contiguous codes embeddings need.

Taught in notebook 01_regression_dot (why codes must come from the training ratings) and used
by every notebook after it.

Example:
    >>> import pandas as pd
    >>> train = pd.DataFrame({"user_id": [7, 3], "item_id": [50, 181]})
    >>> IdEncoder().fit(train).transform(train)[["user_idx", "item_idx"]].to_numpy().tolist()
    [[1, 0], [0, 1]]
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from reclab.columns import ITEM_COL, ITEM_IDX, USER_COL, USER_IDX, preview
from reclab.columns import require_columns as _require_columns

__all__ = ["Encoded", "IdEncoder"]


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
                f"{ids.size} {kind} id(s) {preview(ids)}"
                for kind, ids in (("user", new_users), ("item", new_items))
                if ids.size
            )
            raise ValueError(
                f"IdEncoder.transform: {unseen} in {np.count_nonzero(~known)} row(s) were not "
                "seen by fit(),\nso a model trained on the fitted table has no learned vector "
                "for them.\nPass unknown='drop' to leave those rows out, or unknown='keep' to "
                "code them as -1\nand give them a fallback prediction (e.g. the mean training "
                "rating). Refitting the\nencoder on a table that includes the test rows would "
                "only give them codes whose\nvectors are never trained."
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


class Encoded:
    """Base for data coded by an ``encoder``: its ``n_users`` and ``n_items`` are the encoder's.

    A dataclass with an ``encoder: IdEncoder`` field inherits it instead of writing the two
    properties again (:class:`reclab.models.U1Data`, :class:`reclab.protocols.LeaveOneOut`).

    Example:
        >>> from dataclasses import dataclass
        >>> import pandas as pd
        >>> @dataclass(frozen=True)
        ... class Coded(Encoded):
        ...     encoder: IdEncoder
        >>> ratings = pd.DataFrame({"user_id": [7, 3], "item_id": [50, 50]})
        >>> coded = Coded(IdEncoder().fit(ratings))
        >>> coded.n_users, coded.n_items
        (2, 1)
    """

    encoder: IdEncoder

    @property
    def n_users(self) -> int:
        """Number of user codes (the rows of a user embedding)."""
        return self.encoder.n_users

    @property
    def n_items(self) -> int:
        """Number of item codes (the rows of an item embedding)."""
        return self.encoder.n_items


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
            f"{what} code(s) {preview(np.unique(codes[bad]))} out of range 0..{ids.size - 1}"
        )
    return ids[codes.astype(np.int64)]
