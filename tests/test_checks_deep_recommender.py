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


def masked_abs(y_true, y_pred):
    mask = ops.cast(ops.not_equal(y_true, 0), y_pred.dtype)
    return ops.sum(mask * ops.abs(y_true - y_pred)) / ops.maximum(ops.sum(mask), 1.0)


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
        (masked_abs, r"absolute errors: square them"),
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


# ------------------------------------------------------------------------------ session 4


def _tower(kind):
    """The walkthrough's variants of the MLP tower (the template of the notebook around it)."""

    def build(n_users, n_items, dim, global_mean, hidden=(128, 64), dropout=0.2,
              rating_range=(1.0, 5.0)):
        low, high = rating_range
        user = keras.Input(shape=(), dtype="int32", name="user")
        item = keras.Input(shape=(), dtype="int32", name="item")
        p_u = keras.layers.Dropout(0.5)(keras.layers.Embedding(n_users, dim)(user))
        q_i = keras.layers.Dropout(0.5)(keras.layers.Embedding(n_items, dim)(item))
        x = keras.layers.Concatenate(axis=0 if kind == "batch_axis" else -1)([p_u, q_i])
        for units in hidden:
            if kind == "dropout_before":
                x = keras.layers.Dropout(dropout)(x)
            if kind in ("relu_layer", "activation_layer", "ops_relu"):
                x = keras.layers.Dense(units)(x)
                x = {"relu_layer": keras.layers.ReLU(), "activation_layer":
                     keras.layers.Activation("relu"), "ops_relu": keras.ops.relu}[kind](x)
            else:
                x = keras.layers.Dense(units, activation="relu")(x)
            if kind != "dropout_before":
                x = keras.layers.Dropout(dropout)(x)
        z = ops.squeeze(keras.layers.Dense(1)(x), axis=-1)
        return keras.Model([user, item], low + (high - low) * ops.sigmoid(
            z + _offset(global_mean, low, high)))

    return build


@pytest.mark.parametrize("kind", ["relu_layer", "activation_layer", "ops_relu"])
def test_mlp_with_a_separate_relu_passes(kind, capsys):
    """Dense(units) then ReLU() is Dense(units, activation='relu'): it used to be refused."""
    check_mlp_recommender(_tower(kind), n_users=943, n_items=1650, dim=16, hidden=(32, 16))
    assert capsys.readouterr().out.count("✓") == 3


def test_mlp_with_a_leaky_relu_is_still_refused():
    def leaky(n_users, n_items, dim, global_mean, hidden=(128, 64), dropout=0.2):
        user = keras.Input(shape=(), dtype="int32", name="user")
        item = keras.Input(shape=(), dtype="int32", name="item")
        x = keras.layers.Concatenate()([keras.layers.Embedding(n_users, dim)(user),
                                        keras.layers.Embedding(n_items, dim)(item)])
        for units in hidden:
            x = keras.layers.Dropout(dropout)(keras.layers.LeakyReLU()(
                keras.layers.Dense(units)(x)))
        z = ops.squeeze(keras.layers.Dense(1)(x), axis=-1)
        return keras.Model([user, item], 1 + 4 * ops.sigmoid(z + _offset(global_mean)))

    with pytest.raises(CheckFailed, match=r"uses activation 'linear'; use 'relu'"):
        check_mlp_recommender(leaky)


def test_concatenating_along_the_batch_axis_is_named():
    """Concatenate(axis=0) used to be told the embeddings were added or multiplied."""
    with pytest.raises(CheckFailed) as info:
        check_mlp_recommender(_tower("batch_axis"))
    message = str(info.value)
    assert "Concatenate(axis=0) concatenates along the batch axis" in message
    assert "Hint: concatenate along the last axis" in message and "axis=-1" in message
    assert "added or multiplied" not in message


def test_dropout_before_each_dense_is_placed_by_the_text():
    """The text: each Dense(units, activation="relu") *followed by* Dropout(dropout)."""
    with pytest.raises(CheckFailed, match=r"^hidden Dense layer 2 \(Dense\(4\), .+\) is "
                       r"followed by Dense .+, not by Dropout\(0.25\): the text puts a "
                       r"Dropout right after each hidden Dense layer(.|\n)*Hint: for units in "
                       r"hidden"):
        check_mlp_recommender(_tower("dropout_before"))
