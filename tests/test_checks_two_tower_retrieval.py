"""The 07_two_tower_retrieval self-checks pass right answers and explain typical wrong ones."""

from __future__ import annotations

import numpy as np
import pytest

from reclab.checks import CheckFailed
from reclab.checks.two_tower_retrieval import (
    QUALITY_BARS,
    check_history_pooling,
    check_in_batch_softmax_loss,
    check_quality_bars,
    check_top_k_unseen,
)

keras = pytest.importorskip("keras")
ops = keras.ops

# ------------------------------------------------------------------------------ pooling


def _pool(vectors, present, tau, age_order="recent_last", normalise="weights", mask=True):
    length = vectors.shape[1]
    age = ops.cast(ops.arange(length - 1, -1, -1), "float32")
    if age_order == "reversed":
        age = ops.cast(ops.arange(length), "float32")
    weights = ops.exp(-age / tau)[None, :] * (ops.cast(present, "float32") if mask else 1.0)
    total = ops.sum(weights, axis=1, keepdims=True)
    summed = ops.sum(vectors * weights[:, :, None], axis=1)
    if normalise == "weights":
        return summed / ops.maximum(total, 1e-9)
    if normalise == "length":
        return summed / length
    if normalise == "count":
        return summed / ops.maximum(ops.sum(ops.cast(present, "float32"), axis=1,
                                            keepdims=True), 1.0)
    if normalise == "nan":
        return summed / total
    return summed


def pool_right(vectors, present, tau):
    return _pool(vectors, present, tau)


def pool_unmasked(vectors, present, tau):
    return _pool(vectors, present, tau, mask=False)


def pool_reversed(vectors, present, tau):
    return _pool(vectors, present, tau, age_order="reversed")


def pool_sum(vectors, present, tau):
    return _pool(vectors, present, tau, normalise="none")


def pool_by_length(vectors, present, tau):
    return _pool(vectors, present, tau, normalise="length")


def pool_by_count(vectors, present, tau):
    return _pool(vectors, present, tau, normalise="count")


def pool_nan(vectors, present, tau):
    return _pool(vectors, present, tau, normalise="nan")


def pool_numpy_only(vectors, present, tau):
    vectors, present = np.asarray(vectors), np.asarray(present)
    age = np.arange(vectors.shape[1] - 1, -1, -1)
    weights = present * np.exp(-age / tau)
    return (vectors * weights[:, :, None]).sum(1) / np.maximum(weights.sum(1, keepdims=True),
                                                               1e-9)


def pool_uncast_age(vectors, present, tau):
    age = ops.arange(vectors.shape[1] - 1, -1, -1)      # int32, no ops.cast
    weights = ops.cast(present, "float32") * ops.exp(-age / tau)
    total = ops.maximum(ops.sum(weights, axis=1, keepdims=True), 1e-9)
    return ops.sum(vectors * weights[:, :, None], axis=1) / total


def pool_numpy_tau(vectors, present, tau):
    # np.isinf / np.exp on tau work on a Python float, not on HistoryPooling's learned tau
    if np.isinf(tau):
        return _pool(vectors, present, 1e30)
    age = ops.cast(ops.arange(vectors.shape[1] - 1, -1, -1), "float32")
    weights = ops.cast(present, "float32") * np.exp(-age / tau)
    total = ops.maximum(ops.sum(weights, axis=1, keepdims=True), 1e-9)
    return ops.sum(vectors * weights[:, :, None], axis=1) / total


def stub(*args, **kwargs):
    raise NotImplementedError


def test_pooling_right(capsys):
    check_history_pooling(pool_right)
    assert capsys.readouterr().out.count("✓") == 3


@pytest.mark.parametrize(
    ("fn", "message"),
    [
        (pool_unmasked, "padding must get weight 0"),
        (pool_reversed, "oldest"),
        (pool_sum, "not the weighted mean"),
        (pool_by_length, "window length"),
        (pool_by_count, "number of real items, not by the sum of their weights"),
        (pool_nan, "no history"),
        (pool_numpy_only, "inside a Keras model"),
        (pool_uncast_age, r"ops\.cast\(ops\.arange\(L - 1, -1, -1\), \"float32\"\)"),
        (pool_numpy_tau, r"(?s)tau is a tensor.*keras.ops"),
        (stub, "not written yet"),
    ],
)
def test_pooling_mistakes(fn, message):
    with pytest.raises(CheckFailed, match=message):
        check_history_pooling(fn)


# ------------------------------------------------------------------------------ in-batch loss


