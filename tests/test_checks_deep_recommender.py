"""The self-checks of 03_deep_recommender accept right answers and explain the usual wrong ones."""

from __future__ import annotations

import math

import numpy as np
import pytest

from reclab.checks import CheckFailed
from reclab.checks.deep_recommender import (
    check_masked_mse,
    check_mlp_recommender,
    check_test_rmse,
)
from reclab.reproducibility import quiet_tensorflow

quiet_tensorflow()
import keras  # noqa: E402  (after quiet_tensorflow, so TensorFlow starts silently)
from keras import ops  # noqa: E402

# ------------------------------------------------------------------------------ masked_mse


def masked_right(y_true, y_pred):
    mask = ops.cast(ops.not_equal(y_true, 0), y_pred.dtype)
    return ops.sum(mask * ops.square(y_true - y_pred)) / ops.maximum(ops.sum(mask), 1.0)


def masked_where(y_true, y_pred):
    observed = ops.not_equal(y_true, 0)
    sq = ops.where(observed, ops.square(y_true - y_pred), 0.0)
    return ops.sum(sq) / ops.maximum(ops.sum(ops.cast(observed, "float32")), 1.0)


def plain_mse(y_true, y_pred):
    return ops.mean(ops.square(y_true - y_pred))


def masked_over_all(y_true, y_pred):
    mask = ops.cast(ops.not_equal(y_true, 0), y_pred.dtype)
    return ops.mean(mask * ops.square(y_true - y_pred))


def masked_sum(y_true, y_pred):
    mask = ops.cast(ops.not_equal(y_true, 0), y_pred.dtype)
    return ops.sum(mask * ops.square(y_true - y_pred))


def masked_nan_when_empty(y_true, y_pred):
    mask = ops.cast(ops.not_equal(y_true, 0), y_pred.dtype)
    return ops.sum(mask * ops.square(y_true - y_pred)) / ops.sum(mask)


def mask_from_pred(y_true, y_pred):
    mask = ops.cast(ops.not_equal(y_pred, 0), y_pred.dtype)
    return ops.sum(mask * ops.square(y_true - y_pred)) / ops.maximum(ops.sum(mask), 1.0)


def per_row(y_true, y_pred):
    mask = ops.cast(ops.not_equal(y_true, 0), y_pred.dtype)
    rows = ops.sum(mask * ops.square(y_true - y_pred), axis=1) / ops.maximum(
        ops.sum(mask, axis=1), 1.0)
    return ops.mean(rows)


def per_example(y_true, y_pred):
    mask = ops.cast(ops.not_equal(y_true, 0), y_pred.dtype)
    return mask * ops.square(y_true - y_pred)


def numpy_version(y_true, y_pred):
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    mask = y_true != 0
    return float(((y_true - y_pred) ** 2)[mask].sum() / max(mask.sum(), 1))


@pytest.mark.parametrize("fn", [masked_right, masked_where])
def test_masked_mse_right_answers_pass(fn, capsys):
    check_masked_mse(fn)
    assert capsys.readouterr().out.count("✓") == 3


@pytest.mark.parametrize(
    ("fn", "message"),
    [
        (plain_mse, r"plain MSE"),
        (masked_over_all, r"number of \*all\* entries"),
        (masked_sum, r"sum of the masked squared errors"),
        (masked_nan_when_empty, r"no observed entry.*nan.*\n.*maximum"),
        (mask_from_pred, r"mask is taken from y_pred"),
        (per_row, r"averages each row first"),
        (per_example, r"returned shape \(3, 4\)"),
        (numpy_version, r"not differentiable|raised"),
        (lambda y_true, y_pred: None, r"returned None"),
    ],
)
def test_masked_mse_wrong_answers_fail_with_a_reason(fn, message):
    with pytest.raises(CheckFailed, match=message):
        check_masked_mse(fn)


def test_masked_mse_stub_raises_not_implemented():
    def stub(y_true, y_pred):
        raise NotImplementedError

    with pytest.raises(CheckFailed, match=r"^masked_mse is not written yet"):
        check_masked_mse(stub)


# ------------------------------------------------------------------------------ MLP tower


def _offset(mu, low=1.0, high=5.0):
    p = (mu - low) / (high - low)
    return math.log(p / (1 - p))


