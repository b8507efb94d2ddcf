"""Self-checks for ``00_movielens_tour``: the average rating per movie and the bias baseline.

Each check calls the student's function on small hand-made tables whose answers are computed
here with plain Python loops (a different route from the vectorised pandas a student writes),
then, when given, on the real data. A wrong answer gets a sentence that says what is wrong
(and, when it is about one test case, which one) and, for the usual mistakes, what to change.
The bias check also makes sure the function is vectorised (``reclab.checks.vectorised``:
counted, never timed). The student's function runs with numerical warnings silenced: a
wrong answer gets a message naming its mistake, not a ``RuntimeWarning``.

Example:
    >>> def average_rating(ratings, min_count):
    ...     stats = ratings.groupby("item_id")["rating"].agg(
    ...         mean_rating="mean", n_ratings="size")
    ...     return stats[stats["n_ratings"] >= min_count]
    >>> check_average_rating(average_rating)             # doctest: +ELLIPSIS
    ✓ ...
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from reclab.checks import fail, first_line, passed
from reclab.checks.vectorised import call_quietly, check_vectorised, synthetic_ratings

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

#: How the failure messages name the small table above, for a reader who has not seen it.
_TOUR_TABLE = "the self-check's small example table (13 ratings of movies 10, 20, 30, 40, 50)"

#: three users, three items; every user and item has at least two ratings.
_BIAS_RATINGS = pd.DataFrame(
    {
        "user_id":   [1, 1, 2, 2, 3, 3, 3],
        "item_id":   [10, 20, 10, 30, 20, 10, 30],
        "rating":    [5, 3, 4, 1, 2, 5, 2],
        "timestamp": [1, 2, 3, 4, 5, 6, 7],
    }
)  # fmt: skip

_BIAS_TABLE = "the self-check's small example table (7 ratings: users 1-3, movies 10, 20, 30)"


# ------------------------------------------------------------------------------------------
# exercise 1: average rating per movie


def _reference_average_rating(ratings: pd.DataFrame, min_count: int) -> dict[int, tuple]:
    """{item_id: (mean, number, median of the ratings)} with a loop, items with >= min_count."""
    seen: dict[int, list[float]] = {}
    for item, rating in zip(ratings["item_id"].tolist(), ratings["rating"].tolist(), strict=True):
        seen.setdefault(int(item), []).append(float(rating))
    return {
        item: (sum(values) / len(values), len(values), statistics.median(values))
        for item, values in seen.items()
        if len(values) >= min_count
    }


def _call(func: Callable, call: str, *args: Any, **kwargs: Any) -> Any:
    """``func(*args, **kwargs)`` with warnings silenced; an exception or ``None`` fails.

    These failures are about the function, not about one test case, so their messages name
    the ``call`` but not the case.
    """
    __tracebackhide__ = True
    result, error = call_quietly(func, *args, **kwargs)
    if error is not None:
        fail(f"{call} raised {first_line(error)}")
    if result is None:
        fail(f"{call} returned None: did you forget `return`?")
    return result


def _call_average_rating(func: Callable, ratings: pd.DataFrame, min_count: int) -> pd.DataFrame:
    """Call ``average_rating`` on a copy and check what kind of object it returns."""
    __tracebackhide__ = True
    call = f"average_rating(ratings, min_count={min_count})"
    result = _call(func, call, ratings.copy(), min_count)
    if isinstance(result, pd.Series):
        fail(
            f"{call} returned a Series; it should return a DataFrame with two columns, "
            "mean_rating and n_ratings, indexed by item_id.",
            "groupby('item_id')['rating'].agg(mean_rating='mean', n_ratings='size') gives both.",
        )
    if not isinstance(result, pd.DataFrame):
        fail(f"{call} returned a {type(result).__name__}, not a pandas DataFrame.")
    return result


def _check_layout(result: pd.DataFrame) -> None:
    """Columns and index, when the result has rows (an empty result may have any layout)."""
    __tracebackhide__ = True
    missing = [c for c in ("mean_rating", "n_ratings") if c not in result.columns]
    if missing:
        fail(
            f"the result lacks column(s) {missing}; it has {list(result.columns)}.",
            "name the columns exactly mean_rating and n_ratings (e.g. with named aggregation: "
            ".agg(mean_rating='mean', n_ratings='size')).",
        )
    if "item_id" not in result.columns and "user_id" in (result.index.name, *result.columns):
        fail(
            f"the result has one row per user, not per movie (its index is named "
            f"{result.index.name!r}, its columns are {list(result.columns)}): it groups by "
            "user_id; group by item_id (one row per movie).",
            "ratings.groupby('item_id')['rating'].agg(mean_rating='mean', n_ratings='size').",
        )
    if "item_id" in result.columns or result.index.name != "item_id":
        fail(
            f"the result should be indexed by item_id (its index is named "
            f"{result.index.name!r}, its columns are {list(result.columns)}).",
            "keep the index that groupby('item_id') gives you: don't reset_index().",
        )
    extra = [c for c in result.columns if c not in ("mean_rating", "n_ratings")]
    if extra:
        fail(
            f"the result has extra column(s) {extra}: it should have exactly the two columns "
            "mean_rating and n_ratings.",
            "aggregate only the mean and the size, or keep the two columns: "
            "result[['mean_rating', 'n_ratings']].",
        )
    if result.index.has_duplicates:
        fail("some item_id appear more than once in the result: one row per movie.")


def _check_ignores_min_count(func: Callable, ratings: pd.DataFrame) -> None:
    """Fail if the result is the same whatever ``min_count`` is (a hard-coded threshold)."""
    __tracebackhide__ = True
    tried = (1, 4, 10)
    rows = []
    for min_count in tried:
        result, error = call_quietly(func, ratings.copy(), min_count)
        if error is not None or not isinstance(result, pd.DataFrame):
            return  # the per-case checks below say what is wrong
        rows.append(frozenset(result.index.tolist()))
    if len(set(rows)) == 1:
        want = [len(_reference_average_rating(ratings, m)) for m in tried]
        same = "no movie at all" if not rows[0] else f"the same {len(rows[0])} movie(s)"
        fail(
            f"average_rating returns {same} for min_count=1, 4 and 10 on {_TOUR_TABLE}, "
            f"which has {want[0]}, {want[1]} and {want[2]} movies with at least that many "
            "ratings: your function ignores its `min_count` argument.",
            "keep only the movies with n_ratings >= min_count (you return every movie)."
            if len(rows[0]) == want[0]
            else "filter with the argument, n_ratings >= min_count, not with a fixed number "
            "such as 100.",
        )


def _check_counts_not_sums(result: pd.DataFrame, ratings: pd.DataFrame, where: str) -> None:
    """Fail if ``n_ratings`` holds each movie's sum of ratings (``"sum"`` for ``"size"``)."""
    __tracebackhide__ = True
    if "n_ratings" not in result.columns or len(result) == 0:
        return
    every = _reference_average_rating(ratings, 1)
    items = [i for i in result.index.tolist() if int(i) in every]
    if not items:
        return
    got = result.loc[items, "n_ratings"].to_numpy(dtype=float)
    sums = np.array([every[int(i)][0] * every[int(i)][1] for i in items])
    counts = np.array([every[int(i)][1] for i in items])
    if np.allclose(got, sums) and not np.allclose(got, counts):
        k = int(np.argmax(sums - counts))
        fail(
            f"{where}: n_ratings sums the ratings of each movie instead of counting them "
            f"(movie {items[k]}: n_ratings {got[k]:g}, the sum of its {counts[k]} ratings).",
            "count the rows of each movie: n_ratings='size' (or 'count'), not 'sum'; "
            "the filter n_ratings >= min_count then keeps the right movies.",
        )