def _loss(queries, candidates, log_q, items, sign=-1.0, per_row=False, hits=True,
          reduce="mean", mask_diagonal=False, transpose=False, from_logits=True):
    if transpose:
        queries, candidates = candidates, queries
    correction = log_q[:, None] if per_row else log_q[None, :]
    logits = ops.matmul(queries, ops.transpose(candidates)) + sign * correction
    rows = ops.arange(ops.shape(items)[0])
    same = ops.equal(items[:, None], items[None, :])
    if hits:
        if not mask_diagonal:
            same = ops.logical_and(same, ops.not_equal(rows[:, None], rows[None, :]))
        logits = ops.where(same, -1e9, logits)
    losses = keras.losses.sparse_categorical_crossentropy(rows, logits, from_logits=from_logits)
    return ops.mean(losses) if reduce == "mean" else ops.sum(losses)


def loss_right(queries, candidates, log_q, items):
    return _loss(queries, candidates, log_q, items)


def loss_added(queries, candidates, log_q, items):
    return _loss(queries, candidates, log_q, items, sign=1.0)


def loss_per_row(queries, candidates, log_q, items):
    return _loss(queries, candidates, log_q, items, per_row=True)


def loss_summed(queries, candidates, log_q, items):
    return _loss(queries, candidates, log_q, items, reduce="sum")


def loss_no_hits(queries, candidates, log_q, items):
    return _loss(queries, candidates, log_q, items, hits=False)


def loss_masks_diagonal(queries, candidates, log_q, items):
    return _loss(queries, candidates, log_q, items, mask_diagonal=True)


def loss_transposed(queries, candidates, log_q, items):
    return _loss(queries, candidates, log_q, items, transpose=True)


def loss_probabilities(queries, candidates, log_q, items):
    return _loss(queries, candidates, log_q, items, from_logits=False)


def loss_probabilities_diagonal(queries, candidates, log_q, items):
    return _loss(queries, candidates, log_q, items, from_logits=False, mask_diagonal=True)


def loss_loss_object(queries, candidates, log_q, items):
    # the loss class with its default from_logits=False
    logits = ops.matmul(queries, ops.transpose(candidates)) - log_q[None, :]
    rows = ops.arange(ops.shape(items)[0])
    hit = ops.logical_and(ops.equal(items[:, None], items[None, :]),
                          ops.not_equal(rows[:, None], rows[None, :]))
    return keras.losses.SparseCategoricalCrossentropy()(rows, ops.where(hit, -1e9, logits))


def loss_vector(queries, candidates, log_q, items):
    logits = ops.matmul(queries, ops.transpose(candidates)) - log_q[None, :]
    rows = ops.arange(ops.shape(items)[0])
    return keras.losses.sparse_categorical_crossentropy(rows, logits, from_logits=True)


def loss_numpy(queries, candidates, log_q, items):
    # right on arrays, but np.asarray of model.fit's symbolic tensors raises
    q, c, lq, it = (np.asarray(x) for x in (queries, candidates, log_q, items))
    logits = q @ c.T - lq[None, :]
    logits = np.where((it[:, None] == it[None, :]) & ~np.eye(len(it), dtype=bool), -1e9, logits)
    top = logits.max(axis=1, keepdims=True)
    log_norm = np.log(np.exp(logits - top).sum(axis=1)) + top[:, 0]
    return float(np.mean(log_norm - np.diag(logits)))


def loss_static_batch(queries, candidates, log_q, items):
    # right on arrays, but queries.shape[0] is None while Keras traces the loss
    batch = queries.shape[0]
    logits = ops.matmul(queries, ops.transpose(candidates)) - log_q[None, :]
    rows = ops.arange(batch)
    hit = ops.logical_and(ops.equal(items[:, None], items[None, :]),
                          ops.not_equal(rows[:, None], rows[None, :]))
    logits = ops.where(hit, -1e9, logits)
    return ops.mean(keras.losses.sparse_categorical_crossentropy(rows, logits, from_logits=True))


def test_in_batch_loss_right(capsys):
    check_in_batch_softmax_loss(loss_right)
    assert capsys.readouterr().out.count("✓") == 3


@pytest.mark.parametrize(
    ("fn", "message"),
    [
        (loss_added, "added instead of subtracted"),
        (loss_per_row, "per column"),
        (loss_summed, "summed over the batch"),
        (loss_no_hits, "accidental hit"),
        (loss_masks_diagonal, "diagonal"),
        (loss_transposed, "transpose"),
        (loss_vector, "one number"),
        (loss_probabilities, r"(?s)reads the logits as probabilities.*raw scores: use "
                             r"from_logits=True"),
        (loss_probabilities_diagonal, r"(?s)reads the logits as probabilities.*raw scores"),
        (loss_loss_object, r"(?s)reads the logits as probabilities.*raw scores: use "
                           r"from_logits=True"),
        (loss_numpy, r"(?s)inside model\.fit.*use keras\.ops, not numpy"),
        (loss_static_batch, r"(?s)ops\.shape\(queries\)\[0\]: the batch size is unknown \(None\)"),
        (stub, "not written yet"),
    ],
)
def test_in_batch_loss_mistakes(fn, message):
    with pytest.raises(CheckFailed, match=message):
        check_in_batch_softmax_loss(fn)


# ------------------------------------------------------------------------------ top-k