def _mlp(kind="right"):
    def build(n_users, n_items, dim, global_mean, hidden=(128, 64), dropout=0.2,
              rating_range=(1.0, 5.0)):
        low, high = rating_range
        user = keras.Input(shape=(), dtype="int32", name="user")
        item = keras.Input(shape=(), dtype="int32", name="item")
        p_u = keras.layers.Embedding(n_users, dim)(user)
        q_i = keras.layers.Embedding(n_items, dim)(item)
        x = (keras.layers.Add()([p_u, q_i]) if kind == "add"
             else keras.layers.Concatenate()([p_u, q_i]))
        widths = hidden[:1] if kind == "one_layer" else hidden
        for units in widths:
            x = keras.layers.Dense(units, activation="sigmoid" if kind == "sigmoid" else "relu")(x)
            if kind != "no_dropout":
                x = keras.layers.Dropout(dropout)(x)
        z = keras.layers.Dense(1, activation="sigmoid" if kind == "sigmoid_out" else None)(x)
        z = z if kind == "unsqueezed" else ops.squeeze(z, axis=-1)
        if kind == "no_range":
            return keras.Model([user, item], z + global_mean)
        offset = 0.0 if kind == "no_offset" else _offset(global_mean, low, high)
        return keras.Model([user, item], low + (high - low) * ops.sigmoid(z + offset))

    return build


def test_mlp_right_model_passes(capsys):
    check_mlp_recommender(_mlp(), n_users=943, n_items=1650, dim=16, hidden=(32, 16))
    assert capsys.readouterr().out.count("✓") == 3


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("add", r"reads 3 numbers.*\n.*concatenate them"),
        ("one_layer", r"widths \[8, 4, 1\].*they have \[8, 1\]"),
        ("sigmoid", r"activation 'sigmoid'; use 'relu'"),
        ("sigmoid_out", r"output Dense layer uses activation 'sigmoid'"),
        ("no_dropout", r"followed by Dropout\(0.25\)"),
        ("no_offset", r"global mean 3.5.*\n.*middle of the range"),
        ("no_range", r"outside the rating range"),
    ],
)
def test_mlp_wrong_models_fail_with_a_reason(kind, message):
    with pytest.raises(CheckFailed, match=message):
        check_mlp_recommender(_mlp(kind))


def test_mlp_stub_and_none():
    def stub(*args, **kwargs):
        raise NotImplementedError

    with pytest.raises(CheckFailed, match=r"^build_mlp is not written yet"):
        check_mlp_recommender(stub)
    with pytest.raises(CheckFailed, match=r"forget `return"):
        check_mlp_recommender(lambda *a, **k: None)


# ------------------------------------------------------------------------------ quality bar


def test_quality_bar_is_shared_with_notebook_02():
    y = np.array([1.0, 5.0, 3.0, 4.0])
    assert check_test_rmse(y, y, max_rmse=0.925, name="ensemble") == 0.0
    with pytest.raises(CheckFailed, match=r"above the bar 0.925"):
        check_test_rmse(y, np.full(4, 3.25), max_rmse=0.925)


def test_mlp_without_squeeze_is_refused_as_the_text_asks():
    with pytest.raises(CheckFailed, match=r"shape \(batch,\) as the text asks(.|\n)*squeeze"):
        check_mlp_recommender(_mlp("unsqueezed"))


def test_mlp_that_never_sets_rating_is_told_to_name_its_output_rating():
    right = _mlp()

    def build_mlp(*args, **kwargs):
        right(*args, **kwargs)
        return keras.Model([], rating)  # noqa: F821  (the template's last line, nothing set)

    with pytest.raises(CheckFailed, match=r"variable named `rating`(.|\n)*rating = sigmoid_range"):
        check_mlp_recommender(build_mlp)


def test_unguarded_numpy_masked_mse_is_told_about_numpy_before_nan():
    def masked_mse(y_true, y_pred):
        y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
        mask = y_true != 0
        return float(((y_true - y_pred) ** 2)[mask].sum() / mask.sum())

    with pytest.raises(CheckFailed, match=r"not differentiable(.|\n)*keras.ops, not numpy"):
        check_masked_mse(masked_mse)
