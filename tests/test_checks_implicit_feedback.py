"""The 06_implicit_feedback self-checks pass right answers and explain typical wrong ones."""

from __future__ import annotations

import warnings

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
from reclab.sampling import sample_negatives

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


def training_column_major(users, items, n_items, seen, n_neg=4, seed=0):
    """Walkthrough: flattens the (n_pos, n_neg) negatives column by column."""
    neg = sample_negatives(users, n_items, seen, n_neg, seed).T.ravel()
    return (np.concatenate([users, np.repeat(users, n_neg)]), np.concatenate([items, neg]),
            np.concatenate([np.ones(len(users)), np.zeros(len(neg))]).astype("float32"))


def training_one_negative(users, items, n_items, seen, n_neg=4, seed=0):
    """Walkthrough: one negative per positive, whatever n_neg says."""
    neg = sample_negatives(users, n_items, seen, 1, seed).ravel()
    return (np.concatenate([users, users]), np.concatenate([items, neg]),
            np.concatenate([np.ones(len(users)), np.zeros(len(neg))]).astype("float32"))


def test_training_set_column_major_flatten_is_named():
    with pytest.raises(CheckFailed, match=r"with \.ravel\(\), not \.T\.ravel\(\)") as info:
        check_training_set(training_column_major)
    message = " ".join(str(info.value).split())
    assert "row j of sample_negatives belongs to users[j]" in message
    assert "use sampling.sample_negatives" not in message       # the student did
    assert all(len(line) <= 100 for line in _rendered(info.value))


def test_training_set_ignored_n_neg_is_named():
    words = r"1 negative\(s\) per positive instead of n_neg=3"
    with pytest.raises(CheckFailed, match=words) as info:
        check_training_set(training_one_negative)
    assert "the argument n_neg is ignored" in str(info.value)
    assert all(len(line) <= 100 for line in _rendered(info.value))


def training_stub(users, items, n_items, seen, n_neg=4, seed=0):
    raise NotImplementedError


def test_training_set_right(capsys):
    check_training_set(training_right)
    assert "✓" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("fn", "message"),
    [
        (training_tile, "not np.tile"),
        (training_int_labels, "float labels"),
        (training_no_seed, "same negatives"),
        (training_random_unseen_ignored, "not drawn from each user's unseen items"),
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


def metric_mean_over_hits(scores, positive, k=10):
    """Walkthrough: NDCG averaged over the hits only (NaN when nothing hits)."""
    pos = scores[np.arange(len(scores)), positive][:, None]
    rank = (scores >= pos).sum(axis=1) - 1
    hit = rank < k
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(hit.mean()), float((1 / np.log2(rank[hit] + 2)).mean())


def metric_columns_of_positive(scores, positive, k=10):
    """Walkthrough: scores[:, positive] (n x n) and the count along axis=0."""
    pos = scores[:, positive]
    rank = (scores >= pos[:, :1]).sum(axis=0) - 1
    hit = rank < k
    with np.errstate(divide="ignore"):
        return float(hit.mean()), float(np.where(hit, 1 / np.log2(rank + 2), 0).mean())


@pytest.mark.parametrize(
    ("fn", "what", "hint"),
    [
        (metric_mean_over_hits, "ndcg=nan", "average over all rows; a miss adds 0"),
        (metric_columns_of_positive, "Some rank is below 0",
         "scores[np.arange(n), positive][:, None]"),
    ],
)
def test_metric_nan_and_negative_ranks_have_their_own_hints(fn, what, hint):
    with pytest.raises(CheckFailed, match=what) as info:
        check_hit_rate_and_ndcg(fn)
    message = str(info.value)
    assert hint in message
    assert "log2(1)" not in message                   # not the off-by-one discount's hint
    assert all(len(line) <= 100 for line in _rendered(info.value))


def test_metric_log2_of_one_keeps_its_hint():
    with pytest.raises(CheckFailed, match="never log2\\(1\\) = 0") as info:
        check_hit_rate_and_ndcg(metric_log_off_by_one)
    assert "below 0" not in str(info.value)


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


def _gmf(n_users, n_items, k, l2=0.0, *, names=("user", "item"), model_name="GMF",
         swap=False, combine="multiply", sigmoid=True, use_l2=True, l2_on_item=True,
         order="user-item"):
    """A GMF builder with one chosen mistake (the right one by default)."""
    user = keras.Input(shape=(), dtype="int32", name=names[0])
    item = keras.Input(shape=(), dtype="int32", name=names[1])
    reg = keras.regularizers.L2(l2) if (l2 and use_l2) else None
    rows_u, rows_i = (n_items, n_users) if swap else (n_users, n_items)
    p = keras.layers.Embedding(rows_u, k, embeddings_regularizer=reg)(user)
    q = keras.layers.Embedding(rows_i, k, embeddings_regularizer=reg if l2_on_item else None)(
        item)
    if combine == "multiply":
        x = keras.layers.Dense(1, activation="sigmoid" if sigmoid else None)(
            keras.layers.Multiply()([p, q]))
    elif combine == "numpy":
        x = keras.layers.Dense(1, activation="sigmoid")(np.multiply(p, q))
    elif combine == "concat":
        x = keras.layers.Dense(1, activation="sigmoid")(keras.layers.Concatenate()([p, q]))
    else:
        x = keras.layers.Activation("sigmoid")(keras.layers.Dot(axes=1)([p, q]))
    inputs = [user, item] if order == "user-item" else [item, user]
    return keras.Model(inputs, x, **({"name": model_name} if model_name else {}))


def _builder(**mistake):
    return lambda n_users, n_items, k, l2=0.0: _gmf(n_users, n_items, k, l2, **mistake)


def gmf_stub(n_users, n_items, k, l2=0.0):
    raise NotImplementedError


def _rendered(exc: CheckFailed) -> list[str]:
    """The lines JupyterLab shows for a failed check, colour codes removed."""
    return [line.replace("\x1b[1;31m", "").replace("\x1b[0m", "")
            for line in exc._render_traceback_()]


def test_gmf_right(capsys):
    check_gmf_builder(_builder())
    assert "✓" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("mistake", "message"),
    [
        ({"sigmoid": False}, "sigmoid"),
        ({"combine": "concat"}, "Dense"),
        ({"combine": "dot"}, "Dense"),
        ({"swap": True}, "table sizes are swapped"),
        ({"use_l2": False}, "l2 is ignored"),
        ({"l2_on_item": False}, "item embedding has no L2 regulariser"),
        ({"names": ("user_idx", "item_idx")}, 'names them "user" and "item"'),
        ({"model_name": None}, "Keras' default"),
        ({"order": "item-user"}, r"in the order \['item', 'user'\]"),
    ],
)
def test_gmf_wrong(mistake, message):
    with pytest.raises(CheckFailed, match=message) as info:
        check_gmf_builder(_builder(**mistake))
    lines = _rendered(info.value)
    assert len(lines) <= 8, lines  # a sentence and a hint, never a TensorFlow traceback
    assert all(len(line) <= 100 for line in lines), lines


