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

    _fails(check_average_rating, strict, match=r"exactly min_count=2 ratings.*>=, not >")


def test_no_filter_is_named():
    def unfiltered(ratings, min_count):
        return ratings.groupby("item_id")["rating"].agg(mean_rating="mean", n_ratings="size")

    _fails(check_average_rating, unfiltered, match=r"should not be in the result.*too few")


def test_series_is_refused_with_a_hint():
    def series(ratings, min_count):
        counts = ratings.groupby("item_id")["rating"].size()
        return ratings.groupby("item_id")["rating"].mean()[counts >= min_count]

    _fails(check_average_rating, series, match=r"returned a Series")


def test_reset_index_is_named():
    def flat(ratings, min_count):
        return average_rating(ratings, min_count).reset_index()

    _fails(check_average_rating, flat, match=r"indexed by item_id")


def test_wrong_column_names_are_named():
    def renamed(ratings, min_count):
        return average_rating(ratings, min_count).rename(columns={"mean_rating": "mean"})

    _fails(check_average_rating, renamed, match=r"lacks column\(s\) \['mean_rating'\]")


def test_top_n_instead_of_filter_is_caught():
    def top3(ratings, min_count):
        return average_rating(ratings, min_count).nlargest(3, "mean_rating", keep="first")

    _fails(check_average_rating, top3, match=r"missing from the result")


def test_integer_mean_is_caught():
    def floored(ratings, min_count):
        stats = average_rating(ratings, min_count)
        return stats.assign(mean_rating=stats["mean_rating"].astype("int64"))

    _fails(check_average_rating, floored, match=r"mean_rating has dtype int64")


def test_median_instead_of_mean_is_caught():
    def median(ratings, min_count):
        stats = ratings.groupby("item_id")["rating"].agg(mean_rating="median", n_ratings="size")
        return stats[stats["n_ratings"] >= min_count]

    _fails(check_average_rating, median, match=r"mean_rating of movie \d+ is")


def test_mutating_the_input_is_caught():
    def mutating(ratings, min_count):
        ratings["n"] = ratings.groupby("item_id")["rating"].transform("size")
        return average_rating(ratings, min_count)

    _fails(check_average_rating, mutating, match=r"changed the ratings table")


def test_none_is_caught():
    _fails(check_average_rating, lambda ratings, min_count: None, match=r"forget `return`")


def test_stub_raises_not_implemented():
    def stub(ratings, min_count):
        raise NotImplementedError

    with pytest.raises(NotImplementedError):
        check_average_rating(stub)


def test_real_data_case_catches_a_wrong_real_answer(ratings):
    def off_on_big_tables(ratings, min_count):
        stats = average_rating(ratings, min_count)
        if len(ratings) > 100:  # right on the small cases, wrong on the real table
            stats = stats.assign(mean_rating=stats["mean_rating"] + 0.1)
        return stats

    check_average_rating(off_on_big_tables)  # the small cases alone pass
    _fails(check_average_rating, off_on_big_tables, ratings, match=r"MovieLens, min_count=100")


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

    _fails(check_user_item_biases, arrays, match=r"should be a pandas Series")


def test_wrong_mu_is_named():
    def median_mu(train, reg_user=5.0, reg_item=5.0):
        _, b_user, b_item = user_item_biases(train, reg_user, reg_item)
        return train["rating"].median(), b_user, b_item

    _fails(check_user_item_biases, median_mu, match=r"mu is .* expected the mean")


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
