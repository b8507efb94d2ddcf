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


def swapped_sizes(n_users, n_items, dim):
    """Finding 2: Embedding(n_items, dim) on the user input, Embedding(n_users, dim) on the item."""
    user, item = _inputs()
    u = keras.layers.Embedding(n_items, dim)(user)
    i = keras.layers.Embedding(n_users, dim)(item)
    return keras.Model([user, item], keras.layers.Dot(axes=1)([u, i]))


def item_input_first(n_users, n_items, dim):
    """Finding 2: right embeddings, but the model lists the item input first."""
    user, item = _inputs()
    u = keras.layers.Embedding(n_users, dim)(user)
    i = keras.layers.Embedding(n_items, dim)(item)
    return keras.Model([item, user], keras.layers.Dot(axes=1)([u, i]))


def zero_init(n_users, n_items, dim):
    """Finding 4b: passes every structural test, but can never learn."""
    user, item = _inputs()
    u = keras.layers.Embedding(n_users, dim, embeddings_initializer="zeros")(user)
    i = keras.layers.Embedding(n_items, dim, embeddings_initializer="zeros")(item)
    return keras.Model([user, item], keras.layers.Dot(axes=1)([u, i]))


def constant_init(n_users, n_items, dim):
    user, item = _inputs()
    ones = keras.initializers.Constant(0.1)
    u = keras.layers.Embedding(n_users, dim, embeddings_initializer=ones)(user)
    i = keras.layers.Embedding(n_items, dim, embeddings_initializer=ones)(item)
    return keras.Model([user, item], keras.layers.Dot(axes=1)([u, i]))


def float_inputs(n_users, n_items, dim):
    user = keras.Input(shape=())
    item = keras.Input(shape=())
    u = keras.layers.Embedding(n_users, dim)(user)
    i = keras.layers.Embedding(n_items, dim)(item)
    return keras.Model([user, item], keras.layers.Dot(axes=1)([u, i]))


@pytest.mark.parametrize(("build", "mistake"), [
    (swapped, "Hint: the first input must feed the user embedding (input_dim=n_users)"),
    (swapped_sizes, "Hint: the first input must feed the user embedding (input_dim=n_users)"),
    (item_input_first, "Hint: list the user input first: keras.Model(inputs=[user, item], ...)"),
])
def test_wrong_wiring_is_caught_before_calling_the_model(build, mistake, capsys):
    with pytest.raises(CheckFailed) as info:
        check_dot_model(build, n_users=943, n_items=1650, dim=8)
    message = str(info.value)
    # each input is named by its position *and* its name: never "(item)" for the input `user`
    fed = "second input ('user')" if build is item_input_first else "second input ('item')"
    assert f"the user embedding (input_dim=6) is fed by the {fed}" in message
    assert mistake in message
    assert ("lists its inputs as ['item', 'user']" in message) == (build is item_input_first)
    assert info.value.__context__ is None  # no TensorFlow traceback attached
    assert "✓" not in capsys.readouterr().out  # no ✓ for a property that is wrong


def test_model_call_errors_become_a_check_failure():
    """A subclassed model has no graph to read: its call fails, and that is reported."""

    class Swapped(keras.Model):
        def __init__(self, n_users, n_items, dim):
            super().__init__()
            self.user_embedding = keras.layers.Embedding(n_users, dim)
            self.item_embedding = keras.layers.Embedding(n_items, dim)

        def call(self, inputs):
            user, item = inputs
            return keras.ops.sum(self.user_embedding(item) * self.item_embedding(user), axis=-1,
                                 keepdims=True)

    def build(n_users, n_items, dim):
        model = Swapped(n_users, n_items, dim)
        user, item = _inputs()
        return keras.Model([user, item], model([user, item]))

    with pytest.raises(CheckFailed) as info:
        check_dot_model(build)
    message = str(info.value)
    assert message.startswith("calling the model on [user codes, item codes] failed")
    assert "the first input must feed the user embedding" in message
    assert len(message.splitlines()) <= 3
    assert info.value.__context__ is None


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (zero_init, r"both embedding tables start as all zeros.*gradient.*zero.*\n"
                    r"Hint: leave embeddings_initializer at its default"),
        (constant_init, r"every number of both embedding tables starts at the same value"),
        (float_inputs, r"^the first \(user\) input has dtype float32; ids are integers"),
        (cosine, r"cosine similarity"),
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

    with pytest.raises(CheckFailed, match=r"^build_dot_model is not written yet"):
        check_dot_model(stub)


