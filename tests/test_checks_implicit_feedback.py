"""The 06_implicit_feedback self-checks pass right answers and explain typical wrong ones."""

from __future__ import annotations

import numpy as np
import pytest

from reclab import metrics as rm
from reclab.checks import CheckFailed
from reclab.checks.implicit_feedback import (
    QUALITY_BARS,
    check_gmf_builder,
    check_hit_rate_and_ndcg,
    check_quality_bars,
    check_training_set,
)
from reclab.splits import sample_negatives

# ------------------------------------------------------------------------------ training set


def training_right(users, items, n_items, seen, n_neg=4, seed=0):
    neg = sample_negatives(users, n_items, seen, n_neg=n_neg, seed=seed).ravel()
    all_users = np.concatenate([users, np.repeat(users, n_neg)])
    all_items = np.concatenate([items, neg])
    labels = np.concatenate([np.ones(len(users), "float32"), np.zeros(len(neg), "float32")])
    return all_users, all_items, labels


def training_tile(users, items, n_items, seen, n_neg=4, seed=0):
    neg = sample_negatives(users, n_items, seen, n_neg=n_neg, seed=seed).ravel()
    labels = np.concatenate([np.ones(len(users)), np.zeros(len(neg))])
    return np.concatenate([users, np.tile(users, n_neg)]), np.concatenate([items, neg]), labels


def training_int_labels(users, items, n_items, seen, n_neg=4, seed=0):
    u, i, y = training_right(users, items, n_items, seen, n_neg, seed)
    return u, i, y.astype(int)


def training_no_seed(users, items, n_items, seen, n_neg=4, seed=0):
    return training_right(users, items, n_items, seen, n_neg, seed=0)


def training_random_unseen_ignored(users, items, n_items, seen, n_neg=4, seed=0):
    rng = np.random.default_rng(seed)
    neg = rng.integers(0, n_items, size=len(users) * n_neg)
    labels = np.concatenate([np.ones(len(users)), np.zeros(len(neg))])
    return np.concatenate([users, np.repeat(users, n_neg)]), np.concatenate([items, neg]), labels


def training_2d_negatives(users, items, n_items, seen, n_neg=4, seed=0):
    neg = sample_negatives(users, n_items, seen, n_neg=n_neg, seed=seed)
    return users, neg, np.ones(len(users))


def training_labels_swapped(users, items, n_items, seen, n_neg=4, seed=0):
    u, i, y = training_right(users, items, n_items, seen, n_neg, seed)
    return u, i, 1.0 - y


def training_stub(users, items, n_items, seen, n_neg=4, seed=0):
    raise NotImplementedError


def test_training_set_right(capsys):
    check_training_set(training_right)
    assert "✓" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("fn", "message"),
    [
        (training_tile, "np.repeat"),
        (training_int_labels, "float labels"),
        (training_no_seed, "same negatives"),
        (training_random_unseen_ignored, "already interacted"),
        (training_2d_negatives, "1-d array"),
        (training_labels_swapped, "label 1"),
        (training_stub, "not written yet"),
    ],
)
def test_training_set_wrong(fn, message):
    with pytest.raises(CheckFailed, match=message):
        check_training_set(fn)


# ------------------------------------------------------------------------------ HR / NDCG


def metric_right(scores, positive, k=10):
    rank = rm.rank_of_positive(scores, positive)
    hit = rank < k
    return float(hit.mean()), float(np.where(hit, 1 / np.log2(rank + 2), 0).mean())


def metric_optimistic_ties(scores, positive, k=10):
    scores = np.asarray(scores, dtype=float)
    pos = scores[np.arange(len(scores)), positive][:, None]
    rank = (scores > pos).sum(axis=1)
    hit = rank < k
    return float(hit.mean()), float(np.where(hit, 1 / np.log2(rank + 2), 0).mean())


def metric_rank_from_one(scores, positive, k=10):
    scores = np.asarray(scores, dtype=float)
    pos = scores[np.arange(len(scores)), positive][:, None]
    rank = (scores >= pos).sum(axis=1)  # counts the positive itself
    hit = rank < k
    return float(hit.mean()), float(np.where(hit, 1 / np.log2(rank + 2), 0).mean())


def metric_log_off_by_one(scores, positive, k=10):
    rank = rm.rank_of_positive(scores, positive)
    hit = rank < k
    with np.errstate(divide="ignore"):
        return float(hit.mean()), float(np.where(hit, 1 / np.log2(rank + 1), 0).mean())


def metric_per_user(scores, positive, k=10):
    rank = rm.rank_of_positive(scores, positive)
    return rank < k, np.where(rank < k, 1 / np.log2(rank + 2), 0)


