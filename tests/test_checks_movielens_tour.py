"""The self-checks of 00_movielens_tour accept right answers and explain the usual wrong ones."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from reclab.checks import CheckFailed
from reclab.checks.movielens_tour import (
    check_average_rating,
    check_bias_baseline_rmse,
    check_user_item_biases,
)

# ------------------------------------------------------------------------------------------
# a synthetic "real" table (the tests never need MovieLens itself)


@pytest.fixture(scope="module")
def ratings() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 8000
    users = rng.integers(1, 200, n)
    items = rng.zipf(1.5, n) % 400 + 1  # a long tail: a few items get most ratings
    frame = pd.DataFrame(
        {"user_id": users, "item_id": items, "rating": rng.integers(1, 6, n),
         "timestamp": rng.integers(0, 10**6, n)}
    ).drop_duplicates(["user_id", "item_id"])  # fmt: skip
    return frame.reset_index(drop=True)


# ------------------------------------------------------------------------------------------
# average_rating


def average_rating(ratings: pd.DataFrame, min_count: int) -> pd.DataFrame:
    stats = ratings.groupby("item_id")["rating"].agg(mean_rating="mean", n_ratings="size")
    return stats[stats["n_ratings"] >= min_count]


def test_average_rating_right_answer_passes(ratings, capsys):
    check_average_rating(average_rating, ratings)
    out = capsys.readouterr().out
    assert out.count("✓") == 2


def test_average_rating_sorted_answer_passes():
    def sorted_answer(ratings, min_count):
        return average_rating(ratings, min_count).sort_values("mean_rating", ascending=False)

    check_average_rating(sorted_answer)


def _fails(func, *args, match: str) -> None:
    with pytest.raises(CheckFailed, match=match):
        func(*args)


def test_strict_threshold_is_named():
    def strict(ratings, min_count):
        stats = ratings.groupby("item_id")["rating"].agg(mean_rating="mean", n_ratings="size")
        return stats[stats["n_ratings"] > min_count]

    _fails(check_average_rating, strict,
           match=r"^On the self-check's small example table .* with min_count=2 .*: movie\(s\) "
                 r"\[10, 50\] are missing from your result.\nHint: .*exactly min_count=2 ratings.*"
                 r">=, not >")


def test_no_filter_is_named():
    def unfiltered(ratings, min_count):
        return ratings.groupby("item_id")["rating"].agg(mean_rating="mean", n_ratings="size")

    _fails(check_average_rating, unfiltered,
           match=r"ignores its `min_count` argument.*\n.*you return every movie")


def test_off_by_one_threshold_is_named():
    def loose(ratings, min_count):
        stats = ratings.groupby("item_id")["rating"].agg(mean_rating="mean", n_ratings="size")
        return stats[stats["n_ratings"] >= min_count - 1]

    _fails(check_average_rating, loose, match=r"min_count=2 .*\[20\] should not be in your "
           r"result, they have too few ratings")


def test_hard_coded_threshold_is_named():
    """Finding 4a: `>= 100` used to get a hint about > vs >=; it ignores min_count."""

    def hard_coded(ratings, min_count):
        stats = ratings.groupby("item_id")["rating"].agg(mean_rating="mean", n_ratings="size")
        return stats[stats["n_ratings"] >= 100]

    with pytest.raises(CheckFailed) as info:
        check_average_rating(hard_coded)
    message = str(info.value)
    assert "ignores its `min_count` argument" in message
    assert "not with a fixed number" in message
    assert ">=, not >" not in message


def test_extra_column_is_refused():
    """Finding 10: a `std` column besides the two asked for."""

    def with_std(ratings, min_count):
        stats = ratings.groupby("item_id")["rating"].agg(
            mean_rating="mean", n_ratings="size", std="std")
        return stats[stats["n_ratings"] >= min_count]

    _fails(check_average_rating, with_std,
           match=r"extra column\(s\) \['std'\].*exactly the two columns")


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (lambda ratings, min_count: None, r"^average_rating\(ratings, min_count=2\) returned None"),
        (lambda ratings, min_count: average_rating(ratings, min_count).rename(
            columns={"n_ratings": "count"}), r"^the result lacks column\(s\) \['n_ratings'\]"),
        (lambda ratings, min_count: ratings["nope"], r"^average_rating\(ratings, min_count=2\) "
                                                     r"raised KeyError: 'nope'"),
    ],
)
def test_general_failures_name_no_test_case(answer, message):
    """Finding 6: failures that are not about one case don't start with the case."""
    with pytest.raises(CheckFailed, match=message) as info:
        check_average_rating(answer)
    assert "Case" not in str(info.value) and "min_count=2 (" not in str(info.value)
    assert info.value.__context__ is None  # no chained traceback of the student's error