def test_one_zero_table_is_accepted():
    """One zero table still learns (its gradient is the other, random, table)."""

    def user_zeros(n_users, n_items, dim):
        user, item = _inputs()
        u = keras.layers.Embedding(n_users, dim, embeddings_initializer="zeros")(user)
        i = keras.layers.Embedding(n_items, dim)(item)
        return keras.Model([user, item], keras.layers.Dot(axes=1)([u, i]))

    check_dot_model(user_zeros)


def test_compiled_model_is_accepted():
    def compiled(n_users, n_items, dim):
        model = dot_layer(n_users, n_items, dim)
        model.compile(optimizer="adam", loss="mse")
        return model

    check_dot_model(compiled)


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
    with pytest.raises(CheckFailed, match=r"above the bar.*\n.*≈ 3.00 stars.*constant"):
        check_test_predictions(y, np.full(4, 3.0), max_mae=0.78)
    with pytest.raises(CheckFailed, match=r"above the bar.*\n.*loss curves"):
        check_test_predictions(y, np.array([5.0, 1.0, 5.0, 1.0]), max_mae=0.78)


def test_dead_model_is_named():
    """Finding 4b: a zero-initialised model predicts 0 except the fallback rows (mu)."""
    rng = np.random.default_rng(0)
    y = rng.integers(1, 6, 20_000).astype(float)
    pred = np.zeros(20_000)
    pred[:32] = 3.53  # unseen ids get the global mean
    with pytest.raises(CheckFailed) as info:
        check_test_predictions(y, pred, name="dot product (MSE loss)")
    message = str(info.value)
    assert "≈ 0.00 stars: the embeddings did not learn" in message
    assert "zero-initialised" in message and "default initializer" in message
    assert "restore_best_weights" not in message


def test_constant_model_is_named():
    rng = np.random.default_rng(0)
    y = rng.integers(1, 6, 20_000).astype(float)
    pred = np.full(20_000, 3.53) + rng.normal(0, 0.01, 20_000)
    pred[:40] = 1.0
    with pytest.raises(CheckFailed, match=r"≈ 3.53 stars: the model predicts \(almost\) a "
                                          r"constant"):
        check_test_predictions(y, pred, max_mae=0.5)


def test_missing_rows_fail():
    with pytest.raises(CheckFailed, match=r"one prediction per test row"):
        check_test_predictions(np.ones(10), np.ones(9))


def test_nan_predictions_fail():
    with pytest.raises(CheckFailed, match=r"NaN"):
        check_test_predictions([1.0, 2.0], [np.nan, 2.0])


def test_inputs_not_named_user_and_item_are_refused():
    import keras

    def build_dot_model(n_users, n_items, dim):
        user = keras.Input(shape=(), dtype="int32", name="user_idx")
        item = keras.Input(shape=(), dtype="int32", name="item_idx")
        p = keras.layers.Embedding(n_users, dim)(user)
        q = keras.layers.Embedding(n_items, dim)(item)
        return keras.Model([user, item], keras.layers.Dot(axes=1)([p, q]))

    with pytest.raises(CheckFailed, match=r"input is named 'user_idx'; name it 'user'"):
        check_dot_model(build_dot_model)