def _check_average_case(func: Callable, ratings: pd.DataFrame, min_count: int, where: str) -> int:
    """Check one call of ``average_rating``; return the number of movies kept.

    ``where`` says, for a newcomer, which table and ``min_count`` the call used; it prefixes
    only the failures about this case's answer.
    """
    __tracebackhide__ = True
    result = _call_average_rating(func, ratings, min_count)
    _check_counts_not_sums(result, ratings, where)
    expected = _reference_average_rating(ratings, min_count)
    if len(expected) == 0:
        if len(result) != 0:
            fail(
                f"{where}: no movie has {min_count} ratings, so the result should be empty, "
                f"but it has {len(result)} row(s).",
                "keep only the movies whose number of ratings is >= min_count.",
            )
        return 0
    _check_layout(result)
    got_items = {int(i) for i in result.index.tolist()}
    counts = ratings["item_id"].value_counts().to_dict()
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
        fail(f"{where}: movie(s) {absent} are missing from your result.", hint)
    if extra:
        few = {i: counts.get(i, 0) for i in extra}
        fail(
            f"{where}: movie(s) {extra} should not be in your result, they have too few "
            f"ratings (item_id: count = {few}).",
            "filter on the number of ratings per movie: n_ratings >= min_count.",
        )
    if result["mean_rating"].dtype.kind != "f":
        fail(
            f"mean_rating has dtype {result['mean_rating'].dtype}; it should be a float.",
            "use .mean(), not integer division.",
        )
    if result["n_ratings"].dtype.kind not in "iu":
        fail(f"n_ratings has dtype {result['n_ratings'].dtype}; it should be an integer count.")
    items = sorted(expected)
    got = result.loc[items]
    want_mean = np.array([expected[i][0] for i in items])
    want_n = np.array([expected[i][1] for i in items])
    bad_n = np.flatnonzero(got["n_ratings"].to_numpy() != want_n)
    if bad_n.size:
        i = bad_n[0]
        fail(
            f"{where}: n_ratings of movie {items[i]} is {got['n_ratings'].iloc[i]}, expected "
            f"{want_n[i]}.",
            "count the ratings of each movie (size or count), not distinct values.",
        )
    got_mean = got["mean_rating"].to_numpy(dtype=float)
    bad_mean = np.flatnonzero(~np.isclose(got_mean, want_mean, rtol=0, atol=1e-9))
    if bad_mean.size:
        i = bad_mean[0]
        medians = [expected[item][2] for item in items]
        if np.allclose(got_mean, medians, rtol=0, atol=1e-9):
            fail(f"{where}: mean_rating of movie {items[i]} is {got_mean[i]:.6g}, the median "
                 f"of its ratings, not their mean ({want_mean[i]:.6g}).",
                 "aggregate with 'mean', not 'median': .agg(mean_rating='mean', ...).")
        fail(
            f"{where}: mean_rating of movie {items[i]} is {got_mean[i]:.6g}, expected "
            f"{want_mean[i]:.6g}.",
            "average the 'rating' column of each movie's rows.",
        )
    return len(items)


