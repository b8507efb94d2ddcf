"""Self-checks for ``06_implicit_feedback``: training set, ranking metrics, GMF, quality bars.

Each check calls the student's function on small hand-made cases whose answer is known and
says which case went wrong and how to fix it; it prints ``✓ …`` lines when all is right.

Example:
    >>> import numpy as np
    >>> def hit_rate_and_ndcg(scores, positive, k=10):
    ...     scores = np.asarray(scores, dtype=float)
    ...     rows = np.arange(len(scores))
    ...     pos = scores[rows, positive][:, None]
    ...     rank = (scores >= pos).sum(axis=1) - 1
    ...     hit = rank < k
    ...     return float(hit.mean()), float(np.where(hit, 1 / np.log2(rank + 2), 0).mean())
    >>> check_hit_rate_and_ndcg(hit_rate_and_ndcg)  # doctest: +ELLIPSIS
    ✓ ...
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from reclab import metrics as rm
from reclab.checks import call_student, explain_symbolic, fail, first_line, model_layers, passed
from reclab.sampling import seen_matrix

__all__ = [
    "QUALITY_BARS",
    "check_gmf_builder",
    "check_hit_rate_and_ndcg",
    "check_quality_bars",
    "check_training_set",
]

#: Bars the notebook's best model must reach on the leave-one-out protocol.
QUALITY_BARS: dict[str, float] = {
    "hr@10_sampled": 0.62,
    "ndcg@10_sampled": 0.35,
    "hr@10_full": 0.10,
}


# --------------------------------------------------------------------------------------------
# training set: positives + sampled negatives


def _toy_interactions() -> tuple[np.ndarray, np.ndarray, int, sp.csr_matrix]:
    """Two users whose unseen items do not overlap: user 0 saw 0–3, user 1 saw 2–5 (of 6)."""
    users = np.array([0, 0, 0, 0, 1, 1, 1, 1], dtype=np.int64)
    items = np.array([0, 1, 2, 3, 2, 3, 4, 5], dtype=np.int64)
    seen = seen_matrix(pd.DataFrame({"user_idx": users, "item_idx": items}), 2, 6)
    return users, items, 6, seen


def _random_interactions(seed: int = 7) -> tuple[np.ndarray, np.ndarray, int, sp.csr_matrix]:
    rng = np.random.default_rng(seed)
    n_users, n_items = 30, 200
    pairs = {(int(u), int(i)) for u, i in zip(rng.integers(0, n_users, 600),
                                               rng.integers(0, n_items, 600), strict=True)}
    users, items = (np.array(x, dtype=np.int64) for x in zip(*sorted(pairs), strict=True))
    seen = seen_matrix(pd.DataFrame({"user_idx": users, "item_idx": items}), n_users, n_items)
    return users, items, n_items, seen


def _unpack_training_set(
    result: Any, n_pos: int, n_neg: int, what: str
) -> tuple[np.ndarray, ...]:
    __tracebackhide__ = True
    n_rows = n_pos * (1 + n_neg)
    if not isinstance(result, tuple | list) or len(result) != 3:
        fail(
            f"make_training_set should return a tuple (users, items, labels); {what} it returned "
            f"{type(result).__name__}"
            + (f" of length {len(result)}" if isinstance(result, tuple | list) else "")
            + ".",
            "end with `return all_users, all_items, labels`.",
        )
    arrays = []
    for name, value in zip(("users", "items", "labels"), result, strict=True):
        array = np.asarray(value)
        got_neg, rest = divmod(array.shape[0] - n_pos, n_pos) if array.ndim == 1 else (0, 1)
        if array.ndim == 1 and got_neg >= 1 and not rest and got_neg != n_neg:
            fail(f"{name} has {array.shape[0]} values {what}: {got_neg} negative(s) per "
                 f"positive instead of n_neg={n_neg}, so the argument n_neg is ignored.",
                 "pass n_neg on: sample_negatives(users, n_items, seen, n_neg=n_neg, "
                 "seed=seed) and np.repeat(users, n_neg).")
        if array.ndim != 1 or array.shape[0] != n_rows:
            fail(
                f"{name} should be a 1-d array of {n_rows} values ({what}: each positive plus "
                f"n_neg negatives), got shape {array.shape}.",
                "concatenate the positives with the flattened (n_pos × n_neg) negatives; "
                "`sample_negatives(...)` returns a 2-d array, `.ravel()` flattens it.",
            )
        arrays.append(array)
    return tuple(arrays)


def check_training_set(make_training_set: Callable[..., Any]) -> None:
    """Check ``make_training_set(users, items, n_items, seen, n_neg, seed)``.

    It must return ``(users, items, labels)``: every positive pair with label 1 and, for each
    of them, ``n_neg`` items the same user has not seen, with label 0; float labels; the same
    output for the same seed and new negatives for a new seed.

    Example:
        >>> from reclab.sampling import sample_negatives
        >>> def make_training_set(users, items, n_items, seen, n_neg=4, seed=0):
        ...     neg = sample_negatives(users, n_items, seen, n_neg=n_neg, seed=seed).ravel()
        ...     labels = np.r_[np.ones(len(users)), np.zeros(len(neg))].astype("float32")
        ...     return np.r_[users, np.repeat(users, n_neg)], np.r_[items, neg], labels
        >>> check_training_set(make_training_set)  # doctest: +ELLIPSIS
        ✓ ...
    """
    __tracebackhide__ = True
    name = "make_training_set"
    users, items, n_items, seen = _toy_interactions()
    n_neg = 3
    before = (users.copy(), items.copy(), seen.toarray())
    result = call_student(make_training_set, name, users, items, n_items, seen, n_neg=n_neg, seed=0)
    what = "on 8 positives with n_neg=3"
    u, i, y = _unpack_training_set(result, len(users), n_neg, what)
    if not (np.array_equal(users, before[0]) and np.array_equal(items, before[1])
            and np.array_equal(seen.toarray(), before[2])):
        fail("make_training_set changed its inputs (users, items or seen) in place.",
             "build new arrays with np.concatenate instead of writing into the inputs.")
    if y.dtype.kind != "f":
        fail(f"labels have dtype {y.dtype}; Keras' binary cross-entropy wants float labels.",
             "make them with np.ones(..., dtype='float32') and np.zeros(..., dtype='float32').")
    for arr, label in ((u, "users"), (i, "items")):
        if arr.dtype.kind not in "iu":
            fail(f"{label} have dtype {arr.dtype}; embedding lookups need integer codes.",
                 "keep the integer arrays (np.concatenate of int arrays stays int).")
    if not np.isin(y, (0.0, 1.0)).all():
        fail(f"labels must be 0 or 1, got values {np.unique(y)[:5].tolist()}.")
    n_ones = int((y == 1).sum())
    if n_ones != len(users):
        fail(f"{n_ones} rows have label 1 {what}, expected exactly {len(users)} (the positives).",
             "label 1 for each input (user, item) pair and 0 for each sampled negative.")
    pos_pairs = sorted(zip(u[y == 1].tolist(), i[y == 1].tolist(), strict=True))
    if pos_pairs != sorted(zip(users.tolist(), items.tolist(), strict=True)):
        fail("the rows labelled 1 are not the input positives (users[j], items[j]).",
             "keep the positives as given, then append the negatives with label 0.")
    if i.min() < 0 or i.max() >= n_items:
        fail(f"items must be codes in 0..{n_items - 1}, got values from {i.min()} to {i.max()}.")
    neg_u, neg_i = u[y == 0], i[y == 0]
    dense = seen.toarray()
    wrong = dense[neg_u, neg_i]
    if wrong.any():
        example = f"e.g. user {int(neg_u[wrong][0])}, item {int(neg_i[wrong][0])}"
        what = (f"{int(wrong.sum())} of {wrong.size} negatives {what} are items their user has "
                f"already interacted with ({example}).")
        if np.array_equal(neg_u, np.tile(users, n_neg)):
            fail(what, "each negative must sit next to the user it was drawn for: "
                 "sample_negatives returns one row of n_neg items per positive, so the users "
                 "of the flattened negatives are np.repeat(users, n_neg), not "
                 "np.tile(users, n_neg).")
        by_column = neg_i.reshape(n_neg, -1).T.ravel()   # undo a column-major flatten
        if np.array_equal(neg_u, np.repeat(users, n_neg)) and not dense[neg_u, by_column].any():
            fail(what, "flatten the (n_pos, n_neg) negatives with .ravel(), not .T.ravel(): "
                 "row j of sample_negatives belongs to users[j], and np.repeat(users, n_neg) "
                 "follows the rows.")
        if np.array_equal(neg_u, np.repeat(users, n_neg)):
            fail(what, "the users of the negatives are right, but the items were not drawn "
                 "from each user's unseen items: use sampling.sample_negatives(users, n_items, "
                 "seen, n_neg=n_neg, seed=seed), which never returns a seen item.")
        fail(what, "draw the negatives with sampling.sample_negatives(users, n_items, seen, "
             "n_neg=n_neg, seed=seed) and give them the users np.repeat(users, n_neg).")
    per_user = np.bincount(neg_u, minlength=2)
    expected = np.bincount(users, minlength=2) * n_neg
    if not np.array_equal(per_user, expected):
        fail(f"negatives per user {per_user.tolist()}, expected {expected.tolist()} "
             f"(n_neg={n_neg} for each of the user's positives).")
    passed("positives labelled 1, n_neg unseen negatives per positive labelled 0, right users")

    users, items, n_items, seen = _random_interactions()
    first = _unpack_training_set(
        call_student(make_training_set, name, users, items, n_items, seen, n_neg=4, seed=1),
        len(users), 4, "on 30 random users with n_neg=4")
    again = _unpack_training_set(
        call_student(make_training_set, name, users, items, n_items, seen, n_neg=4, seed=1),
        len(users), 4, "on 30 random users with n_neg=4")
    if not all(np.array_equal(a, b) for a, b in zip(first, again, strict=True)):
        fail("two calls with the same seed gave different training sets.",
             "pass `seed` on to sample_negatives (and use no other randomness).")
    other = _unpack_training_set(
        call_student(make_training_set, name, users, items, n_items, seen, n_neg=4, seed=2),
        len(users), 4, "on 30 random users with n_neg=4")
    if np.array_equal(first[1], other[1]):
        fail("seed=1 and seed=2 gave the same negatives; every epoch should see fresh ones.",
             "pass `seed` on to sample_negatives.")
    negatives = first[1][first[2] == 0]
    if np.unique(negatives).size < 50:
        fail(f"the 4 × {len(users)} negatives use only {np.unique(negatives).size} distinct "
             "items of 200; they should be drawn uniformly from each user's unseen items.",
             "use reclab.sampling.sample_negatives.")
    if seen.toarray()[first[0][first[2] == 0], negatives].any():
        fail("on 30 random users some negatives are items their user has seen.",
             "users of the negatives: np.repeat(users, n_neg).")
    passed("same seed → same set, new seed → fresh negatives")


# --------------------------------------------------------------------------------------------
# hit rate and NDCG for one held-out positive


def _hr_ndcg_reference(scores: np.ndarray, positive: np.ndarray, k: int) -> tuple[float, float]:
    rank = rm.rank_of_positive(scores, positive)
    hit = rank < k
    return float(hit.mean()), float(np.where(hit, 1.0 / np.log2(rank + 2), 0.0).mean())


def _as_pair(result: Any, case: str) -> tuple[float, float]:
    __tracebackhide__ = True
    if not isinstance(result, tuple | list) or len(result) != 2:
        fail(f"hit_rate_and_ndcg should return a pair (hr, ndcg); {case} it returned "
             f"{type(result).__name__}.", "end with `return hr, ndcg`.")
    values = []
    for name, value in zip(("hr", "ndcg"), result, strict=True):
        array = np.asarray(value)
        if array.ndim != 0:
            fail(f"{name} should be one number (the mean over users), {case} got an array of "
                 f"shape {array.shape}.", "average over users: float(np.mean(...)).")
        values.append(float(array))
    return values[0], values[1]


def _negative_ranks(hit_rate_and_ndcg: Callable[..., Any]) -> bool:
    """True if, where every true rank is 1–3, the function still gets NDCG > 1 or inf/NaN.

    Ranks >= 0 give gains of at most 1 whatever the log, so only a rank below 0 (the
    positive's score taken from the wrong row, or counts along the wrong axis) does that.
    """
    __tracebackhide__ = True
    scores = np.array([[0.9, 0.8, 0.7, 0.6, 0.5, 0.1],
                       [0.8, 0.9, 0.7, 0.6, 0.5, 0.1],
                       [0.7, 0.8, 0.9, 0.6, 0.5, 0.1]])
    with np.errstate(divide="ignore", invalid="ignore"):
        hr, ndcg = _as_pair(call_student(hit_rate_and_ndcg, "hit_rate_and_ndcg", scores,
                                         np.array([1, 2, 3]), k=10), "on 3 users")
    return not (np.isfinite([hr, ndcg]).all() and hr <= 1 and ndcg <= 1 + 1e-9)


def _explain_non_finite(
    hit_rate_and_ndcg: Callable[..., Any], label: str, got: tuple[float, float]
) -> None:
    """A NaN or infinite NDCG: hits-only averaging, a negative rank, or log2(1) = 0."""
    __tracebackhide__ = True
    what = f"case '{label}': got hr={got[0]:.4g}, ndcg={got[1]:.4g}; NDCG must be finite."
    if np.isnan(got[1]) and got[0] == 0:
        fail(f"{what} No row hits here, and a mean over the hits only is the mean of nothing: "
             "NaN.",
             "average over all rows; a miss adds 0: "
             "np.where(hit, 1 / np.log2(rank + 2), 0.0).mean().")
    if _negative_ranks(hit_rate_and_ndcg):
        fail(f"{what} Some rank is below 0 (a gain 1 / log2(rank + 2) is at most 1 when "
             "rank >= 0): each row must compare its scores with its OWN positive's score.",
             "scores[np.arange(n), positive][:, None] is each user's positive score (n, 1) "
             "(scores[:, positive] is (n, n)); then count along each row, .sum(axis=1).")
    fail(what, "the discount of rank r (0-based) is 1 / log2(r + 2), never log2(1) = 0.")


def check_hit_rate_and_ndcg(hit_rate_and_ndcg: Callable[..., Any]) -> None:
    """Check ``hit_rate_and_ndcg(scores, positive, k)`` on hand-made cases and random ones.

    ``scores`` is (n_users, n_candidates), ``positive[u]`` the column of user u's held-out item;
    rank = number of other candidates scoring >= the positive (ties pessimistic, as in
    ``reclab.metrics``); HR@k = mean(rank < k); NDCG@k = mean(1 / log2(rank + 2) if rank < k).
    """
    __tracebackhide__ = True
    name = "hit_rate_and_ndcg"
    disc = [1.0 / np.log2(r + 2) for r in range(10)]
    cases = [
        ("the positive scored highest", [[0.9, 0.1, 0.2]], [0], 1, (1.0, 1.0),
         "rank 0 (nothing above the positive) is a hit with gain 1 / log2(0 + 2) = 1."),
        ("the positive second, k=2", [[0.1, 0.9, 0.7, 0.5]], [2], 2, (1.0, disc[1]),
         "one candidate scores above the positive: rank 1, gain 1 / log2(3)."),
        ("the positive second, k=1", [[0.1, 0.9, 0.7, 0.5]], [2], 1, (0.0, 0.0),
         "rank 1 is not < k=1: a miss, and a miss adds 0 to NDCG."),
        ("exactly k candidates above the positive", [[0.4, 0.1, 0.9, 0.8, 0.7]], [1], 3,
         (0.0, 0.0), "k items above the positive push it to rank k, just outside the top k "
         "(ranks start at 0)."),
        ("a tie with another candidate", [[0.5, 0.5, 0.1]], [0], 1, (0.0, 0.0),
         "ties are pessimistic, as in reclab.metrics: a candidate with the *same* score counts "
         "as above the positive (use >=, and do not count the positive itself)."),
        ("a tie, k=2", [[0.3, 0.5, 0.5, 0.1]], [1], 2, (1.0, disc[1]),
         "the tied candidate counts as above: rank 1, a hit at k=2 with gain 1 / log2(3)."),
        ("two users (average them)", [[0.9, 0.1, 0.2], [0.1, 0.9, 0.5]], [0, 0], 1, (0.5, 0.5),
         "user 0 hits, user 1 misses: HR = NDCG = mean over users = 0.5."),
        ("seen items masked with -inf (full ranking)",
         [[-np.inf, 0.2, -np.inf, 0.6, 0.4]], [1], 2, (0.0, 0.0),
         "-inf scores are below any finite positive; here 0.6 and 0.4 are above: rank 2."),
    ]
    for label, scores, positive, k, (want_hr, want_ndcg), why in cases:
        got = _as_pair(call_student(hit_rate_and_ndcg, name, np.array(scores, dtype=float),
                             np.array(positive), k=k), f"for case '{label}'")
        if not np.isfinite(got).all():
            _explain_non_finite(hit_rate_and_ndcg, label, got)
        if got[1] > 1 + 1e-9 and _negative_ranks(hit_rate_and_ndcg):
            fail(f"case '{label}': got ndcg={got[1]:.4f} > 1: some rank is below 0.",
                 "scores[np.arange(n), positive][:, None] is each user's positive score; "
                 "count along each row, .sum(axis=1).")
        if not np.allclose(got, (want_hr, want_ndcg), atol=1e-9):
            fail(f"case '{label}' (scores {scores}, positive {positive}, k={k}): got "
                 f"hr={got[0]:.4f}, ndcg={got[1]:.4f}, expected hr={want_hr:.4f}, "
                 f"ndcg={want_ndcg:.4f}.", why)
    passed(f"{len(cases)} hand-made cases (ranks from 0, pessimistic ties, -inf masks)")

    rng = np.random.default_rng(3)
    for n_users, n_cand, k in ((50, 100, 10), (20, 1682, 10), (40, 30, 5)):
        scores = rng.integers(0, 20, size=(n_users, n_cand)).astype(float)  # many ties
        positive = rng.integers(0, n_cand, size=n_users)
        want = _hr_ndcg_reference(scores, positive, k)
        got = _as_pair(call_student(hit_rate_and_ndcg, name, scores, positive, k=k),
                       f"on random {n_users}×{n_cand} scores")
        if not np.allclose(got, want, atol=1e-9):
            fail(f"on random {n_users}×{n_cand} scores with ties, k={k}: got hr={got[0]:.4f}, "
                 f"ndcg={got[1]:.4f}; reclab.metrics gives hr={want[0]:.4f}, "
                 f"ndcg={want[1]:.4f}.",
                 "rank = number of *other* candidates scoring >= the positive, per user.")
    passed("agrees with reclab.metrics on random score matrices with ties")


# --------------------------------------------------------------------------------------------
# GMF builder


def _regularisation(layer: Any) -> float | None:
    """The L2 factor of an Embedding's ``embeddings_regularizer`` (None if there is none)."""
    regularizer = getattr(layer, "embeddings_regularizer", None)
    if regularizer is None:
        return None
    return float(regularizer.get_config().get("l2", 0.0))


def _predict_error(exc: BaseException) -> str:
    """One readable line from an exception raised inside ``model.predict``."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    index_error = next((line for line in lines if line.startswith("indices[")), None)
    if index_error:
        return (f"an id is past the end of its embedding table ({index_error.split(' [[')[0]})")
    return first_line(exc)


def _input_name(layer: Any) -> str | None:
    """The name of the model input a layer reads directly (None if not a single input)."""
    try:
        return getattr(layer.input, "name", None)
    except Exception:  # a layer called several times has no single input
        return None


def _gmf_tables(model: Any, n_users: int, n_items: int, k: int) -> tuple[Any, Any]:
    """The user and item Embedding layers of a GMF, found by the input each one reads."""
    __tracebackhide__ = True
    import keras

    embeddings = model_layers(model, keras.layers.Embedding)
    by_input = {_input_name(layer): layer for layer in embeddings}
    shapes = sorted(tuple(layer.embeddings.shape) for layer in embeddings)
    if len(embeddings) != 2:
        fail(f"build_gmf({n_users}, {n_items}, {k}) has {len(embeddings)} Embedding layer(s) "
             f"{shapes}; GMF has two: one for users, one for items.")
    user, item = by_input.get("user"), by_input.get("item")
    if user is None or item is None:
        user, item = sorted(embeddings, key=lambda layer: layer.input_dim != n_users)
    if user.input_dim == n_items and item.input_dim == n_users and n_users != n_items:
        fail(f"build_gmf({n_users}, {n_items}, {k}): the user embedding has {n_items} rows "
             f"(n_items) and the item embedding {n_users} rows (n_users): the two table sizes "
             "are swapped, so item ids above n_users - 1 fall off the end of the item table.",
             "keras.layers.Embedding(n_users, k) on the user input and "
             "keras.layers.Embedding(n_items, k) on the item input.")
    if (user.input_dim, user.output_dim, item.input_dim, item.output_dim) != (
            n_users, k, n_items, k):
        fail(f"build_gmf({n_users}, {n_items}, {k}) has embedding tables {shapes}; expected "
             f"({n_users}, {k}) for users and ({n_items}, {k}) for items.",
             "keras.layers.Embedding(n_users, k) and keras.layers.Embedding(n_items, k).")
    return user, item


def check_gmf_builder(build_gmf: Callable[..., Any]) -> None:
    """Check ``build_gmf(n_users, n_items, k, l2=0.0)``: sigmoid(w · (p_u ⊙ q_i) + b).

    The check builds tiny models, checks their inputs ("user", "item"), name, tables and L2
    regularisers, sets known weights and compares the predictions with the formula in NumPy.
    """
    __tracebackhide__ = True
    import keras

    n_users, n_items, k = 5, 7, 3
    call = f"build_gmf({n_users}, {n_items}, {k})"
    model = call_student(build_gmf, "build_gmf", n_users, n_items, k, explain=lambda exc:
                         explain_symbolic(exc, call, "keras.layers.Multiply()([p_u, q_i])"))
    if not isinstance(model, keras.Model):
        fail(f"build_gmf should return a keras.Model, got {type(model).__name__}.",
             "end with `return keras.Model([user, item], output, name=\"GMF\")`.")
    names = [getattr(tensor, "name", "?") for tensor in model.inputs]
    if len(names) != 2:
        fail(f"the model has {len(names)} input(s); GMF takes two: user and item codes.")
    if sorted(names) != ["item", "user"]:
        fail(f"the model's inputs are named {names}; the course names them \"user\" and "
             "\"item\" (so every model takes the same inputs).",
             "keras.Input(shape=(), dtype=\"int32\", name=\"user\"), and name=\"item\".")
    if names != ["user", "item"]:
        fail(f"the model's inputs are in the order {names}, but the notebook feeds them "
             "positionally, (users, items): user codes would be looked up in the item table.",
             "list them user first: keras.Model([user, item], output, name=\"GMF\").")
    if model.name.startswith("functional"):
        fail(f"the model is called {model.name!r} (Keras' default), so the training log reads "
             f"\"{model.name}: trained in …\".",
             "name it: keras.Model([user, item], output, name=\"GMF\").")
    user_layer, item_layer = _gmf_tables(model, n_users, n_items, k)
    for layer, who in ((user_layer, "user"), (item_layer, "item")):
        if _regularisation(layer):
            fail(f"with the default l2=0.0 the {who} embedding has an L2 regulariser "
                 f"({_regularisation(layer):g}); l2=0 means no regularisation.",
                 "use embeddings_regularizer=keras.regularizers.L2(l2) if l2 else None.")
    regularised = call_student(build_gmf, "build_gmf", n_users, n_items, k, l2=0.1)
    if isinstance(regularised, keras.Model):
        for layer, who in zip(_gmf_tables(regularised, n_users, n_items, k), ("user", "item"),
                              strict=True):
            factor = _regularisation(layer)
            if factor is None or not np.isclose(factor, 0.1):
                fail(f"build_gmf({n_users}, {n_items}, {k}, l2=0.1): the {who} embedding "
                     + ("has no L2 regulariser: l2 is ignored." if factor is None else
                        f"has L2 {factor:g}, not the l2=0.1 asked for."),
                     "pass embeddings_regularizer=keras.regularizers.L2(l2) to both "
                     "Embedding layers when l2 > 0.")
    dense = model_layers(model, keras.layers.Dense)
    expected_params = (n_users + n_items) * k + k + 1
    if len(dense) != 1 or tuple(dense[0].kernel.shape) != (k, 1) or not dense[0].use_bias:
        found = [tuple(layer.kernel.shape) for layer in dense]
        fail(f"expected one Dense(1) layer (kernel ({k}, 1) and a bias) on the element-wise "
             f"product; found Dense kernels {found}.",
             "GMF: p_u * q_i (keras.layers.Multiply), then Dense(1, activation='sigmoid'); "
             "no hidden layers, no concatenation.")
    if model.count_params() != expected_params:
        fail(f"the model has {model.count_params()} parameters, expected {expected_params} "
             f"(({n_users} + {n_items}) × {k} embeddings + {k} weights + 1 bias).")
    rng = np.random.default_rng(0)
    user_table = rng.normal(size=(n_users, k))
    item_table = rng.normal(size=(n_items, k))
    weights = rng.normal(size=(k, 1))
    bias = np.array([0.3])
    user_layer.set_weights([user_table])
    item_layer.set_weights([item_table])
    dense[0].set_weights([weights, bias])
    users = np.repeat(np.arange(n_users), n_items).astype("int32")
    items = np.tile(np.arange(n_items), n_users).astype("int32")
    try:
        out = model.predict({"user": users, "item": items}, verbose=0)
    except Exception as exc:
        fail(f"model.predict on 1-d int32 arrays of user and item codes failed: "
             f"{_predict_error(exc)}.",
             "declare the inputs as keras.Input(shape=(), dtype='int32', name=...) and look "
             "users up in the user table, items in the item table.")
    out = np.asarray(out, dtype=float)
    if out.shape not in ((users.size,), (users.size, 1)):
        fail(f"predictions for {users.size} pairs have shape {out.shape}, expected "
             f"({users.size}, 1).",
             "inputs of shape () give embeddings of shape (batch, k); a Flatten is not needed.")
    out = out.reshape(-1)
    logits = (user_table[users] * item_table[items]) @ weights[:, 0] + bias[0]
    want = 1.0 / (1.0 + np.exp(-logits))
    if np.any(out < 0) or np.any(out > 1):
        fail(f"predictions range from {out.min():.3g} to {out.max():.3g}; a probability lies in "
             "[0, 1].", "end with Dense(1, activation='sigmoid').")
    if np.allclose(out, logits, atol=1e-4):
        fail("the output is the raw logit, not a probability.",
             "Dense(1, activation='sigmoid').")
    if not np.allclose(out, want, atol=1e-4):
        worst = int(np.argmax(np.abs(out - want)))
        fail(f"with known weights, pair (user {users[worst]}, item {items[worst]}) gives "
             f"{out[worst]:.4f}, expected sigmoid(w · (p_u ⊙ q_i) + b) = {want[worst]:.4f}.",
             "multiply the user and item embeddings element-wise (Multiply), not Dot or "
             "Concatenate.")
    passed(f"build_gmf({n_users}, {n_items}, {k}) computes sigmoid(w · (p_u ⊙ q_i) + b) with "
           f"{expected_params} parameters, inputs \"user\"/\"item\", L2 as asked")


# --------------------------------------------------------------------------------------------
# quality bars


def check_quality_bars(model: str, result: Mapping[str, float]) -> None:
    """Check that the best model reaches :data:`QUALITY_BARS` on the leave-one-out protocol.

    Example:
        >>> check_quality_bars("NeuMF", {"hr@10_sampled": 0.66, "ndcg@10_sampled": 0.39,
        ...                              "hr@10_full": 0.15})  # doctest: +ELLIPSIS
        ✓ ...
    """
    __tracebackhide__ = True
    hints = {
        "hr@10_sampled": "train longer (early stopping on the validation NDCG), or try more "
                         "negatives per positive, a larger embedding, NeuMF from pretrained "
                         "GMF + MLP.",
        "ndcg@10_sampled": "the same levers as HR; NDCG also rewards putting the held-out "
                           "item near the very top.",
        "hr@10_full": "full ranking competes against every unseen item: more negatives per "
                      "positive push unpopular items down; check that seen items are masked.",
    }
    for key, bar in QUALITY_BARS.items():
        if key not in result:
            fail(f"{model}: no {key!r} in its results; have {sorted(result)}.")
        value = float(result[key])
        if not np.isfinite(value) or value < bar:
            fail(f"{model}: {key} = {value:.4f}, below the bar {bar}.", hints[key])
    shown = ", ".join(f"{key} {float(result[key]):.3f} ≥ {bar}" for key, bar in
                      QUALITY_BARS.items())
    passed(f"{model}: {shown}")