def dot_axes_2(n_users, n_items, dim):
    """Dot(axes=2) on (batch, dim) vectors: Keras raises an IndexError while building."""
    user, item = _inputs()
    u = keras.layers.Embedding(n_users, dim)(user)
    i = keras.layers.Embedding(n_items, dim)(item)
    return keras.Model([user, item], keras.layers.Dot(axes=2)([u, i]))


def float_dim(n_users, n_items, dim):
    user, item = _inputs()
    u = keras.layers.Embedding(n_users, dim / 1)(user)
    i = keras.layers.Embedding(n_items, dim)(item)
    return keras.Model([user, item], keras.layers.Dot(axes=1)([u, i]))


@pytest.mark.parametrize(("build", "message"), [
    (dot_axes_2, r"raised IndexError(.|\n)*\nHint: keras.layers.Dot\(axes=1\): with inputs of "
                 r"shape \(\), each embedding is \(batch, dim\)"),
    (float_dim, r"raised ValueError: `output_dim` must be a positive integer(.|\n)*\n"
                r"Hint: embedding sizes must be Python ints"),
])
def test_build_errors_get_the_hint_of_their_cause(build, message):
    with pytest.raises(CheckFailed, match=message) as info:
        check_dot_model(build)
    assert info.value.__context__ is None


def elementwise_ops(n_users, n_items, dim):
    user, item = _inputs()
    u = keras.layers.Embedding(n_users, dim)(user)
    i = keras.layers.Embedding(n_items, dim)(item)
    return keras.Model([user, item], u * i)


@pytest.mark.parametrize("build", [elementwise, elementwise_ops])
def test_product_not_summed_is_named_not_flatten(build):
    """Multiply without a sum used to get the Flatten advice of (batch, 1, dim) inputs."""
    with pytest.raises(CheckFailed) as info:
        check_dot_model(build)
    message = str(info.value)
    assert message.startswith("the model outputs the element-wise product u * v, one number "
                              "per factor: its output shape is (None, 4)")
    assert "summed over the k factors" in message
    assert "keras.layers.Dot(axes=1)([u, v]), or keras.ops.sum(u * v, axis=-1" in message
    assert "Flatten" not in message


def summed_without_keepdims(n_users, n_items, dim):
    user, item = _inputs()
    u = keras.layers.Embedding(n_users, dim)(user)
    i = keras.layers.Embedding(n_items, dim)(item)
    return keras.Model([user, item], keras.ops.sum(u * i, axis=1))


def test_output_of_shape_batch_is_refused(capsys):
    """Walkthrough: ops.sum(p * q, axis=1) gave (batch,) and a ✓ line saying (batch, 1)."""
    with pytest.raises(CheckFailed) as info:
        check_dot_model(summed_without_keepdims)
    message = str(info.value)
    assert message.startswith("the model's output has shape (batch,): one number per example, "
                              "but the exercise asks for shape (batch, 1)")
    assert "keepdims=True" in message and "keras.layers.Dot(axes=1)" in message
    assert "✓" not in capsys.readouterr().out  # no ✓ line claiming "output (batch, 1)"


def numpy_sum(n_users, n_items, dim):
    user, item = _inputs()
    u = keras.layers.Embedding(n_users, dim)(user)
    i = keras.layers.Embedding(n_items, dim)(item)
    return keras.Model([user, item], np.sum(u * i, axis=1, keepdims=True))


def test_numpy_on_keras_tensors_is_named():
    """Walkthrough: np.sum on KerasTensors raised 'A KerasTensor is symbolic' + a generic hint."""
    with pytest.raises(CheckFailed) as info:
        check_dot_model(numpy_sum)
    message = str(info.value)
    assert "raised ValueError: A KerasTensor is symbolic" in message
    assert message.splitlines()[-1].startswith("Hint: use keras.ops.* / keras.layers.*, not "
                                               "np.* (the inputs are symbolic), e.g. "
                                               "keras.layers.Dot(axes=1)")
    assert info.value.__context__ is None