def test_series_is_refused_with_a_hint():
    def series(ratings, min_count):
        counts = ratings.groupby("item_id")["rating"].size()
        return ratings.groupby("item_id")["rating"].mean()[counts >= min_count]

    _fails(check_average_rating, series, match=r"returned a Series")


def test_reset_index_is_named():
    def flat(ratings, min_count):
        return average_rating(ratings, min_count).reset_index()

    _fails(check_average_rating, flat, match=r"indexed by item_id")


@pytest.mark.parametrize("reset", [False, True])
def test_grouping_by_user_is_named_not_reset_index(reset):
    """Walkthrough: groupby('user_id') got the hint "don't reset_index()"."""

    def by_user(ratings, min_count):
        stats = ratings.groupby("user_id")["rating"].agg(mean_rating="mean", n_ratings="size")
        stats = stats[stats["n_ratings"] >= min_count]
        return stats.reset_index() if reset else stats

    with pytest.raises(CheckFailed) as info:
        check_average_rating(by_user)
    message = str(info.value)
    assert "it groups by user_id; group by item_id (one row per movie)" in message
    assert "groupby('item_id')" in message.splitlines()[-1]
    assert "reset_index" not in message


def test_wrong_column_names_are_named():
    def renamed(ratings, min_count):
        return average_rating(ratings, min_count).rename(columns={"mean_rating": "mean"})

    _fails(check_average_rating, renamed, match=r"lacks column\(s\) \['mean_rating'\]")


def test_top_n_instead_of_filter_is_caught():
    def top3(ratings, min_count):
        return average_rating(ratings, min_count).nlargest(3, "mean_rating", keep="first")

    _fails(check_average_rating, top3, match=r"missing from your result.*\n.*top-n")


def test_integer_mean_is_caught():
    def floored(ratings, min_count):
        stats = average_rating(ratings, min_count)
        return stats.assign(mean_rating=stats["mean_rating"].astype("int64"))

    _fails(check_average_rating, floored, match=r"mean_rating has dtype int64")


def test_median_instead_of_mean_is_caught():
    def median(ratings, min_count):
        stats = ratings.groupby("item_id")["rating"].agg(mean_rating="median", n_ratings="size")
        return stats[stats["n_ratings"] >= min_count]

    _fails(check_average_rating, median,
           match=r"min_count=2 .*: mean_rating of movie 40 is 1\.5, the median of its ratings, "
                 r"not their mean \(1\.75\)\.\nHint: aggregate with 'mean', not 'median'")


def test_median_via_apply_is_named():
    def median(ratings, min_count):
        grouped = ratings.groupby("item_id")["rating"]
        stats = pd.DataFrame({"mean_rating": grouped.apply(np.median).astype(float),
                              "n_ratings": grouped.size()})
        return stats[stats["n_ratings"] >= min_count]

    _fails(check_average_rating, median, match=r"the median of its ratings, not their mean")


def test_mutating_the_input_is_caught():
    def mutating(ratings, min_count):
        ratings["n"] = ratings.groupby("item_id")["rating"].transform("size")
        return average_rating(ratings, min_count)

    with pytest.raises(CheckFailed, match=r"changed the ratings table") as info:
        check_average_rating(mutating)
    assert "copy-on-write" not in str(info.value)
    assert "the same object" in str(info.value) and ".copy()" in str(info.value)