def _check_input_unchanged(func: Callable, ratings: pd.DataFrame) -> None:
    __tracebackhide__ = True
    table = ratings.copy()
    call_quietly(func, table, 2)
    if not table.equals(ratings):
        fail(
            "average_rating changed the ratings table it was given (a column was added, or "
            "rows were dropped or sorted in place).",
            "inside the function, `ratings` is the caller's table itself (the same object, "
            "not a copy), so `ratings['x'] = ...` or an inplace=True method changes it. Work "
            "on the result of groupby(...), or start with `ratings = ratings.copy()`.",
        )


def check_average_rating(
    average_rating: Callable[[pd.DataFrame, int], pd.DataFrame],
    ratings: pd.DataFrame | None = None,
) -> None:
    """Check ``average_rating(ratings, min_count)`` on hand-made cases and, if given, real data.

    The cases: the result depends on ``min_count`` at all, a movie with exactly ``min_count``
    ratings (kept), one with fewer (dropped), three movies tied on the mean,
    ``min_count=1`` (every movie), a ``min_count`` no movie reaches (empty result), and the
    input table is left unchanged.
    """
    __tracebackhide__ = True
    if not callable(average_rating):
        fail(f"pass the function itself (got a {type(average_rating).__name__}).")
    small = _TOUR_RATINGS
    # the first call tells a stub (NotImplementedError) and a wrong return type apart
    _call_average_rating(average_rating, small, 2)
    _check_ignores_min_count(average_rating, small)
    for min_count, why in ((2, "movies 10 and 50 have exactly 2 ratings, movie 20 one"),
                           (1, "keep every movie"),
                           (4, "keep the movies with 4 or more ratings"),
                           (10, "no movie has 10")):
        _check_average_case(average_rating, small, min_count,
                            f"On {_TOUR_TABLE} with min_count={min_count} ({why})")
    _check_input_unchanged(average_rating, small)
    passed("average_rating is right on the hand-made cases (threshold, ties, empty result)")
    if ratings is not None:
        kept = _check_average_case(
            average_rating, ratings, 100, "On the MovieLens ratings with min_count=100"
        )
        passed(f"average_rating is right on the real ratings ({kept} movies with >= 100 ratings)")


# ------------------------------------------------------------------------------------------
# exercise 2: user + item biases


