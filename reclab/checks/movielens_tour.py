"""Self-checks for ``00_movielens_tour``: the average rating per movie and the bias baseline.

Each check calls the student's function on small hand-made tables whose answers are computed
here with plain Python loops (a different route from the vectorised pandas a student writes),
then, when given, on the real data. A wrong answer gets a sentence that names the failing case
and, for the usual mistakes, what to change.

Example:
    >>> def average_rating(ratings, min_count):
    ...     stats = ratings.groupby("item_id")["rating"].agg(
    ...         mean_rating="mean", n_ratings="size")
    ...     return stats[stats["n_ratings"] >= min_count]
    >>> check_average_rating(average_rating)             # doctest: +ELLIPSIS
    ✓ ...
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from reclab.checks import fail, passed

__all__ = [
    "check_average_rating",
    "check_bias_baseline_rmse",
    "check_user_item_biases",
]

# ------------------------------------------------------------------------------------------
# hand-made tables

#: item 10 has exactly 2 ratings (kept at min_count=2), item 20 a single 5-star rating
#: (dropped), items 30 and 50 tie with item 10 on the mean (4.5), item 40 is a low one.
_TOUR_RATINGS = pd.DataFrame(
    {
        "user_id":   [1, 2, 1, 3, 1, 2, 3, 4, 2, 3, 4, 4, 5],
        "item_id":   [10, 10, 20, 30, 30, 30, 50, 50, 40, 40, 40, 30, 40],
        "rating":    [5, 4, 5, 4, 5, 4, 5, 4, 1, 3, 2, 5, 1],
        "timestamp": [9, 3, 7, 1, 2, 8, 5, 4, 6, 10, 11, 12, 13],
    }
)  # fmt: skip

#: three users, three items; every user and item has at least two ratings.
_BIAS_RATINGS = pd.DataFrame(
    {
        "user_id":   [1, 1, 2, 2, 3, 3, 3],
        "item_id":   [10, 20, 10, 30, 20, 10, 30],
        "rating":    [5, 3, 4, 1, 2, 5, 2],
        "timestamp": [1, 2, 3, 4, 5, 6, 7],
    }
)  # fmt: skip


def _reference_average_rating(ratings: pd.DataFrame, min_count: int) -> dict[int, tuple]:
    """{item_id: (mean rating, number of ratings)} with a loop, for items with >= min_count."""
    seen: dict[int, list[float]] = {}
    for item, rating in zip(ratings["item_id"].tolist(), ratings["rating"].tolist(), strict=True):
        seen.setdefault(int(item), []).append(float(rating))
    return {
        item: (sum(values) / len(values), len(values))
        for item, values in seen.items()
        if len(values) >= min_count
    }


def _counts(ratings: pd.DataFrame) -> dict[int, int]:
    return {int(k): int(v) for k, v in ratings["item_id"].value_counts().items()}


def _fail_case(case: str, what: str, hint: str | None = None) -> None:
    __tracebackhide__ = True
    fail(f"Case {case}: {what}", hint)


def _check_average_case(func: Callable, ratings: pd.DataFrame, min_count: int, case: str) -> int:
    """Check one call of ``average_rating``; return the number of movies kept."""
    __tracebackhide__ = True
    before = ratings.copy()
    try:
        result = func(ratings.copy() if case != "input unchanged" else ratings, min_count)
    except NotImplementedError:
        raise
    except Exception as exc:
        _fail_case(case, f"average_rating raised {type(exc).__name__}: {exc}")
    if case == "input unchanged" and not ratings.equals(before):
        _fail_case(
            case,
            "average_rating changed the ratings table it was given (a column was added, or "
            "rows were dropped or sorted in place).",
            "work on the result of groupby(...) and leave `ratings` as it is; with pandas' "
            "copy-on-write, `ratings['x'] = ...` inside the function edits the caller's table.",
        )
    if result is None:
        _fail_case(case, "average_rating returned None: did you forget `return`?")
    if isinstance(result, pd.Series):
        _fail_case(
            case,
            "average_rating returned a Series; it should return a DataFrame with two columns, "
            "mean_rating and n_ratings, indexed by item_id.",
            "groupby('item_id')['rating'].agg(mean_rating='mean', n_ratings='size') gives both.",
        )
    if not isinstance(result, pd.DataFrame):
        _fail_case(case, f"average_rating returned a {type(result).__name__}, not a DataFrame.")
    expected = _reference_average_rating(ratings, min_count)
    if len(expected) == 0:
        if len(result) != 0:
            _fail_case(
                case,
                f"with min_count={min_count} no movie has enough ratings, so the result should "
                f"be empty, but it has {len(result)} row(s).",
                "keep only the movies whose number of ratings is >= min_count.",
            )
        return 0
    missing_cols = [c for c in ("mean_rating", "n_ratings") if c not in result.columns]
    if missing_cols:
        _fail_case(
            case,
            f"the result lacks column(s) {missing_cols}; it has {list(result.columns)}.",
            "name the columns exactly mean_rating and n_ratings (e.g. with named aggregation: "
            ".agg(mean_rating='mean', n_ratings='size')).",
        )
    if "item_id" in result.columns or result.index.name != "item_id":
        _fail_case(
            case,
            f"the result should be indexed by item_id (its index is named "
            f"{result.index.name!r}, its columns are {list(result.columns)}).",
            "keep the index that groupby('item_id') gives you: don't reset_index().",
        )
    if result.index.has_duplicates:
        _fail_case(case, "some item_id appear more than once in the result.")
    got_items = {int(i) for i in result.index.tolist()}
    counts = _counts(ratings)
    absent = sorted(set(expected) - got_items)
    extra = sorted(got_items - set(expected))
    if absent:
        at_threshold = [i for i in absent if counts.get(i) == min_count]
        hint = (
            f"movie(s) {at_threshold} have exactly min_count={min_count} ratings: "
            "'at least min_count' means >=, not >."
            if at_threshold
            else "keep every movie with at least min_count ratings (don't take a top-n)."
        )
        _fail_case(case, f"movie(s) {absent} are missing from the result.", hint)
    if extra:
        few = {i: counts.get(i, 0) for i in extra}
        _fail_case(
            case,
            f"movie(s) {extra} should not be in the result: they have too few ratings "
            f"(item_id: count = {few}, min_count={min_count}).",
            "filter on the number of ratings per movie: n_ratings >= min_count.",
        )
    if result["mean_rating"].dtype.kind != "f":
        _fail_case(
            case,
            f"mean_rating has dtype {result['mean_rating'].dtype}; it should be a float.",
            "use .mean(), not integer division.",
        )
    if result["n_ratings"].dtype.kind not in "iu":
        _fail_case(
            case,
            f"n_ratings has dtype {result['n_ratings'].dtype}; it should be an integer count.",
        )
    items = sorted(expected)
    got = result.loc[items]
    want_mean = np.array([expected[i][0] for i in items])
    want_n = np.array([expected[i][1] for i in items])
    bad_n = np.flatnonzero(got["n_ratings"].to_numpy() != want_n)
    if bad_n.size:
        i = bad_n[0]
        _fail_case(
            case,
            f"n_ratings of movie {items[i]} is {got['n_ratings'].iloc[i]}, expected {want_n[i]}.",
            "count the ratings of each movie (size or count), not distinct values.",
        )
    got_mean = got["mean_rating"].to_numpy(dtype=float)
    bad_mean = np.flatnonzero(~np.isclose(got_mean, want_mean, rtol=0, atol=1e-9))
    if bad_mean.size:
        i = bad_mean[0]
        _fail_case(
            case,
            f"mean_rating of movie {items[i]} is {got_mean[i]:.6g}, expected {want_mean[i]:.6g}.",
            "average the 'rating' column of each movie's rows.",
        )
    return len(items)


def check_average_rating(
    average_rating: Callable[[pd.DataFrame, int], pd.DataFrame],
    ratings: pd.DataFrame | None = None,
) -> None:
    """Check ``average_rating(ratings, min_count)`` on hand-made cases and, if given, real data.

    The cases: a movie with exactly ``min_count`` ratings (kept), one with fewer (dropped),
    three movies tied on the mean, ``min_count=1`` (every movie), a ``min_count`` no movie
    reaches (empty result), and that the input table is left unchanged.
    """
    __tracebackhide__ = True
    if not callable(average_rating):
        fail(f"pass the function itself (got a {type(average_rating).__name__}).")
    small = _TOUR_RATINGS
    _check_average_case(average_rating, small, 2, "min_count=2 (a movie exactly at 2, ties)")
    _check_average_case(average_rating, small, 1, "min_count=1 (every movie)")
    _check_average_case(average_rating, small, 4, "min_count=4 (only the busiest movies)")
    _check_average_case(average_rating, small, 10, "min_count=10 (no movie qualifies)")
    _check_average_case(average_rating, small, 2, "input unchanged")
    passed("average_rating is right on the hand-made cases (threshold, ties, empty result)")
    if ratings is not None:
        kept = _check_average_case(average_rating, ratings, 100, "MovieLens, min_count=100")
        passed(f"average_rating is right on the real ratings ({kept} movies with >= 100 ratings)")


# ------------------------------------------------------------------------------------------
# user + item biases


def _reference_biases(
    ratings: pd.DataFrame, reg_user: float, reg_item: float, residual: bool = True
) -> tuple[float, dict[int, float], dict[int, float]]:
    """Damped biases with loops: items first on r - mu, then users on r - mu - b_item."""
    rows = list(
        zip(ratings["user_id"].tolist(), ratings["item_id"].tolist(),
            ratings["rating"].tolist(), strict=True)
    )  # fmt: skip
    mu = sum(float(r) for _, _, r in rows) / len(rows)
    item_sum: dict[int, float] = {}
    item_n: dict[int, int] = {}
    for _, i, r in rows:
        item_sum[i] = item_sum.get(i, 0.0) + (r - mu)
        item_n[i] = item_n.get(i, 0) + 1
    b_item = {i: item_sum[i] / (reg_item + item_n[i]) for i in item_sum}
    user_sum: dict[int, float] = {}
    user_n: dict[int, int] = {}
    for u, i, r in rows:
        user_sum[u] = user_sum.get(u, 0.0) + (r - mu - (b_item[i] if residual else 0.0))
        user_n[u] = user_n.get(u, 0) + 1
    b_user = {u: user_sum[u] / (reg_user + user_n[u]) for u in user_sum}
    return mu, b_user, b_item


def _as_bias_series(value: Any, what: str, key: str, ids: list[int], case: str) -> np.ndarray:
    __tracebackhide__ = True
    if isinstance(value, pd.DataFrame) and value.shape[1] == 1:
        value = value.iloc[:, 0]
    if not isinstance(value, pd.Series):
        _fail_case(
            case,
            f"{what} should be a pandas Series indexed by {key}, got {type(value).__name__}.",
            f"a groupby('{key}') followed by sum()/count() gives such a Series.",
        )
    if value.index.has_duplicates:
        _fail_case(case, f"{what} has duplicate {key} values in its index.")
    got = {int(k) for k in value.index.tolist()} if len(value) else set()
    if got != set(ids):
        if set(range(len(ids))) == got and set(ids) != got:
            _fail_case(
                case,
                f"{what} is indexed 0..{len(ids) - 1}, by position, not by {key} {sorted(ids)}.",
                f"keep the {key} index that groupby gives you (no reset_index / to_numpy).",
            )
        _fail_case(
            case,
            f"{what} should have one value per {key} of the training table {sorted(ids)}; "
            f"its index is {sorted(got)}.",
        )
    arr = value.loc[ids].to_numpy(dtype=float)
    if not np.isfinite(arr).all():
        _fail_case(case, f"{what} has NaN or infinite values.")
    return arr


def _bias_hint(
    got_user: np.ndarray,
    got_item: np.ndarray,
    ratings: pd.DataFrame,
    reg_user: float,
    reg_item: float,
    users: list[int],
    items: list[int],
) -> str:
    """Name the usual mistake when the answer matches one of them."""
    mu, _, _ = _reference_biases(ratings, reg_user, reg_item)
    variants = {
        "reg_user and reg_item are swapped (λ_item damps the items, λ_user the users).":
            _reference_biases(ratings, reg_item, reg_user),
        "the damping is missing: divide by (λ + number of ratings), not by the count alone.":
            _reference_biases(ratings, 0.0, 0.0),
        "b_user must be fitted on what the item bias leaves over: r - μ - b_item, not r - μ.":
            _reference_biases(ratings, reg_user, reg_item, residual=False),
    }  # fmt: skip
    for message, (_, b_u, b_i) in variants.items():
        if np.allclose(got_user, [b_u[u] for u in users]) and np.allclose(
            got_item, [b_i[i] for i in items]
        ):
            return message
    if abs(float(np.mean(got_user)) - mu) < 1.0 or abs(float(np.mean(got_item)) - mu) < 1.0:
        return "biases are deviations from μ: don't add μ into b_user or b_item."
    return (
        "follow the formulas: b_item = Σ(r - μ) / (λ_item + n_item), then "
        "b_user = Σ(r - μ - b_item) / (λ_user + n_user)."
    )


def _check_bias_case(
    func: Callable, ratings: pd.DataFrame, reg_user: float, reg_item: float
) -> None:
    __tracebackhide__ = True
    case = f"reg_user={reg_user:g}, reg_item={reg_item:g}"
    try:
        out = func(ratings.copy(), reg_user=reg_user, reg_item=reg_item)
    except NotImplementedError:
        raise
    except Exception as exc:
        _fail_case(case, f"user_item_biases raised {type(exc).__name__}: {exc}")
    if out is None:
        _fail_case(case, "user_item_biases returned None: did you forget `return`?")
    if not isinstance(out, tuple) or len(out) != 3:
        _fail_case(case, "user_item_biases should return a tuple (mu, b_user, b_item).")
    mu, b_user, b_item = out
    want_mu, want_user, want_item = _reference_biases(ratings, reg_user, reg_item)
    if not np.isscalar(mu) and not (isinstance(mu, np.ndarray) and mu.ndim == 0):
        _fail_case(case, f"mu should be a number, got {type(mu).__name__}.")
    if not np.isclose(float(mu), want_mu, rtol=0, atol=1e-9):
        _fail_case(
            case,
            f"mu is {float(mu):.6g}, expected the mean training rating {want_mu:.6g}.",
        )
    users = sorted(want_user)
    items = sorted(want_item)
    got_user = _as_bias_series(b_user, "b_user", "user_id", users, case)
    got_item = _as_bias_series(b_item, "b_item", "item_id", items, case)
    ok_item = np.allclose(got_item, [want_item[i] for i in items], rtol=0, atol=1e-9)
    ok_user = np.allclose(got_user, [want_user[u] for u in users], rtol=0, atol=1e-9)
    if not (ok_item and ok_user):
        which = "b_item" if not ok_item else "b_user"
        where = items if not ok_item else users
        got = got_item if not ok_item else got_user
        want = [want_item[i] for i in items] if not ok_item else [want_user[u] for u in users]
        k = int(np.argmax(np.abs(np.asarray(got) - np.asarray(want))))
        _fail_case(
            case,
            f"{which} of id {where[k]} is {got[k]:.6g}, expected {want[k]:.6g}.",
            _bias_hint(got_user, got_item, ratings, reg_user, reg_item, users, items),
        )


def check_user_item_biases(
    user_item_biases: Callable[..., tuple[float, pd.Series, pd.Series]],
) -> None:
    """Check ``user_item_biases(train, reg_user, reg_item)`` on a hand-made table.

    It must return ``(mu, b_user, b_item)``: the mean training rating, and the damped biases
    as Series indexed by ``user_id`` and ``item_id``, fitted items first, then users on the
    residuals. Three cases: no damping, unequal damping (catches swapped arguments), strong
    damping.
    """
    __tracebackhide__ = True
    if not callable(user_item_biases):
        fail(f"pass the function itself (got a {type(user_item_biases).__name__}).")
    for reg_user, reg_item in ((0.0, 0.0), (2.0, 3.0), (25.0, 10.0)):
        _check_bias_case(user_item_biases, _BIAS_RATINGS, reg_user, reg_item)
    passed("user_item_biases is right on the hand-made cases (no, unequal and strong damping)")


def check_bias_baseline_rmse(
    user_item_biases: Callable[..., tuple[float, pd.Series, pd.Series]],
    train: pd.DataFrame,
    test: pd.DataFrame,
    reg_user: float = 5.0,
    reg_item: float = 5.0,
    max_rmse: float = 0.960,
) -> float:
    """Fit the biases on ``train``, predict ``test`` (0 for unseen ids), require RMSE <= bar.

    Returns the RMSE. Also says when the function is slow (a Python loop over rows).
    """
    __tracebackhide__ = True
    if len(train) == 0 or len(test) == 0:
        fail(f"train has {len(train)} rows and test {len(test)}: both must be non-empty.")
    start = time.perf_counter()
    mu, b_user, b_item = user_item_biases(train, reg_user=reg_user, reg_item=reg_item)
    seconds = time.perf_counter() - start
    for name, values in (("b_user", b_user), ("b_item", b_item)):
        n_bad = int((~np.isfinite(np.asarray(values, dtype=float))).sum())
        if n_bad:
            fail(
                f"{name} has {n_bad} NaN or infinite value(s).",
                "check for a division by zero or a mean of an empty group.",
            )
    pred = (
        float(mu)
        + test["user_id"].map(b_user).fillna(0.0).to_numpy(dtype=float)
        + test["item_id"].map(b_item).fillna(0.0).to_numpy(dtype=float)
    )
    if not np.isfinite(pred).all():
        fail(
            f"{int((~np.isfinite(pred)).sum())} test predictions are NaN or infinite.",
            "check that b_user and b_item have no NaN (a division by zero?).",
        )
    err = test["rating"].to_numpy(dtype=float) - pred
    value = float(np.sqrt(np.mean(err**2)))
    if value > max_rmse:
        fail(
            f"the user + item bias baseline has test RMSE {value:.4f}, above the bar "
            f"{max_rmse:.3f} (a correct one gets about 0.957 on u1).",
            "check the self-check above passes, and that you fit on the training table only.",
        )
    if seconds > 2.0:
        print(
            f"note: user_item_biases took {seconds:.1f} s on {len(train):,} ratings; "
            "a vectorised version (groupby + map) takes a few milliseconds."
        )
    passed(f"user + item bias baseline: test RMSE {value:.4f} <= {max_rmse:.3f}")
    return value
