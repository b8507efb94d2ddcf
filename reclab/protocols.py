"""The leave-one-out ranking protocol of implicit feedback, written once for every caller.

Taught in notebook ``06_implicit_feedback`` (sections 2 and 4); notebook 07 and the benchmark
(``benchmarks/``) call the same functions, so their numbers are comparable by construction.

- :func:`leave_one_out_data` — ids encoded on all interactions, each user's latest
  interaction held out as the **test** item and their latest *training* interaction as the
  **validation** item (models are fitted on the rest, ``fit``), plus the sampled candidates
  (the held-out item + 99 items the user never interacted with) for both;
- :func:`popularity_scores` — the baseline every model must beat;
- :func:`hit_rate_and_ndcg` — HR@k and NDCG@k for one held-out item per row (exercise 2 of
  notebook 06; ties count against the model);
- :func:`evaluate_ranking` — a (n_users × n_items) score matrix on both protocols: *sampled*
  (the 100 candidates) and *full* (every item not seen in training), plus coverage@k of the
  full-ranking top-k lists.

``on="val"`` scores against the validation items (training = ``fit``), ``on="test"``
against the test items (training = ``train`` = fit + val). Choose on ``"val"``, report
``"test"``.

Example:
    >>> import pandas as pd
    >>> interactions = pd.DataFrame({"user_id": [1, 1, 1, 2, 2, 2],
    ...                              "item_id": [7, 8, 9, 8, 9, 6],
    ...                              "timestamp": [1, 2, 3, 1, 2, 3]})
    >>> data = leave_one_out_data(interactions, n_neg=1)
    >>> data.positives("test").tolist(), data.positives("val").tolist()
    ([3, 0], [2, 3])
    >>> metrics = evaluate_ranking(popularity_scores(data), data)
    >>> round(metrics["hr@10_full"], 3), round(metrics["coverage@10"], 3)
    (1.0, 0.75)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
import scipy.sparse as sp

from reclab import metrics
from reclab.columns import ITEM_IDX
from reclab.encoding import Encoded, IdEncoder
from reclab.sampling import evaluation_candidates, seen_matrix
from reclab.splits import leave_one_out

__all__ = [
    "METRIC_KEYS",
    "N_NEGATIVES",
    "TEST_SEED",
    "VAL_SEED",
    "K",
    "LeaveOneOut",
    "evaluate_ranking",
    "hit_rate_and_ndcg",
    "leave_one_out_data",
    "popularity_scores",
]

#: Sampled negatives per held-out item (the NCF protocol).
N_NEGATIVES = 99
#: Seed of the test items' sampled negatives (the benchmark uses the same draw).
TEST_SEED = 42
#: Seed of the validation items' sampled negatives.
VAL_SEED = 0
#: Length of the recommended list.
K = 10
#: The metrics :func:`evaluate_ranking` returns (for ``k = 10``), in this order.
METRIC_KEYS: tuple[str, ...] = (
    "hr@10_sampled",
    "ndcg@10_sampled",
    "hr@10_full",
    "ndcg@10_full",
    "coverage@10",
)

Split = Literal["val", "test"]


@dataclass(frozen=True, eq=False)
class LeaveOneOut(Encoded):
    """The leave-one-out split: frames with ``user_idx, item_idx``, candidates and masks.

    ``train`` = ``fit`` + ``val``; ``test`` and ``val`` hold one row per user. Row ``u`` of
    ``test_candidates`` / ``val_candidates`` (shape (n_users, 1 + n_neg)) belongs to user
    ``u``; column 0 is the held-out item. ``seen_fit`` / ``seen_train`` are sparse
    (n_users × n_items) matrices of the training interactions (what negative sampling avoids
    and what full ranking excludes). ``n_users`` / ``n_items`` (from :class:`Encoded`) count
    every user and item of the interactions: the item codes span the whole catalogue.
    """

    encoder: IdEncoder
    fit: pd.DataFrame
    val: pd.DataFrame
    train: pd.DataFrame
    test: pd.DataFrame
    val_candidates: np.ndarray
    test_candidates: np.ndarray
    seen_fit: sp.csr_matrix
    seen_train: sp.csr_matrix

    def history(self, on: Split = "test") -> pd.DataFrame:
        """The interactions a model may learn from before it is scored ``on`` val or test."""
        return {"val": self.fit, "test": self.train}[_check_on(on)]

    def positives(self, on: Split = "test") -> np.ndarray:
        """The held-out item of each user (row ``u`` = user ``u``)."""
        return self.candidates(on)[:, 0]

    def candidates(self, on: Split = "test") -> np.ndarray:
        """(n_users, 1 + n_neg) item codes: the held-out item, then the sampled negatives."""
        return {"val": self.val_candidates, "test": self.test_candidates}[_check_on(on)]

    def seen(self, on: Split = "test") -> np.ndarray:
        """Dense boolean (n_users × n_items) mask of the items full ranking excludes."""
        return {"val": self.seen_fit, "test": self.seen_train}[_check_on(on)].toarray()

    def candidate_inputs(self, on: Split = "test") -> tuple[np.ndarray, np.ndarray]:
        """Flat int32 ``(users, items)`` of every candidate, row-major, for ``model.predict``.

        ``model.predict(data.candidate_inputs("val")).reshape(data.candidates("val").shape)``
        gives the sampled score matrix.
        """
        cand = self.candidates(on)
        users = np.repeat(np.arange(self.n_users), cand.shape[1])
        return users.astype("int32"), cand.ravel().astype("int32")


def _check_on(on: str) -> str:
    if on not in ("val", "test"):
        raise ValueError(f"on must be 'val' or 'test', got {on!r}")
    return on


def _by_user(held_out: pd.DataFrame, history: pd.DataFrame, n_users: int, n_items: int,
             n_neg: int, seed: int) -> np.ndarray:
    """Candidates of ``held_out`` (one row per user) as an (n_users, 1 + n_neg) matrix."""
    cand = evaluation_candidates(history, held_out, n_items, n_neg=n_neg, seed=seed)
    order = np.argsort(cand.users)
    if not np.array_equal(cand.users[order], np.arange(n_users)):
        missing = np.setdiff1d(np.arange(n_users), cand.users)
        raise ValueError(
            f"{missing.size} user(s) have no held-out item (e.g. user code {missing[0]}): "
            "every user needs at least 3 interactions (test, validation, one to fit on); "
            "keep them with reclab.splits.filter_min_count(interactions, min_user=3)"
        )
    return cand.items[order]


def leave_one_out_data(
    interactions: pd.DataFrame,
    *,
    n_neg: int = N_NEGATIVES,
    test_seed: int = TEST_SEED,
    val_seed: int = VAL_SEED,
) -> LeaveOneOut:
    """Encode, hold out each user's latest interaction (test) and latest training one (val).

    ``interactions`` has ``user_id, item_id, timestamp`` (every row an interaction, e.g.
    ``reclab.splits.binarize(ratings, keep_all=True)``). Ids are encoded on all rows, so the
    catalogue is every item; :func:`reclab.splits.leave_one_out` breaks timestamp ties by
    file order. Sampled negatives avoid everything the user interacted with in the history
    and the held-out item.

    Example:
        >>> import pandas as pd
        >>> df = pd.DataFrame({"user_id": [1, 1, 1], "item_id": [5, 6, 7],
        ...                    "timestamp": [1, 2, 3]})
        >>> data = leave_one_out_data(df, n_neg=0)
        >>> len(data.fit), data.positives("val").tolist(), data.positives("test").tolist()
        (1, [1], [2])
    """
    encoder = IdEncoder().fit(interactions)
    coded = encoder.transform(interactions)
    n_users, n_items = encoder.n_users, encoder.n_items
    train, test = leave_one_out(coded)
    fit, val = leave_one_out(train)
    return LeaveOneOut(
        encoder=encoder,
        fit=fit,
        val=val,
        train=train,
        test=test,
        val_candidates=_by_user(val, fit, n_users, n_items, n_neg, val_seed),
        test_candidates=_by_user(test, train, n_users, n_items, n_neg, test_seed),
        seen_fit=seen_matrix(fit, n_users, n_items),
        seen_train=seen_matrix(train, n_users, n_items),
    )


def popularity_scores(data: LeaveOneOut, on: Split = "test") -> np.ndarray:
    """Every user's score for every item: the item's number of interactions in the history.

    Example:
        >>> import pandas as pd
        >>> df = pd.DataFrame({"user_id": [1, 1, 1, 2, 2, 2], "item_id": [7, 8, 9, 8, 9, 6],
        ...                    "timestamp": [1, 2, 3, 1, 2, 3]})
        >>> popularity_scores(leave_one_out_data(df, n_neg=1))  # items 6, 7, 8, 9 (codes 0-3)
        array([[0., 1., 2., 1.],
               [0., 1., 2., 1.]])
    """
    counts = np.bincount(data.history(on)[ITEM_IDX], minlength=data.n_items).astype(float)
    return np.tile(counts, (data.n_users, 1))


def hit_rate_and_ndcg(scores: npt.ArrayLike, positive: npt.ArrayLike,
                      k: int = 10) -> tuple[float, float]:
    """(HR@k, NDCG@k) for one held-out positive per row; ties count against the positive.

    Taught in notebook 06_implicit_feedback, section 4 (exercise 2). ``positive[u]`` is the
    column of row u's held-out item; rank = number of other candidates scoring at least as
    high; a hit at rank r (0-based) gains 1 / log2(r + 2).

    Example:
        >>> hit_rate_and_ndcg([[0.9, 0.1], [0.2, 0.8]], [0, 0], k=1)
        (0.5, 0.5)
    """
    scores = np.asarray(scores, dtype=float)
    rows = np.arange(scores.shape[0])
    positive_scores = scores[rows, positive][:, None]
    rank = (scores >= positive_scores).sum(axis=1) - 1
    hit = rank < k
    return float(hit.mean()), float(np.where(hit, 1.0 / np.log2(rank + 2), 0.0).mean())


def evaluate_ranking(scores: npt.ArrayLike, data: LeaveOneOut, on: Split = "test",
                     k: int = K) -> dict[str, float]:
    """HR@k and NDCG@k, sampled and full, and coverage@k of a (n_users × n_items) score matrix.

    Sampled: each user's held-out item among their 1 + n_neg candidates. Full: among every
    item not in the user's history (seen items are set to -inf). Coverage@k: the share of
    the catalogue in at least one user's full-ranking top-k list.

    Example:
        >>> import pandas as pd
        >>> df = pd.DataFrame({"user_id": [1, 1, 1, 2, 2, 2], "item_id": [7, 8, 9, 8, 9, 6],
        ...                    "timestamp": [1, 2, 3, 1, 2, 3]})
        >>> data = leave_one_out_data(df, n_neg=1)
        >>> evaluate_ranking(popularity_scores(data), data, k=1)["hr@1_full"]  # user 2's 6 is last
        0.5
    """
    scores = np.asarray(scores, dtype=float)
    expected = (data.n_users, data.n_items)
    if scores.shape != expected:
        raise ValueError(
            f"scores must be a (n_users, n_items) = {expected} matrix, row u for user u; "
            f"got shape {scores.shape}"
        )
    seen = data.seen(on)
    sampled = np.take_along_axis(scores, data.candidates(on), axis=1)
    hr_s, ndcg_s = hit_rate_and_ndcg(sampled, np.zeros(data.n_users, dtype=int), k)
    hr_f, ndcg_f = hit_rate_and_ndcg(np.where(seen, -np.inf, scores), data.positives(on), k)
    top = metrics.top_k_items(scores, k, exclude=seen)
    return {
        f"hr@{k}_sampled": hr_s,
        f"ndcg@{k}_sampled": ndcg_s,
        f"hr@{k}_full": hr_f,
        f"ndcg@{k}_full": ndcg_f,
        f"coverage@{k}": metrics.coverage_at_k(top, data.n_items),
    }