def metric_le_k(scores, positive, k=10):
    rank = rm.rank_of_positive(scores, positive)
    hit = rank <= k
    return float(hit.mean()), float(np.where(hit, 1 / np.log2(rank + 2), 0).mean())


def metric_stub(scores, positive, k=10):
    raise NotImplementedError


def test_metric_right(capsys):
    check_hit_rate_and_ndcg(metric_right)
    assert capsys.readouterr().out.count("✓") == 2


@pytest.mark.parametrize(
    ("fn", "message"),
    [
        (metric_optimistic_ties, "pessimistic"),
        (metric_rank_from_one, "rank 0"),
        (metric_log_off_by_one, "log2"),
        (metric_per_user, "one number"),
        (metric_le_k, "is not < k"),
        (metric_stub, "not written yet"),
    ],
)
def test_metric_wrong(fn, message):
    with pytest.raises(CheckFailed, match=message):
        check_hit_rate_and_ndcg(fn)


# ------------------------------------------------------------------------------ GMF builder

keras = pytest.importorskip("keras")


def _inputs():
    return keras.Input(shape=(), dtype="int32"), keras.Input(shape=(), dtype="int32")


def gmf_right(n_users, n_items, k):
    user, item = _inputs()
    p = keras.layers.Embedding(n_users, k)(user)
    q = keras.layers.Embedding(n_items, k)(item)
    out = keras.layers.Dense(1, activation="sigmoid")(keras.layers.Multiply()([p, q]))
    return keras.Model([user, item], out)


def gmf_no_sigmoid(n_users, n_items, k):
    user, item = _inputs()
    p = keras.layers.Embedding(n_users, k)(user)
    q = keras.layers.Embedding(n_items, k)(item)
    out = keras.layers.Dense(1)(keras.layers.Multiply()([p, q]))
    return keras.Model([user, item], out)


def gmf_concat(n_users, n_items, k):
    user, item = _inputs()
    p = keras.layers.Embedding(n_users, k)(user)
    q = keras.layers.Embedding(n_items, k)(item)
    out = keras.layers.Dense(1, activation="sigmoid")(keras.layers.Concatenate()([p, q]))
    return keras.Model([user, item], out)


def gmf_swapped_tables(n_users, n_items, k):
    user, item = _inputs()
    p = keras.layers.Embedding(n_items, k)(item)
    q = keras.layers.Embedding(n_users, k)(user)
    # looks up items in a table sized for items, but the check's weights say which is which:
    out = keras.layers.Dense(1, activation="sigmoid")(keras.layers.Multiply()([p, q]))
    return keras.Model([user, item], out)


def gmf_dot(n_users, n_items, k):
    user, item = _inputs()
    p = keras.layers.Embedding(n_users, k)(user)
    q = keras.layers.Embedding(n_items, k)(item)
    out = keras.layers.Activation("sigmoid")(keras.layers.Dot(axes=1)([p, q]))
    return keras.Model([user, item], out)


def gmf_stub(n_users, n_items, k):
    raise NotImplementedError


def test_gmf_right(capsys):
    check_gmf_builder(gmf_right)
    assert "✓" in capsys.readouterr().out


def test_gmf_swapped_names_still_right(capsys):
    check_gmf_builder(gmf_swapped_tables)
    assert "✓" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("fn", "message"),
    [
        (gmf_no_sigmoid, "sigmoid"),
        (gmf_concat, "Dense"),
        (gmf_dot, "Dense"),
        (gmf_stub, "not written yet"),
        (lambda n_users, n_items, k: "model", "keras.Model"),
    ],
)
def test_gmf_wrong(fn, message):
    with pytest.raises(CheckFailed, match=message):
        check_gmf_builder(fn)


# ------------------------------------------------------------------------------ quality bars


def test_quality_bars_pass(capsys):
    check_quality_bars("NeuMF", {key: bar + 0.01 for key, bar in QUALITY_BARS.items()})
    assert "✓" in capsys.readouterr().out


@pytest.mark.parametrize("key", list(QUALITY_BARS))
def test_quality_bars_fail(key):
    result = {k: bar + 0.01 for k, bar in QUALITY_BARS.items()}
    result[key] = QUALITY_BARS[key] - 0.01
    with pytest.raises(CheckFailed, match=key):
        check_quality_bars("NeuMF", result)


def test_quality_bars_missing_key():
    with pytest.raises(CheckFailed, match="no 'hr@10_full'"):
        check_quality_bars("GMF", {"hr@10_sampled": 0.7, "ndcg@10_sampled": 0.4})


def test_quality_bars_nan():
    with pytest.raises(CheckFailed, match="below the bar"):
        check_quality_bars("GMF", {"hr@10_sampled": np.nan, "ndcg@10_sampled": 0.4,
                                   "hr@10_full": 0.2})