def topk_right(user_vectors, item_vectors, seen, k=10):
    scores = np.where(seen, -np.inf, user_vectors @ item_vectors.T)
    top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(scores, top, axis=1), axis=1)
    return np.take_along_axis(top, order, axis=1)


def topk_seen_kept(user_vectors, item_vectors, seen, k=10):
    return np.argsort(-(user_vectors @ item_vectors.T), axis=1)[:, :k]


def topk_unsorted(user_vectors, item_vectors, seen, k=10):
    scores = np.where(seen, -np.inf, user_vectors @ item_vectors.T)
    top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    return np.sort(top, axis=1)


def topk_argpartition_only(user_vectors, item_vectors, seen, k=10):
    # the k best, but in argpartition's order (sorted by chance on small catalogues)
    scores = np.where(seen, -np.inf, user_vectors @ item_vectors.T)
    return np.argpartition(-scores, k, axis=1)[:, :k]


def topk_argpartition_kth(user_vectors, item_vectors, seen, k=10):
    scores = np.where(seen, -np.inf, user_vectors @ item_vectors.T)
    return np.argpartition(-scores, k - 1, axis=1)[:, :k]


def topk_argsort(user_vectors, item_vectors, seen, k=10):
    scores = np.where(seen, -np.inf, user_vectors @ item_vectors.T)
    return np.argsort(-scores, axis=1)[:, :k]


def topk_ascending(user_vectors, item_vectors, seen, k=10):
    return topk_right(user_vectors, item_vectors, seen, k)[:, ::-1]


def topk_transposed(user_vectors, item_vectors, seen, k=10):
    return topk_right(user_vectors, item_vectors, seen, k).T


def topk_scores(user_vectors, item_vectors, seen, k=10):
    scores = np.where(seen, -np.inf, user_vectors @ item_vectors.T)
    return -np.sort(-scores, axis=1)[:, :k]


def topk_off_by_one(user_vectors, item_vectors, seen, k=10):
    scores = np.where(seen, -np.inf, user_vectors @ item_vectors.T)
    return np.argsort(-scores, axis=1)[:, 1:k + 1]


def topk_seen_zero(user_vectors, item_vectors, seen, k=10):
    scores = np.where(seen, 0.0, user_vectors @ item_vectors.T)
    return np.argsort(-scores, axis=1)[:, :k]


def topk_codes_plus_one(user_vectors, item_vectors, seen, k=10):
    return topk_right(user_vectors, item_vectors, seen, k) + 1


@pytest.mark.parametrize("fn", [topk_right, topk_argsort])
def test_top_k_right(fn, capsys):
    check_top_k_unseen(fn)
    assert "✓" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("fn", "message"),
    [
        (topk_seen_kept, "already seen"),
        (topk_unsorted, "not in order"),
        (topk_argpartition_only, r"(?s)k=300 on 600 items finds the right items but not in "
                                 r"order: user 0's rank \d+ .*np\.argpartition does not sort"),
        (topk_argpartition_kth, r"(?s)not in order.*np\.argpartition does not sort"),
        (topk_ascending, "lowest scores first"),
        (topk_transposed, "transposed"),
        (topk_scores, "dtype"),
        (topk_off_by_one, r"(?s)best unseen item \(\d+\) is missing.*\[:, :k\], not \[:, 1:k\+1\]"),
        (topk_seen_zero, r"(?s)every score is negative.*-np.inf"),
        (topk_codes_plus_one, r"(?s)codes plus one.*0-based"),
        (stub, "not written yet"),
    ],
)
def test_top_k_mistakes(fn, message):
    with pytest.raises(CheckFailed, match=message):
        check_top_k_unseen(fn)


# ------------------------------------------------------------------------------ bars


def test_quality_bars():
    good = {key: bar + 0.01 for key, bar in QUALITY_BARS.items()}
    check_quality_bars("model", good)
    for key in QUALITY_BARS:
        with pytest.raises(CheckFailed, match=key):
            check_quality_bars("model", {**good, key: QUALITY_BARS[key] - 0.001})
    with pytest.raises(CheckFailed, match="no 'hr@10_full'"):
        check_quality_bars("model", {k: v for k, v in good.items() if k != "hr@10_full"})


def test_quality_bars_margins():
    # The lowest test figures measured for a correct solution (seeds, configurations) pass …
    check_quality_bars("model", {"hr@10_full": 0.201, "ndcg@10_full": 0.105,
                                 "hr@10_sampled": 0.73, "ndcg@10_sampled": 0.47})
    # … and a model that ignores recency (mean pooling, measured) fails, quoting the range.
    mean_pooling = {"hr@10_full": 0.186, "ndcg@10_full": 0.093, "hr@10_sampled": 0.691,
                    "ndcg@10_sampled": 0.431}
    with pytest.raises(CheckFailed, match=r"below the bar 0.19 \(a correct solution reaches "):
        check_quality_bars("mean pooling", mean_pooling)