def test_none_is_caught():
    _fails(check_average_rating, lambda ratings, min_count: None, match=r"forget `return`")


def test_stub_raises_not_implemented():
    def average_rating(ratings, min_count):
        raise NotImplementedError

    with pytest.raises(CheckFailed, match=r"^average_rating is not written yet"):
        check_average_rating(average_rating)


def test_real_data_case_catches_a_wrong_real_answer(ratings):
    def off_on_big_tables(ratings, min_count):
        stats = average_rating(ratings, min_count)
        if len(ratings) > 100:  # right on the small cases, wrong on the real table
            stats = stats.assign(mean_rating=stats["mean_rating"] + 0.1)
        return stats

    check_average_rating(off_on_big_tables)  # the small cases alone pass
    _fails(check_average_rating, off_on_big_tables, ratings,
           match=r"MovieLens ratings with min_count=100")


# ------------------------------------------------------------------------------------------
# user_item_biases


def user_item_biases(train, reg_user=5.0, reg_item=5.0):
    mu = train["rating"].mean()
    item = (train["rating"] - mu).groupby(train["item_id"]).agg(["sum", "size"])
    b_item = item["sum"] / (reg_item + item["size"])
    residual = train["rating"] - mu - train["item_id"].map(b_item)
    user = residual.groupby(train["user_id"]).agg(["sum", "size"])
    b_user = user["sum"] / (reg_user + user["size"])
    return mu, b_user, b_item


def test_biases_right_answer_passes(capsys):
    check_user_item_biases(user_item_biases)
    assert "✓" in capsys.readouterr().out


def test_swapped_regularisation_is_named():
    def swapped(train, reg_user=5.0, reg_item=5.0):
        return user_item_biases(train, reg_user=reg_item, reg_item=reg_user)

    _fails(check_user_item_biases, swapped, match=r"swapped")


def test_missing_damping_is_named():
    def undamped(train, reg_user=5.0, reg_item=5.0):
        return user_item_biases(train, 0.0, 0.0)

    _fails(check_user_item_biases, undamped, match=r"damping is missing")


def test_no_residual_is_named():
    def independent(train, reg_user=5.0, reg_item=5.0):
        mu = train["rating"].mean()
        item = (train["rating"] - mu).groupby(train["item_id"]).agg(["sum", "size"])
        user = (train["rating"] - mu).groupby(train["user_id"]).agg(["sum", "size"])
        return mu, user["sum"] / (reg_user + user["size"]), item["sum"] / (reg_item + item["size"])

    _fails(check_user_item_biases, independent, match=r"r - μ - b_item")


def test_users_fitted_first_is_named():
    def users_first(train, reg_user=5.0, reg_item=5.0):
        mu = float(train["rating"].mean())
        user = (train["rating"] - mu).groupby(train["user_id"]).agg(["sum", "size"])
        b_user = user["sum"] / (reg_user + user["size"])
        residual = train["rating"] - mu - train["user_id"].map(b_user)
        item = residual.groupby(train["item_id"]).agg(["sum", "size"])
        return mu, b_user, item["sum"] / (reg_item + item["size"])

    _fails(check_user_item_biases, users_first,
           match=r"reg_user=0, reg_item=0: b_item of movie .*\n"
                 r"Hint: the users were fitted first: fit b_item on r - μ first")


def test_mu_added_into_biases_is_named():
    def with_mu(train, reg_user=5.0, reg_item=5.0):
        mu, b_user, b_item = user_item_biases(train, reg_user, reg_item)
        return mu, b_user + mu, b_item + mu

    _fails(check_user_item_biases, with_mu, match=r"don't add μ")


def test_positional_index_is_named():
    def positional(train, reg_user=5.0, reg_item=5.0):
        mu, b_user, b_item = user_item_biases(train, reg_user, reg_item)
        return mu, b_user.reset_index(drop=True), b_item

    _fails(check_user_item_biases, positional, match=r"by position")