def _reference_biases(
    ratings: pd.DataFrame,
    reg_user: float,
    reg_item: float,
    residual: bool = True,
    unparenthesised: bool = False,
) -> tuple[float, dict[int, float], dict[int, float]]:
    """Damped biases with loops: items first on r - mu, then users on r - mu - b_item.

    ``residual=False`` and ``unparenthesised=True`` (``sum / reg + n``) give two usual
    mistakes, to recognise them.
    """
    rows = list(ratings[["user_id", "item_id", "rating"]].itertuples(index=False, name=None))

    def damp(total: float, n: int, reg: float) -> float:
        if unparenthesised:
            return total / reg + n if reg else math.nan
        return total / (reg + n)

    def damped(pairs: list[tuple[int, float]], reg: float) -> dict[int, float]:
        """{key: damp(sum of its values, their number, reg)} for (key, value) pairs."""
        total: dict[int, float] = {}
        n: dict[int, int] = {}
        for key, value in pairs:
            total[key] = total.get(key, 0.0) + value
            n[key] = n.get(key, 0) + 1
        return {key: damp(total[key], n[key], reg) for key in total}

    mu = sum(float(r) for _, _, r in rows) / len(rows)
    b_item = damped([(i, r - mu) for _, i, r in rows], reg_item)
    b_user = damped([(u, r - mu - (b_item[i] if residual else 0.0)) for u, i, r in rows],
                    reg_user)
    return mu, b_user, b_item


def _users_first(ratings: pd.DataFrame, reg_user: float,
                 reg_item: float) -> tuple[float, dict[int, float], dict[int, float]]:
    """The usual mistake of fitting b_user on r - mu first, then b_item on the residuals."""
    swapped = ratings.rename(columns={"user_id": "item_id", "item_id": "user_id"})
    mu, b_item, b_user = _reference_biases(swapped, reg_user=reg_item, reg_item=reg_user)
    return mu, b_user, b_item


def _require_series(value: Any, what: str, key: str) -> pd.Series:
    """``value`` itself if it is a Series; otherwise fail with what it is and how to fix it."""
    __tracebackhide__ = True
    if isinstance(value, pd.DataFrame):
        columns = list(value.columns)
        if key in columns:
            fail(
                f"{what} must be a pandas Series indexed by {key}; you returned a DataFrame "
                f"with columns {columns}: reset_index() turned the {key} index into a column.",
                f"don't reset_index(); return the Series that groupby gives, indexed by {key}.",
            )
        example = f"df[{columns[0]!r}]" if len(columns) == 1 else f"df[{what!r}]"
        fail(
            f"{what} must be a pandas Series indexed by {key} (you returned a DataFrame with "
            f"column(s) {columns}; select the column, e.g. {example}).",
            "predict_from_biases and .map() need a Series: a one-column DataFrame is not one "
            "(no .to_frame(), no double brackets df[['sum']]).",
        )
    if not isinstance(value, pd.Series):
        fail(
            f"{what} must be a pandas Series indexed by {key}, got {type(value).__name__}.",
            f"a groupby('{key}') followed by sum()/count() gives such a Series.",
        )
    return value


