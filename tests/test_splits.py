"""Unit tests for reclab.splits, reclab.encoding and reclab.sampling on small synthetic ratings
tables (fast: no MovieLens needed)."""

from __future__ import annotations

import doctest

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from reclab import columns, encoding, sampling, splits
from reclab.encoding import IdEncoder
from reclab.sampling import Candidates, evaluation_candidates, sample_negatives, seen_matrix
from reclab.splits import (
    binarize,
    chronological_split,
    filter_min_count,
    last_n_split,
    leave_one_out,
    random_split,
    stratified_split,
)


def make_ratings(n_users: int = 30, n_items: int = 40, seed: int = 1) -> pd.DataFrame:
    """Unique (user, item) pairs, skewed activity, tied timestamps, a shuffled non-range index."""
    rng = np.random.default_rng(seed)
    rows = []
    for user in range(n_users):
        n_rated = 1 if user == 0 else int(rng.integers(2, n_items // 2))  # user 0: one rating
        for item in rng.choice(n_items, size=n_rated, replace=False):
            rows.append((user + 100, int(item) + 500))
    df = pd.DataFrame(rows, columns=["user_id", "item_id"])
    n = len(df)
    df["rating"] = rng.integers(1, 6, n)
    df["timestamp"] = rng.integers(0, n // 3, n)  # many ties
    df = df.sample(frac=1.0, random_state=0)
    df.index = pd.Index(rng.permutation(n) * 7 + 3)
    return df.astype("int64")


@pytest.fixture
def ratings() -> pd.DataFrame:
    return make_ratings()


def assert_partition(df: pd.DataFrame, train: pd.DataFrame, test: pd.DataFrame) -> None:
    """train and test are disjoint, cover df, keep its columns and its row order."""
    assert list(train.columns) == list(df.columns) == list(test.columns)
    assert not set(train.index) & set(test.index)
    assert len(train) + len(test) == len(df)
    position = pd.Series(np.arange(len(df)), index=df.index)
    for part in (train, test):
        assert position[part.index].is_monotonic_increasing
        pd.testing.assert_frame_equal(part, df.loc[part.index])


@pytest.mark.parametrize("module", [splits, encoding, sampling, columns],
                         ids=lambda m: m.__name__)
def test_docstring_examples_run(module: object) -> None:
    result = doctest.testmod(module)
    assert result.attempted >= 3
    assert result.failed == 0


# ---------------------------------------------------------------------------------- random


def test_random_split_sizes_partition_and_input_untouched(ratings: pd.DataFrame) -> None:
    before = ratings.copy()
    train, test = random_split(ratings, test_size=0.25, seed=3)
    assert len(test) == int(np.floor(0.25 * len(ratings) + 0.5))
    assert_partition(ratings, train, test)
    pd.testing.assert_frame_equal(ratings, before)


def test_random_split_seeds(ratings: pd.DataFrame) -> None:
    _, test_a = random_split(ratings, seed=7)
    _, test_b = random_split(ratings, seed=7)
    _, test_c = random_split(ratings, seed=8)
    assert test_a.index.equals(test_b.index)
    assert not test_a.index.equals(test_c.index)


@pytest.mark.parametrize("bad", [0, 1, 1.5, -0.1])
def test_split_rejects_bad_test_size(ratings: pd.DataFrame, bad: float) -> None:
    for split in (random_split, stratified_split, chronological_split):
        with pytest.raises(ValueError, match="test_size"):
            split(ratings, test_size=bad)


# ------------------------------------------------------------------------------ stratified


def test_stratified_split_per_user_counts(ratings: pd.DataFrame) -> None:
    train, test = stratified_split(ratings, test_size=0.3, seed=0)
    assert_partition(ratings, train, test)
    n_rows = ratings["user_id"].value_counts()
    n_test = test["user_id"].value_counts().reindex(n_rows.index, fill_value=0)
    expected = np.minimum(np.floor(0.3 * n_rows + 0.5), n_rows - 1).astype(int)
    pd.testing.assert_series_equal(n_test, expected, check_names=False)
    assert set(train["user_id"]) == set(ratings["user_id"])  # every user keeps training rows
    assert 100 not in set(test["user_id"])  # the single-rating user stays in train


def test_stratified_split_small_users_and_rounding() -> None:
    # users with 1, 2 and 5 ratings at test_size=0.5: round-half-up gives 1, 1 and 3 test rows,
    # capped at n - 1 so that the single-rating user keeps its rating: 0, 1, 3
    df = pd.DataFrame({"user_id": [1, 2, 2, 3, 3, 3, 3, 3], "item_id": range(8)})
    train, test = stratified_split(df, test_size=0.5, seed=0)
    assert test["user_id"].value_counts().to_dict() == {2: 1, 3: 3}
    assert sorted(train["user_id"].unique().tolist()) == [1, 2, 3]


def test_stratified_split_seeds_and_user_col(ratings: pd.DataFrame) -> None:
    _, test_a = stratified_split(ratings, seed=1)
    _, test_b = stratified_split(ratings, seed=1)
    _, test_c = stratified_split(ratings, seed=2)
    assert test_a.index.equals(test_b.index)
    assert not test_a.index.equals(test_c.index)
    train, _ = stratified_split(ratings, seed=1, user_col="item_id")
    assert set(train["item_id"]) == set(ratings["item_id"])


# ---------------------------------------------------------------------------- chronological


def test_chronological_split_respects_time(ratings: pd.DataFrame) -> None:
    train, test = chronological_split(ratings, test_size=0.2)
    assert_partition(ratings, train, test)
    assert len(test) == int(np.floor(0.2 * len(ratings) + 0.5))
    assert train["timestamp"].max() <= test["timestamp"].min()


def test_chronological_split_ties_keep_row_order() -> None:
    df = pd.DataFrame({"user_id": [1, 2, 3, 4, 5], "timestamp": [5, 9, 5, 5, 1]})
    train, test = chronological_split(df, test_size=0.6)
    # sorted stably: rows 4 (t=1), 0, 2, 3 (t=5), 1 (t=9); the last 3 are rows 2, 3, 1
    assert test.index.tolist() == [1, 2, 3]
    assert train.index.tolist() == [0, 4]


# ------------------------------------------------------------------------------- last n / LOO


@pytest.mark.parametrize("n", [1, 2, 5])
def test_last_n_split_matches_a_sort(ratings: pd.DataFrame, n: int) -> None:
    train, test = last_n_split(ratings, n=n)
    assert_partition(ratings, train, test)
    by_time = ratings.assign(row=np.arange(len(ratings))).sort_values(
        ["user_id", "timestamp", "row"]
    )
    sizes = by_time.groupby("user_id")["row"].transform("size")
    rank_from_end = by_time.groupby("user_id").cumcount(ascending=False)
    expected = by_time.index[(rank_from_end < np.minimum(n, sizes - 1)).to_numpy()]
    assert sorted(test.index) == sorted(expected)
    assert set(train["user_id"]) == set(ratings["user_id"])


def test_last_n_split_ties_and_small_users() -> None:
    df = pd.DataFrame(
        {
            "user_id": [1, 1, 1, 2, 2, 3],
            "item_id": [10, 11, 12, 10, 11, 10],
            "timestamp": [5, 5, 4, 7, 7, 1],
        }
    )
    _, test = last_n_split(df, n=1)
    # user 1: items 10 and 11 tie at t=5 -> the later row (11) is the latest;
    # user 2: tie -> row with item 11; user 3 has one rating and stays in train.
    assert test["item_id"].tolist() == [11, 11]
    train, test = last_n_split(df, n=3)
    # every user keeps one training row: user 1 sends 2, user 2 sends 1, user 3 sends 0
    assert test["item_id"].tolist() == [10, 11, 11]
    assert train["item_id"].tolist() == [12, 10, 10]


def test_leave_one_out_is_last_one(ratings: pd.DataFrame) -> None:
    train, test = leave_one_out(ratings)
    ref_train, ref_test = last_n_split(ratings, n=1)
    pd.testing.assert_frame_equal(test, ref_test)
    pd.testing.assert_frame_equal(train, ref_train)
    assert test["user_id"].is_unique
    assert len(test) == ratings["user_id"].nunique() - 1  # minus the single-rating user
    latest_train = train.groupby("user_id")["timestamp"].max()
    assert (test.set_index("user_id")["timestamp"] >= latest_train[test["user_id"]]).all()


def test_last_n_split_rejects_bad_n(ratings: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="positive integer"):
        last_n_split(ratings, n=0)


# ---------------------------------------------------------------------------------- filters


def test_filter_min_count_needs_several_passes() -> None:
    # u3 (1 rating) goes -> i3 falls to 1 -> u2 falls to 1 -> i2 falls to 1 -> u1 falls to 1;
    # only the 2x2 block of users 4, 5 on items 4, 5 survives. One pass would keep u1, u2.
    df = pd.DataFrame(
        {
            "user_id": [1, 1, 2, 2, 3, 4, 4, 5, 5],
            "item_id": [1, 2, 2, 3, 3, 4, 5, 4, 5],
        }
    )
    out = filter_min_count(df, min_user=2, min_item=2)
    assert out.index.tolist() == [5, 6, 7, 8]
    pd.testing.assert_frame_equal(filter_min_count(out, 2, 2), out)


def test_filter_min_count_fixpoint_on_random_data(ratings: pd.DataFrame) -> None:
    out = filter_min_count(ratings, min_user=8, min_item=6)
    assert 0 < len(out) < len(ratings)
    assert out["user_id"].value_counts().min() >= 8
    assert out["item_id"].value_counts().min() >= 6
    pd.testing.assert_frame_equal(filter_min_count(out, 8, 6), out)
    pd.testing.assert_frame_equal(filter_min_count(ratings), ratings)


def test_binarize(ratings: pd.DataFrame) -> None:
    before = ratings.copy()
    positives = binarize(ratings)
    assert list(positives.columns) == ["user_id", "item_id", "timestamp", "label"]
    assert positives.index.equals(ratings.index[ratings["rating"] >= 4])
    assert positives["label"].dtype == np.int64
    assert (positives["label"] == 1).all()
    assert len(binarize(ratings, threshold=5)) == (ratings["rating"] == 5).sum()
    everything = binarize(ratings, keep_all=True)
    assert everything.index.equals(ratings.index)
    assert "rating" not in everything.columns
    pd.testing.assert_frame_equal(ratings, before)


# ---------------------------------------------------------------------------------- encoder


def test_encoder_round_trip(ratings: pd.DataFrame) -> None:
    enc = IdEncoder()
    encoded = enc.fit_transform(ratings)
    assert isinstance(enc.n_users, int) and isinstance(enc.n_items, int)
    assert enc.n_users == ratings["user_id"].nunique()
    assert enc.n_items == ratings["item_id"].nunique()
    assert np.all(np.diff(enc.user_ids) > 0)  # codes follow the sorted raw ids
    assert encoded["user_idx"].dtype == np.int64 and encoded["item_idx"].dtype == np.int64
    assert sorted(encoded["user_idx"].unique()) == list(range(enc.n_users))
    assert sorted(encoded["item_idx"].unique()) == list(range(enc.n_items))
    np.testing.assert_array_equal(enc.inverse_users(encoded["user_idx"]), ratings["user_id"])
    np.testing.assert_array_equal(enc.inverse_items(encoded["item_idx"]), ratings["item_id"])
    assert "user_idx" not in ratings.columns
    assert repr(enc) == f"IdEncoder(n_users={enc.n_users}, n_items={enc.n_items})"


def test_encoder_unknown_policies() -> None:
    train = pd.DataFrame({"user_id": [1, 2, 3], "item_id": [10, 20, 10]})
    test = pd.DataFrame({"user_id": [1, 9, 2, 8, 9], "item_id": [20, 10, 99, 10, 20]})
    enc = IdEncoder().fit(train)
    with pytest.raises(ValueError) as info:
        enc.transform(test)
    message = str(info.value)
    assert "2 user id(s) [8, 9] and 1 item id(s) [99] in 4 row(s)" in message
    assert "unknown='drop'" in message and "unknown='keep'" in message
    assert "fallback prediction" in message
    assert "before splitting" not in message  # fitting on test ids gives untrained vectors
    with pytest.raises(ValueError) as info:  # only the kind that is unseen is named
        enc.transform(pd.DataFrame({"user_id": [1, 2], "item_id": [99, 98]}))
    message = str(info.value)
    assert "IdEncoder.transform: 2 item id(s) [98, 99] in 2 row(s) were not seen" in message
    assert "user id" not in message
    dropped = enc.transform(test, unknown="drop")
    assert dropped.index.tolist() == [0]
    assert dropped[["user_idx", "item_idx"]].to_numpy().tolist() == [[0, 1]]
    kept = enc.transform(test, unknown="keep")
    assert kept["user_idx"].tolist() == [0, -1, 1, -1, -1]
    assert kept["item_idx"].tolist() == [1, 0, -1, 0, 1]
    with pytest.raises(ValueError, match="unknown must be"):
        enc.transform(test, unknown="ignore")


def test_encoder_errors() -> None:
    enc = IdEncoder()
    assert repr(enc) == "IdEncoder(not fitted)"
    with pytest.raises(RuntimeError, match="not fitted"):
        enc.transform(pd.DataFrame({"user_id": [1], "item_id": [1]}))
    enc.fit(pd.DataFrame({"user_id": [5, 6], "item_id": [7, 7]}))
    with pytest.raises(IndexError, match="out of range"):
        enc.inverse_users([0, 2])
    with pytest.raises(IndexError):
        enc.inverse_items([-1])
    with pytest.raises(ValueError, match="missing column"):
        enc.fit(pd.DataFrame({"user": [1], "item_id": [1]}))


# ------------------------------------------------------------------------ negative sampling


def random_seen(n_users: int, n_items: int, rng: np.random.Generator) -> sp.csr_matrix:
    """Skewed interactions; user 0 has seen all but 3 items, user 1 all but the last one."""
    density = rng.beta(0.5, 2.0, size=n_users)[:, None]
    dense = rng.random((n_users, n_items)) < density
    dense[:, -3:] = False  # every user has at least 3 unseen items
    dense[0] = True
    dense[0, [2, 5, 7]] = False
    dense[1] = True
    dense[1, n_items - 1] = False
    return sp.csr_matrix(dense)


def test_seen_matrix() -> None:
    df = pd.DataFrame({"user_idx": [0, 0, 2, 0], "item_idx": [1, 3, 0, 1]})
    seen = seen_matrix(df, n_users=3, n_items=4)
    assert isinstance(seen, sp.csr_matrix) and seen.dtype == bool
    assert seen.toarray().astype(int).tolist() == [[0, 1, 0, 1], [0, 0, 0, 0], [1, 0, 0, 0]]
    with pytest.raises(ValueError, match=r"user_idx must lie in 0\.\.2"):
        seen_matrix(pd.DataFrame({"user_idx": [-1], "item_idx": [0]}), 3, 4)


@pytest.mark.parametrize("replace", [True, False])
def test_negatives_never_seen(replace: bool) -> None:
    rng = np.random.default_rng(0)
    n_neg = 3 if not replace else 6
    for trial in range(20):
        n_users, n_items = 12, 25
        seen = random_seen(n_users, n_items, rng)
        users = rng.integers(0, n_users, size=300)
        users[:2] = [0, 1]
        if not replace:
            users[users == 1] = 2  # user 1 has only one unseen item: cannot give 3 distinct
        neg = sample_negatives(users, n_items, seen, n_neg=n_neg, seed=trial, replace=replace)
        assert neg.shape == (users.size, n_neg) and neg.dtype == np.int64
        assert neg.min() >= 0 and neg.max() < n_items
        assert not seen.toarray()[users[:, None], neg].any()
        if not replace:
            assert all(len(set(row)) == n_neg for row in neg.tolist())
    seen = random_seen(12, 25, np.random.default_rng(5))
    assert (sample_negatives([1, 1], 25, seen, n_neg=6) == 24).all()  # its only unseen item


def test_negatives_reproducible_and_seed_dependent() -> None:
    seen = random_seen(20, 50, np.random.default_rng(3))
    users = np.repeat(np.arange(2, 20), 5)
    a = sample_negatives(users, 50, seen, n_neg=4, seed=11)
    b = sample_negatives(users, 50, seen, n_neg=4, seed=11)
    c = sample_negatives(users, 50, seen, n_neg=4, seed=12)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_negatives_uniform_over_unseen_items() -> None:
    n_items = 30
    seen = sp.csr_matrix(np.arange(n_items)[None, :] < 20)  # items 20..29 unseen
    neg = sample_negatives(np.zeros(2000, dtype=np.int64), n_items, seen, n_neg=10, seed=0)
    counts = np.bincount(neg.ravel(), minlength=n_items)
    assert counts[:20].sum() == 0
    # 20000 draws over 10 items: 2000 each, sd ~42; 1800..2200 is a ~5 sd band
    assert counts[20:].min() > 1800 and counts[20:].max() < 2200


def test_negatives_input_errors() -> None:
    seen = sp.csr_matrix(np.array([[True, True], [True, False]]))
    with pytest.raises(ValueError, match=r"1 user\(s\) \[0\] have fewer than 1 unseen"):
        sample_negatives([0, 1], 2, seen)
    with pytest.raises(ValueError, match="fewer than 2 unseen"):
        sample_negatives([1], 2, seen, n_neg=2, replace=False)
    with pytest.raises(ValueError, match=r"users must lie in 0\.\.1"):
        sample_negatives([2], 2, seen)
    with pytest.raises(ValueError, match="n_items"):
        sample_negatives([1], 3, seen)
    with pytest.raises(TypeError, match="seen_matrix"):
        sample_negatives([1], 2, pd.DataFrame({"user_idx": [1], "item_idx": [0]}))


def test_evaluation_candidates() -> None:
    ratings = make_ratings(n_users=25, n_items=150, seed=4)
    encoded = IdEncoder().fit_transform(ratings)
    train, test = leave_one_out(encoded)
    n_items = encoded["item_idx"].max() + 1
    cand = evaluation_candidates(train, test, n_items=n_items, n_neg=20, seed=3)
    assert isinstance(cand, Candidates) and len(cand) == len(test)
    assert cand.items.shape == (len(test), 21) and cand.items.dtype == np.int64
    np.testing.assert_array_equal(cand.users, test["user_idx"])
    np.testing.assert_array_equal(cand.positives, test["item_idx"])
    interacted = encoded.groupby("user_idx")["item_idx"].agg(set)
    for user, row in zip(cand.users.tolist(), cand.items.tolist(), strict=True):
        assert not set(row[1:]) & interacted[user]  # neither train nor test items
        assert len(set(row[1:])) == 20  # distinct negatives
    again = evaluation_candidates(train, test, n_items=n_items, n_neg=20, seed=3)
    np.testing.assert_array_equal(cand.items, again.items)
    other = evaluation_candidates(train, test, n_items=n_items, n_neg=20, seed=4)
    assert not np.array_equal(cand.items, other.items)


def test_candidates_scoring_helpers() -> None:
    cand = Candidates(users=np.array([3, 8]), items=np.array([[5, 1, 2], [6, 0, 4]]))
    users, items = cand.model_inputs()
    assert users.tolist() == [3, 3, 3, 8, 8, 8]
    assert items.tolist() == [5, 1, 2, 6, 0, 4]
    # a fake model: score = item index; reshape_scores must put each score back in its cell
    scores = cand.reshape_scores(items.astype(float).reshape(-1, 1))
    np.testing.assert_array_equal(scores, cand.items)
    assert cand.relevant.tolist() == [[True, False, False], [True, False, False]]
    with pytest.raises(ValueError, match="expected 6 scores"):
        cand.reshape_scores(np.zeros(5))