def test_numpy_arrays_are_refused():
    def arrays(train, reg_user=5.0, reg_item=5.0):
        mu, b_user, b_item = user_item_biases(train, reg_user, reg_item)
        return mu, b_user.to_numpy(), b_item.to_numpy()

    _fails(check_user_item_biases, arrays,
           match=r"must be a pandas Series indexed by user_id, got ndarray")


def test_median_mu_is_named():
    def median_mu(train, reg_user=5.0, reg_item=5.0):
        mu = float(train["rating"].median())
        item = (train["rating"] - mu).groupby(train["item_id"]).agg(["sum", "size"])
        b_item = item["sum"] / (reg_item + item["size"])
        residual = train["rating"] - mu - train["item_id"].map(b_item)
        user = residual.groupby(train["user_id"]).agg(["sum", "size"])
        return mu, user["sum"] / (reg_user + user["size"]), b_item

    _fails(check_user_item_biases, median_mu,
           match=r"mu is 3, expected the mean training rating 3\.14286: that is the median "
                 r"rating\.\nHint: μ is the mean: train\['rating'\]\.mean\(\), not \.median\(\)")


def test_other_wrong_mu_is_not_called_a_median():
    def rounded_mu(train, reg_user=5.0, reg_item=5.0):
        _, b_user, b_item = user_item_biases(train, reg_user, reg_item)
        return round(float(train["rating"].mean()), 1), b_user, b_item

    with pytest.raises(CheckFailed, match=r"mu is 3\.1, expected the mean") as info:
        check_user_item_biases(rounded_mu)
    assert "median" not in str(info.value)


def test_two_values_are_refused():
    _fails(
        check_user_item_biases,
        lambda train, reg_user=5.0, reg_item=5.0: user_item_biases(train)[1:],
        match=r"tuple \(mu, b_user, b_item\)",
    )


def test_rmse_bar_passes_and_fails(ratings):
    cut = int(0.8 * len(ratings))
    train, test = ratings.iloc[:cut], ratings.iloc[cut:]
    value = check_bias_baseline_rmse(user_item_biases, train, test, max_rmse=10.0)
    assert 0.5 < value < 3.0

    def constant(train, reg_user=5.0, reg_item=5.0):
        mu, b_user, b_item = user_item_biases(train, reg_user, reg_item)
        return mu + 2.0, b_user * 0, b_item * 0

    with pytest.raises(CheckFailed, match=r"above the bar"):
        check_bias_baseline_rmse(constant, train, test, max_rmse=value)


def test_rmse_bar_reports_nan(ratings):
    def nan(train, reg_user=5.0, reg_item=5.0):
        mu, b_user, b_item = user_item_biases(train, reg_user, reg_item)
        return mu, b_user * np.nan, b_item

    with pytest.raises(CheckFailed, match=r"NaN"):
        check_bias_baseline_rmse(nan, ratings.iloc[:1000], ratings.iloc[1000:])


@pytest.mark.parametrize("which", ["b_user", "b_item"])
def test_one_column_dataframe_is_refused(which):
    """Finding 1: a `.to_frame()` answer used to pass, then crashed predict_from_biases."""

    def frames(train, reg_user=5.0, reg_item=5.0):
        mu, b_user, b_item = user_item_biases(train, reg_user, reg_item)
        if which == "b_user":
            return mu, b_user.to_frame("b_user"), b_item
        return mu, b_user, b_item.to_frame("b_item")

    key = "user_id" if which == "b_user" else "item_id"
    _fails(check_user_item_biases, frames,
           match=rf"^{which} must be a pandas Series indexed by {key} \(you returned a "
                 rf"DataFrame with column\(s\) \['{which}'\]; select the column, e\.g\. "
                 rf"df\['{which}'\]\)")