def _as_bias_array(
    value: Any, what: str, key: str, ids: list[int], reg: float, where: str
) -> np.ndarray:
    """The values of the bias Series ``value`` for ``ids``, after checking its index."""
    __tracebackhide__ = True
    value = _require_series(value, what, key)
    if value.index.has_duplicates:
        fail(f"{what} has duplicate {key} values in its index: one value per {key}.")
    got = {int(k) for k in value.index.tolist()} if len(value) else set()
    if got != set(ids):
        if set(range(len(ids))) == got:
            fail(
                f"{what} is indexed 0..{len(ids) - 1}, by position, not by {key} "
                f"{sorted(ids)}.",
                f"keep the {key} index that groupby gives you (no reset_index / to_numpy).",
            )
        fail(
            f"{where}: {what} should have one value per {key} of the training table "
            f"{sorted(ids)}; its index is {sorted(got)}.",
        )
    arr = value.loc[ids].to_numpy(dtype=float)
    if not np.isfinite(arr).all():
        bad = int(np.flatnonzero(~np.isfinite(arr))[0])
        hint = (
            f"a division by zero? With {what.replace('b_', 'reg_')}={reg:g} the denominator "
            "λ + n is still the number of ratings (at least 1), so check the parentheses: "
            "sum / (reg + n), not sum / reg + n (Python divides before it adds)."
            if reg == 0
            else "a division by zero, or the mean of an empty group?"
        )
        fail(
            f"{where}: {what} has NaN or infinite values ({key} {ids[bad]}: {arr[bad]}).",
            hint,
        )
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
        "check the parentheses: sum / (λ + n), not sum / λ + n (Python divides before it "
        "adds).": _reference_biases(ratings, reg_user, reg_item, unparenthesised=True),
        "the users were fitted first: fit b_item on r - μ first, then b_user on what it "
        "leaves over, r - μ - b_item.": _users_first(ratings, reg_user, reg_item),
    }  # fmt: skip
    for message, (_, b_u, b_i) in variants.items():
        want_user = np.array([b_u[u] for u in users])
        want_item = np.array([b_i[i] for i in items])
        if np.allclose(got_user, want_user) and np.allclose(got_item, want_item):
            return message
    if abs(float(np.mean(got_user)) - mu) < 1.0 or abs(float(np.mean(got_item)) - mu) < 1.0:
        return "biases are deviations from μ: don't add μ into b_user or b_item."
    return (
        "follow the formulas: b_item = Σ(r - μ) / (λ_item + n_item), then "
        "b_user = Σ(r - μ - b_item) / (λ_user + n_user)."
    )


def _call_biases(func: Callable, train: pd.DataFrame, reg_user: float,
                 reg_item: float) -> tuple[str, Any, Any, Any]:
    """``(call, mu, b_user, b_item)``: call ``user_item_biases``, check it returns three values."""
    __tracebackhide__ = True
    call = f"user_item_biases(train, reg_user={reg_user:g}, reg_item={reg_item:g})"
    out = _call(func, call, train, reg_user=reg_user, reg_item=reg_item)
    if not isinstance(out, tuple) or len(out) != 3:
        fail(f"{call} should return a tuple (mu, b_user, b_item).")
    numbers = [np.isscalar(v) or (isinstance(v, np.ndarray) and v.ndim == 0) for v in out]
    if not numbers[0]:
        if any(numbers[1:]):
            fail(f"{call} returned the mean as value {numbers.index(True) + 1} of 3, and a "
                 f"{type(out[0]).__name__} first: the order is wrong.",
                 "return mu, b_user, b_item: the mean first, then the user biases, then the "
                 "item biases.")
        fail(f"mu should be a number, got {type(out[0]).__name__}.", "train['rating'].mean()")
    return (call, *out)


def _check_order(b_user: pd.Series, b_item: pd.Series, users: set, items: set,
                 call: str) -> None:
    """Fail if the Series come as (b_item, b_user): by their index names, or their ids."""
    __tracebackhide__ = True
    names = (b_user.index.name, b_item.index.name)
    ids = (set(b_user.index.tolist()), set(b_item.index.tolist()))
    if names == ("item_id", "user_id") or (users != items and ids == (items, users)):
        fail(
            f"{call} returned (mu, b_item, b_user): its second value is indexed by item_id "
            "and its third by user_id, so b_user and b_item are swapped.",
            "return them in the order the exercise asks: return mu, b_user, b_item "
            "(predict_from_biases(test, mu, b_user, b_item) reads them in this order).",
        )


def _check_bias_case(
    func: Callable, ratings: pd.DataFrame, reg_user: float, reg_item: float
) -> None:
    __tracebackhide__ = True
    where = f"On {_BIAS_TABLE} with reg_user={reg_user:g}, reg_item={reg_item:g}"
    call, mu, b_user, b_item = _call_biases(func, ratings.copy(), reg_user, reg_item)
    want_mu, want_user, want_item = _reference_biases(ratings, reg_user, reg_item)
    if not np.isclose(float(mu), want_mu, rtol=0, atol=1e-9):
        median = float(mu) == float(ratings["rating"].median())
        fail(f"{where}: mu is {float(mu):.6g}, expected the mean training rating {want_mu:.6g}"
             + (": that is the median rating." if median else "."),
             "μ is the mean: train['rating'].mean(), not .median()." if median else None)
    users = sorted(want_user)
    items = sorted(want_item)
    _require_series(b_user, "b_user", "user_id")
    _require_series(b_item, "b_item", "item_id")
    _check_order(b_user, b_item, set(users), set(items), call)
    got_item = _as_bias_array(b_item, "b_item", "item_id", items, reg_item, where)
    got_user = _as_bias_array(b_user, "b_user", "user_id", users, reg_user, where)
    for which, key, ids, got, want in (("b_item", "movie", items, got_item, want_item),
                                       ("b_user", "user", users, got_user, want_user)):
        want_values = np.array([want[i] for i in ids])
        if not np.allclose(got, want_values, rtol=0, atol=1e-9):
            k = int(np.argmax(np.abs(got - want_values)))
            fail(f"{where}: {which} of {key} {ids[k]} is {got[k]:.6g}, expected "
                 f"{want_values[k]:.6g}.",
                 _bias_hint(got_user, got_item, ratings, reg_user, reg_item, users, items))


