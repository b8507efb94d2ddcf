"""The self-checks of 01_regression_dot accept right models and explain the usual wrong ones."""

from __future__ import annotations

import numpy as np
import pytest

from reclab.checks import CheckFailed
from reclab.checks.regression_dot import check_dot_model, check_test_predictions
from reclab.reproducibility import quiet_tensorflow

quiet_tensorflow()
import keras  # noqa: E402  (after quiet_tensorflow, so TensorFlow starts silently)


def _inputs(shape=()):
    return (keras.Input(shape=shape, dtype="int32", name="user"),
            keras.Input(shape=shape, dtype="int32", name="item"))  # fmt: skip


# ------------------------------------------------------------------------------ right models


def dot_layer(n_users, n_items, dim):
    user, item = _inputs()
    u = keras.layers.Embedding(n_users, dim)(user)
    i = keras.layers.Embedding(n_items, dim)(item)
    return keras.Model([user, item], keras.layers.Dot(axes=1)([u, i]))


def dot_flatten(n_users, n_items, dim):
    user, item = _inputs((1,))
    u = keras.layers.Flatten()(keras.layers.Embedding(n_users, dim)(user))
    i = keras.layers.Flatten()(keras.layers.Embedding(n_items, dim)(item))
    return keras.Model([user, item], keras.layers.Dot(axes=1)([u, i]))


def dot_ops(n_users, n_items, dim):
    user, item = _inputs()
    u = keras.layers.Embedding(n_users, dim)(user)
    i = keras.layers.Embedding(n_items, dim)(item)
    return keras.Model([user, item], keras.ops.sum(u * i, axis=-1, keepdims=True))


@pytest.mark.parametrize("build", [dot_layer, dot_flatten, dot_ops])
def test_right_models_pass(build, capsys):
    check_dot_model(build, n_users=943, n_items=1650, dim=8)
    assert capsys.readouterr().out.count("✓") == 3


# ------------------------------------------------------------------------------ wrong models


def cosine(n_users, n_items, dim):
    user, item = _inputs()
    u = keras.layers.Embedding(n_users, dim)(user)
    i = keras.layers.Embedding(n_items, dim)(item)
    return keras.Model([user, item], keras.layers.Dot(axes=1, normalize=True)([u, i]))


def swapped(n_users, n_items, dim):
    user, item = _inputs()
    u = keras.layers.Embedding(n_users, dim)(item)
    i = keras.layers.Embedding(n_items, dim)(user)
    return keras.Model([user, item], keras.layers.Dot(axes=1)([u, i]))


def with_dense(n_users, n_items, dim):
    user, item = _inputs()
    u = keras.layers.Embedding(n_users, dim)(user)
    i = keras.layers.Embedding(n_items, dim)(item)
    return keras.Model([user, item], keras.layers.Dense(1)(keras.layers.Dot(axes=1)([u, i])))


def one_table(n_users, n_items, dim):
    user, item = _inputs()
    table = keras.layers.Embedding(n_users + n_items, dim)
    return keras.Model([user, item], keras.layers.Dot(axes=1)([table(user), table(item)]))


def elementwise(n_users, n_items, dim):
    user, item = _inputs()
    u = keras.layers.Embedding(n_users, dim)(user)
    i = keras.layers.Embedding(n_items, dim)(item)
    return keras.Model([user, item], keras.layers.Multiply()([u, i]))


def wrong_sizes(n_users, n_items, dim):
    return dot_layer(n_items, n_users + n_items, dim)


def sum_not_dot(n_users, n_items, dim):
    user, item = _inputs()
    u = keras.layers.Embedding(n_users, dim)(user)
    i = keras.layers.Embedding(n_items, dim)(item)
    return keras.Model([user, item], keras.ops.sum(u + i, axis=-1, keepdims=True))


def one_input(n_users, n_items, dim):
    user, _ = _inputs()
    u = keras.layers.Embedding(n_users, dim)(user)
    i = keras.layers.Embedding(n_items, dim)(user)
    return keras.Model(user, keras.layers.Dot(axes=1)([u, i]))


def unflattened(n_users, n_items, dim):
    user, item = _inputs((1,))
    u = keras.layers.Embedding(n_users, dim)(user)
    i = keras.layers.Embedding(n_items, dim)(item)
    return keras.Model([user, item], keras.layers.Dot(axes=2)([u, i]))


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (cosine, r"cosine similarity"),
        (swapped, r"first input must feed the user embedding"),
        (with_dense, r"only the two embedding tables"),
        (one_table, r"exactly 2 Embedding layers.*it has 1"),
        (elementwise, r"output shape is \(None, 4\)"),
        (wrong_sizes, r"should have \(input_dim, output_dim\)"),
        (sum_not_dot, r"should return their dot product"),
        (one_input, r"should have 2 inputs"),
        (unflattened, r"output shape is \(None, 1, 1\)"),
        (lambda n_users, n_items, dim: None, r"returned None"),
        (lambda n_users, n_items, dim: "model", r"should return a keras.Model"),
    ],
)
def test_wrong_models_fail_with_a_reason(build, message):
    with pytest.raises(CheckFailed, match=message):
        check_dot_model(build)


def test_stub_raises_not_implemented():
    def stub(n_users, n_items, dim):
        raise NotImplementedError

    with pytest.raises(NotImplementedError):
        check_dot_model(stub)


def test_wrong_real_size_is_caught():
    def ignores_dim_when_big(n_users, n_items, dim):
        return dot_layer(n_users, n_items, dim if n_users < 100 else 32)

    with pytest.raises(CheckFailed, match=r"n_users=943, n_items=1650, dim=64"):
        check_dot_model(ignores_dim_when_big, n_users=943, n_items=1650, dim=64)


# ------------------------------------------------------------------------------ quality bar


def test_predictions_under_the_bar_pass(capsys):
    rng = np.random.default_rng(0)
    y = rng.integers(1, 6, 1000).astype(float)
    value = check_test_predictions(y, y + rng.normal(0, 0.5, 1000), max_mae=0.78, name="m")
    assert 0.3 < value < 0.5
    assert "✓ m: test MAE" in capsys.readouterr().out


def test_column_predictions_are_accepted():
    check_test_predictions([1, 2, 3], np.array([[1.1], [2.0], [3.2]]), max_mae=0.5)


def test_predictions_over_the_bar_fail():
    y = np.array([1, 5, 1, 5], dtype=float)
    with pytest.raises(CheckFailed, match=r"above the bar.*\n.*constant"):
        check_test_predictions(y, np.full(4, 3.0), max_mae=0.78)
    with pytest.raises(CheckFailed, match=r"above the bar.*\n.*loss curves"):
        check_test_predictions(y, np.array([5.0, 1.0, 5.0, 1.0]), max_mae=0.78)


def test_missing_rows_fail():
    with pytest.raises(CheckFailed, match=r"one prediction per test row"):
        check_test_predictions(np.ones(10), np.ones(9))


def test_nan_predictions_fail():
    with pytest.raises(CheckFailed, match=r"NaN"):
        check_test_predictions([1.0, 2.0], [np.nan, 2.0])