@pytest.mark.parametrize("which", ["b_user", "b_item"])
def test_reset_index_of_a_bias_is_named(which, ratings):
    """Walkthrough: b_user.reset_index() (columns ['user_id', 0]) got the .to_frame() hint."""

    def flat(train, reg_user=5.0, reg_item=5.0):
        mu, b_user, b_item = user_item_biases(train, reg_user, reg_item)
        if which == "b_user":
            return mu, b_user.reset_index(), b_item
        return mu, b_user, b_item.reset_index()

    key = "user_id" if which == "b_user" else "item_id"
    for check, args in ((check_user_item_biases, ()),
                        (check_bias_baseline_rmse, (ratings.iloc[:1000], ratings.iloc[1000:]))):
        with pytest.raises(CheckFailed) as info:
            check(flat, *args)
        message = str(info.value)
        assert message.startswith(f"{which} must be a pandas Series indexed by {key}; you "
                                  f"returned a DataFrame with columns ['{key}', 0]: "
                                  f"reset_index() turned the {key} index into a column.")
        assert message.endswith(f"Hint: don't reset_index(); return the Series that groupby "
                                f"gives, indexed by {key}.")
        assert "to_frame" not in message and "df[" not in message


def test_one_column_dataframe_is_refused_by_the_rmse_bar(ratings):
    def frames(train, reg_user=5.0, reg_item=5.0):
        mu, b_user, b_item = user_item_biases(train, reg_user, reg_item)
        return mu, b_user.to_frame("sum"), b_item

    with pytest.raises(CheckFailed, match=r"b_user must be a pandas Series"):
        check_bias_baseline_rmse(frames, ratings.iloc[:1000], ratings.iloc[1000:])


@pytest.mark.filterwarnings("error")  # the answer's own inf - inf must not reach the student
def test_unparenthesised_damping_is_named():
    """Finding 7: sum / reg + n divides by λ = 0 in the first case, quietly (no RuntimeWarning)."""

    def precedence(train, reg_user=5.0, reg_item=5.0):
        mu = train["rating"].mean()
        item = (train["rating"] - mu).groupby(train["item_id"]).agg(["sum", "size"])
        b_item = item["sum"] / reg_item + item["size"]
        residual = train["rating"] - mu - train["item_id"].map(b_item)
        user = residual.groupby(train["user_id"]).agg(["sum", "size"])
        return mu, user["sum"] / reg_user + user["size"], b_item

    _fails(check_user_item_biases, precedence,
           match=r"reg_user=0, reg_item=0: b_item has NaN or infinite values.*\n"
                 r"Hint: a division by zero\? .*check the parentheses: sum / \(reg \+ n\)")


def test_unparenthesised_damping_with_positive_lambda_is_named():
    def precedence_when_positive(train, reg_user=5.0, reg_item=5.0):
        if reg_user == 0 and reg_item == 0:
            return user_item_biases(train, reg_user, reg_item)
        mu = train["rating"].mean()
        item = (train["rating"] - mu).groupby(train["item_id"]).agg(["sum", "size"])
        b_item = item["sum"] / reg_item + item["size"]
        residual = train["rating"] - mu - train["item_id"].map(b_item)
        user = residual.groupby(train["user_id"]).agg(["sum", "size"])
        return mu, user["sum"] / reg_user + user["size"], b_item

    _fails(check_user_item_biases, precedence_when_positive,
           match=r"reg_user=2, reg_item=3: b_item of movie .*\n.*check the parentheses")


def test_bias_failures_name_the_call_not_a_case():
    """Finding 6 for exercise 2: None / exceptions are not about one case."""
    _fails(check_user_item_biases, lambda train, reg_user=5.0, reg_item=5.0: None,
           match=r"^user_item_biases\(train, reg_user=0, reg_item=0\) returned None")

    def broken(train, reg_user=5.0, reg_item=5.0):
        return train["ratings"]

    with pytest.raises(CheckFailed, match=r"raised KeyError: 'ratings'") as info:
        check_user_item_biases(broken)
    assert info.value.__context__ is None


# ------------------------------------------------------------------------------------------
# finding 3: vectorised pandas only


