"""Column names of a ratings table, and the check that a DataFrame has the ones a function needs.

``reclab.data`` loads ratings as ``user_id, item_id, rating, timestamp``;
:class:`reclab.encoding.IdEncoder` adds the contiguous codes ``user_idx, item_idx``;
:func:`reclab.splits.binarize` adds ``label``. The splits, the encoder and the samplers all
name columns through these constants.

Example:
    >>> import pandas as pd
    >>> require_columns(pd.DataFrame({"user_id": [1]}), [USER_COL, ITEM_COL], "my_function")
    Traceback (most recent call last):
    ...
    ValueError: my_function: missing column(s) ['item_id']; the DataFrame has ['user_id']
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = [
    "ITEM_COL",
    "ITEM_IDX",
    "LABEL_COL",
    "RATING_COL",
    "TIMESTAMP_COL",
    "USER_COL",
    "USER_IDX",
    "preview",
    "require_columns",
]

USER_COL = "user_id"
ITEM_COL = "item_id"
RATING_COL = "rating"
TIMESTAMP_COL = "timestamp"
USER_IDX = "user_idx"
ITEM_IDX = "item_idx"
LABEL_COL = "label"


def require_columns(df: pd.DataFrame, columns: Sequence[str], where: str) -> None:
    """Raise a TypeError/ValueError naming ``where`` unless ``df`` is a DataFrame with ``columns``.

    Example:
        >>> require_columns(pd.DataFrame({"user_id": [1]}), ["user_id"], "f")  # no error
    """
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"{where}: expected a pandas DataFrame, got {type(df).__name__}")
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(
            f"{where}: missing column(s) {missing}; the DataFrame has {list(df.columns)}"
        )


def preview(ids: np.ndarray, limit: int = 5) -> str:
    """The first ``limit`` ids of an array for an error message.

    Example:
        >>> preview(np.arange(7))
        '[0, 1, 2, 3, 4, …]'
    """
    shown = ", ".join(str(x) for x in ids[:limit].tolist())
    return f"[{shown}{', …' if ids.size > limit else ''}]"