def test_gmf_numpy_on_keras_tensors_gets_the_keras_ops_hint():
    with pytest.raises(CheckFailed, match="A KerasTensor is symbolic") as info:
        check_gmf_builder(_builder(combine="numpy"))
    assert "use keras.ops.* / keras.layers.*, not np.* (the inputs are symbolic)" in str(
        info.value)
    assert all(len(line) <= 100 for line in _rendered(info.value))


def test_gmf_swapped_inputs_hint():
    with pytest.raises(CheckFailed) as info:
        check_gmf_builder(_builder(order="item-user"))
    assert "keras.Model([user, item], output" in str(info.value)


def test_gmf_swapped_tables_hint_names_the_tables_not_the_inputs():
    with pytest.raises(CheckFailed) as info:
        check_gmf_builder(_builder(swap=True))
    assert "Embedding(n_users, k) on the user input" in str(info.value)
    assert "keras.Input(shape=()" not in str(info.value)


def test_gmf_out_of_range_ids_give_one_line_not_tensorflow_frames():
    def gmf_items_in_user_table(n_users, n_items, k, l2=0.0):
        user = keras.Input(shape=(), dtype="int32", name="user")
        item = keras.Input(shape=(), dtype="int32", name="item")
        table = keras.layers.Embedding(n_users, k, name="shared")
        p, q = keras.layers.Embedding(n_users, k)(user), keras.layers.Embedding(n_items, k)(item)
        q = keras.layers.Multiply()([q, table(item)])   # item ids into a 5-row table
        out = keras.layers.Dense(1, activation="sigmoid")(keras.layers.Multiply()([p, q]))
        return keras.Model([user, item], out, name="GMF")

    with pytest.raises(CheckFailed) as info:
        check_gmf_builder(gmf_items_in_user_table)
    assert len(_rendered(info.value)) <= 8
    assert "Graph execution error" not in str(info.value)


@pytest.mark.parametrize(
    ("fn", "message"),
    [(gmf_stub, "not written yet"),
     (lambda n_users, n_items, k, l2=0.0: "model", "keras.Model")],
)
def test_gmf_not_a_model(fn, message):
    with pytest.raises(CheckFailed, match=message):
        check_gmf_builder(fn)


@pytest.mark.parametrize("fn", [training_tile, training_random_unseen_ignored,
                                training_2d_negatives])
def test_training_set_messages_fit_in_jupyterlab(fn):
    with pytest.raises(CheckFailed) as info:
        check_training_set(fn)
    assert all(len(line) <= 100 for line in _rendered(info.value))


def test_training_set_unseen_bug_does_not_get_the_tile_hint():
    with pytest.raises(CheckFailed) as info:
        check_training_set(training_random_unseen_ignored)
    assert "np.tile" not in str(info.value)
    assert "sample_negatives" in str(info.value)


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