def dict_loop(train, reg_user=5.0, reg_item=5.0):
    """Right values, but a Python loop over every rating (the reviewer's answer)."""
    mu = float(train["rating"].mean())
    total, count = {}, {}
    for item, rating in zip(train["item_id"].tolist(), train["rating"].tolist(), strict=True):
        total[item] = total.get(item, 0.0) + rating - mu
        count[item] = count.get(item, 0) + 1
    b_item = {i: total[i] / (reg_item + count[i]) for i in total}
    total, count = {}, {}
    for user, item, rating in zip(train["user_id"].tolist(), train["item_id"].tolist(),
                                  train["rating"].tolist(), strict=True):
        total[user] = total.get(user, 0.0) + rating - mu - b_item[item]
        count[user] = count.get(user, 0) + 1
    b_user = {u: total[u] / (reg_user + count[u]) for u in total}
    return mu, pd.Series(b_user), pd.Series(b_item)


def map_lambda(train, reg_user=5.0, reg_item=5.0):
    """A fast Python loop, one lambda call per rating: still not vectorised."""
    mu, _, b_item = user_item_biases(train, reg_user, reg_item)
    lookup = b_item.to_dict()
    residual = train["rating"] - mu - train["item_id"].map(lambda item: lookup[item])
    user = residual.groupby(train["user_id"]).agg(["sum", "size"])
    return mu, user["sum"] / (reg_user + user["size"]), b_item


def one_mask_per_movie(train, reg_user=5.0, reg_item=5.0):
    """No loop over the ratings, but one full scan of the table per movie and per user."""
    mu = float(train["rating"].mean())
    b_item = pd.Series({
        item: (train.loc[train["item_id"] == item, "rating"] - mu).sum()
        / (reg_item + (train["item_id"] == item).sum())
        for item in train["item_id"].unique()})
    residual = train["rating"] - mu - train["item_id"].map(b_item)
    b_user = pd.Series({
        user: residual[train["user_id"] == user].sum()
        / (reg_user + (train["user_id"] == user).sum())
        for user in train["user_id"].unique()})
    return mu, b_user, b_item


@pytest.mark.parametrize("answer", [dict_loop, map_lambda])
def test_python_loop_over_the_ratings_is_refused(answer):
    with pytest.raises(CheckFailed) as info:
        check_user_item_biases(answer)
    message = str(info.value)
    assert "loops over the ratings in Python" in message
    assert "80,000 rows" in message
    assert "Why it matters: pandas' groupby and map run their loop" in message
    assert "groupby(train['item_id']).agg(['sum', 'size'])" in message


def test_filtering_the_table_once_per_movie_is_refused_without_timing_it():
    rng = np.random.default_rng(0)
    small = pd.DataFrame({"user_id": rng.integers(1, 200, 5000),
                          "item_id": rng.integers(1, 200, 5000),
                          "rating": rng.integers(1, 6, 5000)})
    with pytest.raises(CheckFailed, match=r"reads the whole table once per movie or user: on "
                       r"the training ratings \(5,000 rows\)(.|\n)*one groupby"):
        check_user_item_biases(one_mask_per_movie, small)


def test_vectorised_answers_pass_the_speed_check(ratings, capsys):
    def with_transform(train, reg_user=5.0, reg_item=5.0):
        mu = train["rating"].mean()
        centred = train["rating"] - mu
        b_item = (centred.groupby(train["item_id"]).sum()
                  / (reg_item + train.groupby("item_id").size()))
        residual = centred - train["item_id"].map(b_item)
        b_user = (residual.groupby(train["user_id"]).sum()
                  / (reg_user + train.groupby("user_id").size()))
        return mu, b_user, b_item

    def loop_over_groups(train, reg_user=5.0, reg_item=5.0):
        """A loop over the ~2,600 movies and users, not over the ratings: allowed."""
        mu = float(train["rating"].mean())
        b_item = pd.Series({item: (group["rating"] - mu).sum() / (reg_item + len(group))
                            for item, group in train.groupby("item_id")})
        residual = train["rating"] - mu - train["item_id"].map(b_item)
        b_user = pd.Series({user: values.sum() / (reg_user + len(values))
                            for user, values in residual.groupby(train["user_id"])})
        return mu, b_user, b_item

    for answer in (user_item_biases, with_transform, loop_over_groups):
        check_user_item_biases(answer)
        check_user_item_biases(answer, ratings)
    out = capsys.readouterr().out
    assert out.count("✓ user_item_biases is vectorised") == 6