def check_user_item_biases(
    user_item_biases: Callable[..., tuple[float, pd.Series, pd.Series]],
    train: pd.DataFrame | None = None,
) -> None:
    """Check ``user_item_biases(train, reg_user, reg_item)`` on a hand-made table, then speed.

    It must return ``(mu, b_user, b_item)``: the mean training rating, and the damped biases
    as Series indexed by ``user_id`` and ``item_id``, fitted items first, then users on the
    residuals. Three cases: no damping, unequal damping (catches swapped arguments), strong
    damping. Then, on ``train`` (or a synthetic table of 80,000 ratings), it must be
    vectorised: no Python loop over the ratings and no scan of the whole table per movie or
    user (counted by :func:`reclab.checks.vectorised.check_vectorised`, never timed).
    """
    __tracebackhide__ = True
    if not callable(user_item_biases):
        fail(f"pass the function itself (got a {type(user_item_biases).__name__}).")
    for reg_user, reg_item in ((0.0, 0.0), (2.0, 3.0), (25.0, 10.0)):
        _check_bias_case(user_item_biases, _BIAS_RATINGS, reg_user, reg_item)
    passed("user_item_biases is right on the hand-made cases (no, unequal and strong damping)")
    if train is None:
        table, what = synthetic_ratings(), "a synthetic table of 80,000 ratings"
    else:
        table, what = train, "the training ratings"
    lines = check_vectorised(user_item_biases, table, what)
    passed(f"user_item_biases is vectorised: {lines:,} lines of your code ran for "
           f"{len(table):,} ratings (counted, not timed)")


def check_bias_baseline_rmse(
    user_item_biases: Callable[..., tuple[float, pd.Series, pd.Series]],
    train: pd.DataFrame,
    test: pd.DataFrame,
    reg_user: float = 5.0,
    reg_item: float = 5.0,
    max_rmse: float = 0.960,
) -> float:
    """Fit the biases on ``train``, predict ``test`` (0 for unseen ids), require RMSE <= bar.

    Returns the RMSE.
    """
    __tracebackhide__ = True
    if len(train) == 0 or len(test) == 0:
        fail(f"train has {len(train)} rows and test {len(test)}: both must be non-empty.")
    call, mu, b_user, b_item = _call_biases(user_item_biases, train, reg_user, reg_item)
    b_user = _require_series(b_user, "b_user", "user_id")
    b_item = _require_series(b_item, "b_item", "item_id")
    _check_order(b_user, b_item, set(train["user_id"].tolist()), set(train["item_id"].tolist()),
                 call)
    for name, values in (("b_user", b_user), ("b_item", b_item)):
        n_bad = int((~np.isfinite(values.to_numpy(dtype=float))).sum())
        if n_bad:
            fail(
                f"{name} has {n_bad} NaN or infinite value(s).",
                "check for a division by zero (the parentheses of sum / (reg + n)?) or a "
                "mean of an empty group.",
            )
    pred = (
        float(mu)
        + test["user_id"].map(b_user).fillna(0.0).to_numpy(dtype=float)
        + test["item_id"].map(b_item).fillna(0.0).to_numpy(dtype=float)
    )
    err = test["rating"].to_numpy(dtype=float) - pred
    value = float(np.sqrt(np.mean(err**2)))
    if value > max_rmse:
        fail(
            f"the user + item bias baseline has test RMSE {value:.4f}, above the bar "
            f"{max_rmse:.3f} (a correct one gets about 0.957 on u1).",
            "check the self-check above passes, and that you fit on the training table only.",
        )
    passed(f"user + item bias baseline: test RMSE {value:.4f} <= {max_rmse:.3f}")
    return value
