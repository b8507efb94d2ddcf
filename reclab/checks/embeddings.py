"""Self-checks for ``04_embeddings``: cosine similarity, nearest movies, recommendations.

Each check calls the student's function on small hand-made cases whose answer is known (and
on the real embeddings where useful) and says which case went wrong and how to fix it.

Example:
    >>> import numpy as np
    >>> def cosine_similarity_matrix(E):
    ...     norms = np.linalg.norm(E, axis=1, keepdims=True)
    ...     unit = E / np.maximum(norms, 1e-12)
    ...     return unit @ unit.T
    >>> check_cosine_similarity_matrix(cosine_similarity_matrix)  # doctest: +ELLIPSIS
    ✓ ...
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import pandas as pd

from reclab.checks import call_student, fail, first_line, passed
from reclab.checks.vectorised import count_own_lines

__all__ = [
    "check_cosine_similarity_matrix",
    "check_mf_quality",
    "check_most_similar",
    "check_neighbours_hold",
    "check_recommend",
]


# --------------------------------------------------------------------------------------------
# cosine similarity


def _reference_cosine(E: np.ndarray) -> np.ndarray:
    """What sklearn.metrics.pairwise.cosine_similarity returns: zero rows give 0, never NaN."""
    norms = np.linalg.norm(E, axis=1, keepdims=True)
    unit = np.divide(E, norms, out=np.zeros_like(E, dtype=float), where=norms > 0)
    return unit @ unit.T


def _check_similarity_case(
    fn: Callable[..., Any], E: np.ndarray, what: str, atol: float = 1e-6
) -> None:
    __tracebackhide__ = True
    given = E.copy()
    n = len(E)

    def explain(exc: BaseException) -> str | None:
        if isinstance(exc, ValueError) and "broadcast" in str(exc):
            return (
                f"on {what}, cosine_similarity_matrix raised ValueError: "
                f"{str(exc).splitlines()[0]}\n"
                f"Dividing E {E.shape} by a vector of {n} norms fails: NumPy lines up the "
                "LAST axes, so it tries to divide each row by the norms.\n"
                "Hint: keep the norms as a column, shape (n, 1): "
                "np.linalg.norm(E, axis=1, keepdims=True)."
            )
        return None

    with np.errstate(divide="ignore", invalid="ignore"):  # a NaN is explained below
        S = np.asarray(
            call_student(fn, "cosine_similarity_matrix", given, explain=explain), dtype=float
        )
    if S.shape != (n, n):
        fail(
            f"on {what} ({n} vectors of size {E.shape[1]}) the result has shape {S.shape}, "
            f"expected ({n}, {n}): one row and one column per vector.",
            "S[i, j] is the cosine between rows i and j of E: "
            "normalise the rows, then a matrix product with the transpose.",
        )
    if np.isnan(S).any():
        fail(
            f"on {what} the result has {int(np.isnan(S).sum())} NaN value(s): a zero vector "
            "has norm 0, and 0 / 0 is NaN.",
            "divide by np.maximum(norms, 1e-12) (or use np.divide(..., where=norms > 0)) so "
            "a zero vector gets similarity 0 with everything, as sklearn does.",
        )
    if not np.array_equal(E, given):
        fail(f"cosine_similarity_matrix modified its input on {what}.", "work on a copy.")
    want = _reference_cosine(E)
    nonzero = np.linalg.norm(E, axis=1) > 0
    diag = np.diag(S)[nonzero]
    if not np.allclose(diag, 1.0, atol=1e-4):
        fail(
            f"on {what} the diagonal should be 1 (a vector's cosine with itself), got values "
            f"from {diag.min():.4g} to {diag.max():.4g}.",
            "did you divide by the norm of each row (axis=1, keepdims=True) before E @ E.T?",
        )
    if not np.allclose(S, want, atol=atol, rtol=1e-4):
        worst = np.unravel_index(np.argmax(np.abs(S - want)), S.shape)
        fail(
            f"on {what} S{tuple(int(i) for i in worst)} = {S[worst]:.6g}, but sklearn's "
            f"cosine_similarity gives {want[worst]:.6g}.",
            "normalise each row (not each column) by its own Euclidean norm.",
        )


def _check_no_python_loop(fn: Callable[..., Any], E: np.ndarray) -> None:
    """Fail if ``fn`` runs a line of its own code per row of ``E``: counted, never timed."""
    __tracebackhide__ = True
    n = len(E)
    lines, _ = count_own_lines(fn, n, E.copy())
    if lines >= n:
        fail(f"cosine_similarity_matrix loops in Python: on {n} vectors at least {lines} lines "
             "of your code ran, one or more per vector (counted, not timed). The exercise asks "
             "for a vectorised version, without a Python loop.",
             "normalise all the rows at once, U = E / np.maximum(np.linalg.norm(E, axis=1, "
             "keepdims=True), 1e-12); then U @ U.T holds every cosine.")


def check_cosine_similarity_matrix(
    fn: Callable[[np.ndarray], Any], embeddings: np.ndarray | None = None
) -> None:
    """Check ``fn(E)`` against sklearn's cosine similarity on hand-made, random and real data.

    Example:
        >>> def cos(E):
        ...     n = np.linalg.norm(E, axis=1, keepdims=True)
        ...     U = E / np.maximum(n, 1e-12)
        ...     return U @ U.T
        >>> check_cosine_similarity_matrix(cos)  # doctest: +ELLIPSIS
        ✓ ...
    """
    __tracebackhide__ = True
    hand = np.array([[1.0, 0.0], [0.0, 2.0], [3.0, 3.0], [-1.0, 0.0]])
    _check_similarity_case(fn, hand, "4 hand-made 2-D vectors")
    rng = np.random.default_rng(0)
    _check_similarity_case(fn, rng.normal(size=(30, 8)), "30 random vectors")
    with_zero = rng.normal(size=(6, 5))
    with_zero[2] = 0.0
    _check_similarity_case(fn, with_zero, "6 random vectors, one of them all zeros")
    _check_no_python_loop(fn, rng.normal(size=(200, 8)))
    passed("cosine_similarity_matrix matches sklearn on hand-made and random vectors, "
           "and a zero vector gives 0, not NaN")
    if embeddings is not None:
        E = np.asarray(embeddings, dtype=np.float64)
        _check_similarity_case(fn, E, f"the real item embeddings {E.shape}", atol=1e-5)
        passed(f"cosine_similarity_matrix matches sklearn on the real embeddings {E.shape}")


# --------------------------------------------------------------------------------------------
# nearest neighbours


def _as_pair(result: Any, name: str) -> tuple[np.ndarray, np.ndarray]:
    __tracebackhide__ = True
    if not isinstance(result, tuple) or len(result) != 2:
        fail(
            f"{name} should return a pair (neighbour_ids, scores), got "
            f"{type(result).__name__}.",
            "end with `return ids[order], scores[order]`.",
        )
    return np.asarray(result[0]), np.asarray(result[1], dtype=float)


def check_most_similar(fn: Callable[..., Any]) -> None:
    """Check ``fn(item_id, sims, ids, k)`` on hand-made similarity matrices.

    Example:
        >>> def most_similar(item_id, sims, ids, k=10):
        ...     row = int(np.flatnonzero(ids == item_id)[0])
        ...     scores = sims[row].astype(float)
        ...     scores[row] = -np.inf
        ...     order = np.argsort(-scores, kind="stable")[:k]
        ...     return ids[order], scores[order]
        >>> check_most_similar(most_similar)  # doctest: +ELLIPSIS
        ✓ ...
    """
    __tracebackhide__ = True
    ids = np.array([10, 20, 30, 40, 50])
    sims = np.array(
        [
            [1.0, 0.2, 0.5, 0.0, 0.3],
            [0.2, 1.0, -0.3, 0.4, 0.1],
            [0.5, -0.3, 1.0, 0.1, 0.9],
            [0.0, 0.4, 0.1, 1.0, -0.2],
            [0.3, 0.1, 0.9, -0.2, 1.0],
        ]
    )
    case = "most_similar(30, sims, ids=[10, 20, 30, 40, 50], k=3)"

    def explain(exc: BaseException) -> str | None:
        if isinstance(exc, IndexError) and re.search(r"\bindex (30|8)\b", str(exc)):
            return (
                f"{case} raised IndexError ({str(exc).splitlines()[0]}): the item id was used "
                "as a row number.\n"
                "Row j of sims belongs to the item ids[j], and item ids are not row numbers.\n"
                "Hint: find the row first: row = np.flatnonzero(ids == item_id)[0]."
            )
        return None

    given = sims.copy()
    result = call_student(fn, "most_similar", 30, given, ids.copy(), k=3, explain=explain)
    got_ids, got_scores = _as_pair(result, "most_similar")
    if not np.array_equal(given, sims):
        fail(
            f"{case} modified the matrix sims it was given (e.g. sims[row, row] = -inf), so "
            "the next call, and the map of section 6, would read a changed matrix.",
            "work on a copy of the row: scores = sims[row].astype(float) (or .copy()).",
        )
    if got_ids.shape != (3,) or got_scores.shape != (3,):
        fail(
            f"{case} returned arrays of shapes {got_ids.shape} and {got_scores.shape}, "
            "expected two arrays of length k = 3.",
            "keep the first k entries of the sorted order: order[:k].",
        )
    got = got_ids.tolist()
    if set(got) <= set(range(len(ids))) and not set(got) <= set(ids.tolist()):
        fail(
            f"{case} returned {got}: row positions, not item ids.",
            "map the positions back to ids with ids[order].",
        )
    row = sims[2]
    ascending = ids[np.argsort(row, kind="stable")].tolist()       # [20, 40, 10, 50, 30]
    if got in (ascending[:3], [30, *ascending[:2]]):
        fail(
            f"{case} returned {got}: the LEAST similar items first (np.argsort sorts in "
            "ascending order).",
            "sort by decreasing similarity: np.argsort(-scores)[:k].",
        )
    if 30 in got:
        fail(
            f"{case} returned {got}: item 30 itself is in its own list.",
            "an item is always most similar to itself; exclude its own row position "
            "(e.g. set its score to -np.inf before sorting).",
        )
    if sorted(got) == [10, 40, 50] and got != [50, 10, 40]:
        fail(
            f"{case} returned {got}: the right items, in the wrong order; expected "
            "[50, 10, 40] (similarities 0.9, 0.5, 0.1), best first.",
            "np.argsort(-scores)[:k] puts the largest first (np.argsort(scores)[-k:] puts "
            "it last).",
        )
    if got != [50, 10, 40]:
        fail(
            f"{case} returned {got}, expected [50, 10, 40] (similarities 0.9, 0.5, 0.1).",
            "take the item's row, row = np.flatnonzero(ids == item_id)[0], and sort that "
            "row's similarities, best first.",
        )
    if not np.allclose(got_scores, [0.9, 0.5, 0.1]):
        fail(
            f"{case} returned scores {got_scores.tolist()}, expected [0.9, 0.5, 0.1].",
            "return the similarities of the returned items, in the same order.",
        )
    # A duplicate item (similarity exactly 1) must stay: exclude by position, not by value.
    dup_ids = np.array([7, 8, 9])
    dup = np.array([[1.0, 0.2, 0.1], [0.2, 1.0, 1.0], [0.1, 1.0, 1.0]])
    case = "most_similar(8, sims, ids=[7, 8, 9], k=1)"
    got_ids, _ = _as_pair(
        call_student(fn, "most_similar", 8, dup, dup_ids, k=1, explain=explain), "most_similar"
    )
    if got_ids.tolist() != [9]:
        what = (f"{case}, where items 8 and 9 have identical vectors (similarity 1.0), "
                f"returned {got_ids.tolist()}, expected [9].")
        if got_ids.tolist() == [8]:
            fail(what, "exclude the item by its row position (scores[row] = -np.inf), not by "
                 "skipping the first of the sorted list: ties can put another item first.")
        fail(what, "exclude the item by its row position, not by dropping every similarity "
             "of 1.")
    passed("most_similar returns the k nearest item ids and their similarities, best first, "
           "without the item itself, and leaves sims unchanged")


def check_neighbours_hold(
    neighbours: Iterable[int],
    expected_any: Iterable[int],
    anchor: str = "Star Wars (1977)",
    expected_names: str = "Return of the Jedi (181) or The Empire Strikes Back (172)",
) -> None:
    """Check that a neighbour list holds at least one of the expected item ids.

    Example:
        >>> check_neighbours_hold([181, 7, 9], [172, 181])  # doctest: +ELLIPSIS
        ✓ ...
    """
    __tracebackhide__ = True
    got = np.asarray(list(neighbours)).ravel().tolist()
    want = set(expected_any)
    if not want & set(got):
        fail(
            f"the {len(got)} movies nearest to {anchor} are {got}: none of {expected_names}.",
            "if most_similar passed its check, look at the model: did training stop early "
            "(loss curves), or were the embeddings taken from the wrong layer?",
        )
    hits = [i for i in got if i in want]
    passed(f"the neighbours of {anchor} hold {hits} (rank {got.index(hits[0]) + 1} first)")


# --------------------------------------------------------------------------------------------
# recommendations


def check_recommend(
    fn: Callable[..., Any],
    scores: pd.Series | None = None,
    seen: Iterable[int] | None = None,
) -> None:
    """Check ``fn(scores, seen_items, k)`` on a hand-made case (and a real user if given).

    Example:
        >>> def recommend(scores, seen_items, k=10):
        ...     return scores.drop(seen_items).nlargest(k).index.to_numpy()
        >>> check_recommend(recommend)  # doctest: +ELLIPSIS
        ✓ ...
    """
    __tracebackhide__ = True
    ids = pd.Index([10, 20, 30, 40, 50, 60], name="item_id")
    hand = pd.Series([4.1, 3.0, 4.9, 2.0, 4.5, 3.9], index=ids)
    case = "recommend(scores for items 10, 20, …, 60, seen_items=[30, 50], k=3)"

    def explain(exc: BaseException) -> str | None:
        if not isinstance(exc, IndexError):
            return None
        return (f"{case} raised {first_line(exc)}\n"
                "seen_items holds item ids, not positions: scores.index[seen_items] reads "
                "them as positions.\n"
                "Hint: drop them by label: scores.drop(seen_items).")

    given = hand.copy()
    result = call_student(fn, "recommend", given, [30, 50], k=3, explain=explain)
    if not given.equals(hand):
        fail(f"{case} changed the Series scores it was given (scores.loc[...] = …, or "
             "drop(..., inplace=True)), so the caller's predicted ratings change too.",
             "leave scores as it is: scores.drop(seen_items) returns a new Series.")
    if isinstance(result, pd.Series):
        fail(f"{case} returned a Series; its values are scores, not item ids.",
             "return the item ids: `.index.to_numpy()`.")
    got = np.asarray(result)
    if got.dtype.kind not in "iu":
        fail(f"{case} returned {got.tolist()} (dtype {got.dtype}): expected integer item ids.",
             "return the index (item ids) of the best scores, not the scores.")
    got_list = got.ravel().tolist()
    if len(got_list) != 3:
        fail(f"{case} returned {len(got_list)} items {got_list}, expected k = 3.")
    if not set(got_list) <= set(ids):
        if set(got_list) <= set(range(len(hand))):
            fail(f"{case} returned {got_list}: positions in the Series, not item ids "
                 "(np.argsort and Series.argsort give positions).",
                 "keep the index: scores.drop(seen_items).nlargest(k).index.to_numpy().")
        fail(f"{case} returned {got_list}: not item ids of scores ({ids.tolist()}).",
             "return ids from scores.index.")
    if {30, 50} & set(got_list):
        fail(f"{case} returned {got_list}: it recommends items the user already rated.",
             "drop the seen items first: scores.drop(seen_items).")
    if got_list == [40, 20, 60]:
        fail(f"{case} returned {got_list}: the WORST items first.",
             "nlargest, or sort_values(ascending=False).")
    if got_list != [10, 60, 20]:
        fail(f"{case} returned {got_list}, expected [10, 60, 20] (scores 4.1, 3.9, 3.0).",
             "keep the k highest scores, best first: nlargest(k).")
    passed("recommend returns the k best unseen item ids, best first")
    if scores is None or seen is None:
        return
    seen_list = list(np.asarray(list(seen)).ravel())
    got = np.asarray(call_student(fn, "recommend", scores.copy(), seen_list, k=10)).ravel()
    overlap = sorted(set(got.tolist()) & set(seen_list))
    if overlap:
        fail(f"on a real user the recommendations include already rated item(s) {overlap}.")
    if len(got) != 10 or not set(got.tolist()) <= set(scores.index):
        fail(f"on a real user recommend returned {got.tolist()}: expected 10 item ids.")
    best = scores.drop(seen_list).max()
    if not np.isclose(scores.loc[got[0]], best):
        fail(f"on a real user the first recommendation scores {scores.loc[got[0]]:.4f}, "
             f"but the best unseen item scores {best:.4f}.")
    passed(f"on a real user: 10 unseen items, none of the {len(seen_list)} rated ones")


# --------------------------------------------------------------------------------------------
# quality bar of the retrained model


def check_mf_quality(test_rmse: float, bar: float = 0.95) -> None:
    """Check that the retrained biased MF is good enough for its embeddings to mean something.

    Example:
        >>> check_mf_quality(0.934)
        ✓ test RMSE 0.9340 ≤ 0.95: the embeddings are worth looking at
    """
    __tracebackhide__ = True
    value = float(test_rmse)
    if not np.isfinite(value) or value > bar:
        fail(
            f"the biased MF reaches test RMSE {value:.4f}, above the bar {bar}: its embeddings "
            "would mostly show noise.",
            "look at the loss curves: did early stopping restore the best epoch? Was the model "
            "built with dropout 0.7 on both embeddings and trained with Adam lr 3e-3?",
        )
    passed(f"test RMSE {value:.4f} ≤ {bar}: the embeddings are worth looking at")