def test_line_counter_restores_the_previous_trace_function():
    import sys

    import reclab.checks.vectorised as tour

    def tracer(frame, event, arg):
        return None

    previous = sys.gettrace()
    sys.settrace(tracer)
    try:
        lines, _ = tour.count_own_lines(dict_loop, 10**9, tour.synthetic_ratings(n=1000))
        assert sys.gettrace() is tracer
    finally:
        sys.settrace(previous)
    assert lines >= 2000


# ------------------------------------------------------------------------------------------
# session 4 walkthrough: sum for count, the order of the returned values, no timing


def test_sum_instead_of_count_is_named():
    """("rating", "sum") for n_ratings used to get advice about the filter."""

    def summed(ratings, min_count):
        stats = ratings.groupby("item_id").agg(mean_rating=("rating", "mean"),
                                               n_ratings=("rating", "sum"))
        return stats[stats["n_ratings"] >= min_count]

    with pytest.raises(CheckFailed) as info:
        check_average_rating(summed)
    message = str(info.value)
    assert "n_ratings sums the ratings of each movie instead of counting them" in message
    assert "movie 30: n_ratings 18, the sum of its 4 ratings" in message
    assert "n_ratings='size' (or 'count'), not 'sum'" in message
    assert "should not be in your result" not in message


def test_biases_in_the_wrong_order_are_named(ratings):
    """(mu, b_item, b_user) used to get "its index is [1, 2, 3]", with no word on the order."""

    def item_first(train, reg_user=5.0, reg_item=5.0):
        mu, b_user, b_item = user_item_biases(train, reg_user, reg_item)
        return mu, b_item, b_user

    match = (r"returned \(mu, b_item, b_user\): its second value is indexed by item_id and "
             r"its third by user_id(.|\n)*Hint: .*return mu, b_user, b_item")
    _fails(check_user_item_biases, item_first, match=match)
    with pytest.raises(CheckFailed, match=match):  # real ids overlap: told by the index names
        check_bias_baseline_rmse(item_first, ratings.iloc[:2500], ratings.iloc[2500:])


def test_biases_without_names_in_the_wrong_order_are_named():
    def unnamed(train, reg_user=5.0, reg_item=5.0):
        mu, b_user, b_item = user_item_biases(train, reg_user, reg_item)
        return mu, b_item.rename_axis(None), b_user.rename_axis(None)

    _fails(check_user_item_biases, unnamed, match=r"returned \(mu, b_item, b_user\)")


def test_mean_not_first_is_named():
    def mean_last(train, reg_user=5.0, reg_item=5.0):
        mu, b_user, b_item = user_item_biases(train, reg_user, reg_item)
        return b_user, b_item, mu

    _fails(check_user_item_biases, mean_last,
           match=r"returned the mean as value 3 of 3, and a Series first: the order is wrong"
                 r"(.|\n)*return mu, b_user, b_item")


def test_vectorised_check_is_never_timed_and_states_no_time(monkeypatch, capsys):
    """The ✓ line used to give the time of one untraced call, not the cell's: no time at all."""
    import time

    def no_clock():
        raise AssertionError("a graded check must not read the clock")

    monkeypatch.setattr(time, "perf_counter", no_clock)
    monkeypatch.setattr(time, "time", no_clock)
    monkeypatch.setattr(time, "monotonic", no_clock)
    check_user_item_biases(user_item_biases)
    out = capsys.readouterr().out
    assert "lines of your code ran for 80,000 ratings (counted, not timed)" in out
    assert " s on " not in out
    for answer in (dict_loop, one_mask_per_movie):
        with pytest.raises(CheckFailed) as info:
            check_user_item_biases(answer)
        message = str(info.value)
        assert " took " not in message and "times faster" not in message
