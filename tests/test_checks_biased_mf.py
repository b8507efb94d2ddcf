"""The self-checks of 02_biased_mf accept right answers and explain the usual wrong ones."""

from __future__ import annotations

import math

import numpy as np
import pytest

from reclab.checks import CheckFailed
from reclab.checks.biased_mf import check_biased_mf, check_sigmoid_range, check_test_rmse
from reclab.reproducibility import quiet_tensorflow

quiet_tensorflow()
import keras  # noqa: E402  (after quiet_tensorflow, so TensorFlow starts silently)
from keras import ops  # noqa: E402

# ------------------------------------------------------------------------------ sigmoid_range


def sigmoid_range_right(x, low, high):
    return low + (high - low) * ops.sigmoid(x)


def sigmoid_range_layer(x, low, high):
    return keras.layers.Rescaling(scale=high - low, offset=low)(keras.activations.sigmoid(x))


def sigmoid_range_plain(x, low, high):
    return ops.sigmoid(x)


def sigmoid_range_no_width(x, low, high):
    return low + high * ops.sigmoid(x)


def sigmoid_range_swapped(x, low, high):
    return high + (low - high) * ops.sigmoid(x)


def sigmoid_range_tanh(x, low, high):
    return low + (high - low) * ops.tanh(x)


def sigmoid_range_numpy(x, low, high):
    return low + (high - low) / (1 + np.exp(-np.asarray(x)))


def sigmoid_range_sums(x, low, high):
    return low + (high - low) * ops.sum(ops.sigmoid(x))


@pytest.mark.parametrize("fn", [sigmoid_range_right, sigmoid_range_layer])
def test_sigmoid_range_right_answers_pass(fn, capsys):
    check_sigmoid_range(fn)
    assert capsys.readouterr().out.count("✓") == 2


@pytest.mark.parametrize(
    ("fn", "message"),
    [
        (sigmoid_range_plain, r"sigmoid\(x\) itself"),
        (sigmoid_range_no_width, r"\*width\*"),
        (sigmoid_range_swapped, r"swapped"),
        (sigmoid_range_tanh, r"tanh"),
        (sigmoid_range_numpy, r"inside a Keras model.*\n.*keras.ops.sigmoid"),
        (sigmoid_range_sums, r"keep the shape"),
        (lambda x, low, high: None, r"returned None"),
    ],
)
def test_sigmoid_range_wrong_answers_fail_with_a_reason(fn, message):
    with pytest.raises(CheckFailed, match=message):
        check_sigmoid_range(fn)


def sigmoid_range_high_only(x, low, high):
    return high * ops.sigmoid(x)


def sigmoid_range_no_offset(x, low, high):
    return (high - low) * ops.sigmoid(x)


def sigmoid_range_half_tanh(x, low, high):
    return low + (high - low) * (ops.tanh(x) + 1) / 2


def sigmoid_range_clip(x, low, high):
    return ops.clip(x, low, high)


@pytest.mark.parametrize(
    ("fn", "computed"),
    [
        (sigmoid_range_plain, "sigmoid(x) itself"),
        (sigmoid_range_no_width, "low + high * sigmoid(x)"),
        (sigmoid_range_high_only, "high * sigmoid(x)"),
        (sigmoid_range_swapped, "high + (low - high) * sigmoid(x)"),
        (sigmoid_range_no_offset, "(high - low) * sigmoid(x)"),
        (sigmoid_range_tanh, "low + (high - low) * tanh(x)"),
        (sigmoid_range_half_tanh, r"low + (high - low) * (tanh(x) + 1) / 2"),
        (sigmoid_range_clip, "clip(x, low, high)"),
    ],
)
def test_sigmoid_range_hint_names_the_students_formula_then_the_right_one(fn, computed):
    """Walkthrough: "the output is (high - low) * sigmoid(x)" read like the instruction."""
    with pytest.raises(CheckFailed) as info:
        check_sigmoid_range(fn)
    hint = str(info.value).splitlines()[-1]
    assert hint.startswith(f"Hint: your function computes {computed}")
    assert "the range's formula is low + (high - low) * sigmoid(x)" in hint
    assert "the output is" not in hint


def test_sigmoid_range_stub_raises_not_implemented():
    def stub(x, low, high):
        raise NotImplementedError

    with pytest.raises(CheckFailed, match=r"^sigmoid_range is not written yet"):
        check_sigmoid_range(stub)


# ------------------------------------------------------------------------------ biased MF


def _offset(global_mean, low, high):
    p = (global_mean - low) / (high - low)
    return math.log(p / (1 - p))


def _skeleton(n_users, n_items, dim, body, dropout=0.0):
    """The template of the notebook: inputs and factor embeddings given, ``body`` completes."""
    user = keras.Input(shape=(), dtype="int32", name="user")
    item = keras.Input(shape=(), dtype="int32", name="item")
    p_u = keras.layers.Embedding(n_users, dim, name="user_factors")(user)
    q_i = keras.layers.Embedding(n_items, dim, name="item_factors")(item)
    if dropout:
        p_u = keras.layers.Dropout(dropout)(p_u)
        q_i = keras.layers.Dropout(dropout)(q_i)
    dot = ops.sum(p_u * q_i, axis=-1)
    return keras.Model([user, item], body(user, item, dot))


def _bias(n, name):
    return keras.layers.Embedding(n, 1, embeddings_initializer="zeros", name=name)


def mf_right(n_users, n_items, dim, global_mean, rating_range=(0.5, 5.5), dropout=0.0):
    low, high = rating_range

    def body(user, item, dot):
        b_u = ops.squeeze(_bias(n_users, "user_bias")(user), axis=-1)
        b_i = ops.squeeze(_bias(n_items, "item_bias")(item), axis=-1)
        return sigmoid_range_right(dot + b_u + b_i + _offset(global_mean, low, high), low, high)

    return _skeleton(n_users, n_items, dim, body, dropout)


def mf_right_column(n_users, n_items, dim, global_mean, rating_range=(0.5, 5.5)):
    """Biases kept as (batch, 1) columns and a (batch, 1) output: also right."""
    low, high = rating_range

    def body(user, item, dot):
        b_u = _bias(n_users, "user_bias")(user)
        b_i = _bias(n_items, "item_bias")(item)
        logit = keras.layers.Add()([ops.expand_dims(dot, -1), b_u, b_i])
        return sigmoid_range_right(logit + _offset(global_mean, low, high), low, high)

    return _skeleton(n_users, n_items, dim, body)


def _variant(kind):
    def build(n_users, n_items, dim, global_mean, rating_range=(0.5, 5.5)):
        low, high = rating_range
        offset = _offset(global_mean, low, high)

        def body(user, item, dot):
            b_u = ops.squeeze(_bias(n_users, "user_bias")(user), axis=-1)
            b_i = ops.squeeze(_bias(n_items, "item_bias")(item), axis=-1)
            if kind == "no_offset":
                return sigmoid_range_right(dot + b_u + b_i, low, high)
            if kind == "mean_not_logit":
                return sigmoid_range_right(dot + b_u + b_i + global_mean, low, high)
            if kind == "bias_after_sigmoid":
                return sigmoid_range_right(dot + offset, low, high) + b_u + b_i
            if kind == "no_dot":
                return sigmoid_range_right(b_u + b_i + offset + 0 * dot, low, high)
            if kind == "fixed_range":
                return sigmoid_range_right(dot + b_u + b_i + _offset(global_mean, 0.5, 5.5),
                                           0.5, 5.5)
            if kind == "no_sigmoid":
                return dot + b_u + b_i + global_mean
            raise AssertionError(kind)

        return _skeleton(n_users, n_items, dim, body)

    return build


def mf_unnamed(n_users, n_items, dim, global_mean, rating_range=(0.5, 5.5)):
    low, high = rating_range

    def body(user, item, dot):
        b_u = ops.squeeze(keras.layers.Embedding(n_users, 1)(user), axis=-1)
        b_i = ops.squeeze(keras.layers.Embedding(n_items, 1)(item), axis=-1)
        return sigmoid_range_right(dot + b_u + b_i + _offset(global_mean, low, high), low, high)

    return _skeleton(n_users, n_items, dim, body)


def mf_wide_bias(n_users, n_items, dim, global_mean, rating_range=(0.5, 5.5)):
    low, high = rating_range

    def body(user, item, dot):
        b_u = ops.sum(keras.layers.Embedding(n_users, dim, name="user_bias")(user), axis=-1)
        b_i = ops.squeeze(_bias(n_items, "item_bias")(item), axis=-1)
        return sigmoid_range_right(dot + b_u + b_i + _offset(global_mean, low, high), low, high)

    return _skeleton(n_users, n_items, dim, body)


def mf_bias_by_item(n_users, n_items, dim, global_mean, rating_range=(0.5, 5.5)):
    low, high = rating_range

    def body(user, item, dot):
        b_u = ops.squeeze(_bias(n_users, "user_bias")(item), axis=-1)
        b_i = ops.squeeze(_bias(n_items, "item_bias")(user), axis=-1)
        return sigmoid_range_right(dot + b_u + b_i + _offset(global_mean, low, high), low, high)

    return _skeleton(n_users, n_items, dim, body)


def mf_dense_head(n_users, n_items, dim, global_mean, rating_range=(0.5, 5.5)):
    low, high = rating_range

    def body(user, item, dot):
        b_u = ops.squeeze(_bias(n_users, "user_bias")(user), axis=-1)
        b_i = ops.squeeze(_bias(n_items, "item_bias")(item), axis=-1)
        offset = _offset(global_mean, low, high)
        logit = keras.layers.Dense(1)(ops.expand_dims(dot + b_u + b_i + offset, -1))
        return ops.squeeze(sigmoid_range_right(logit, low, high), -1)

    return _skeleton(n_users, n_items, dim, body)


@pytest.mark.parametrize("build", [mf_right, mf_right_column])
def test_biased_mf_right_models_pass(build, capsys):
    check_biased_mf(build, n_users=943, n_items=1650, dim=8)
    assert capsys.readouterr().out.count("✓") == 5


def test_biased_mf_with_dropout_passes():
    check_biased_mf(lambda *a, **k: mf_right(*a, dropout=0.5, **k))


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (_variant("no_offset"), r"global mean 3.5.*\n.*middle of the range"),
        (_variant("mean_not_logit"), r"global mean.*\n.*added global_mean itself"),
        (_variant("bias_after_sigmoid"), r"inside the sigmoid"),
        (_variant("no_dot"), r"dot product does not reach"),
        (_variant("fixed_range"), r"rating_range=\(1, 5\).*\n.*ignores rating_range"),
        (_variant("no_sigmoid"), r"all-zero|global mean|sigmoid_range"),
        (mf_unnamed, r"no Embedding layer named 'user_bias'.*have output_dim 1: name them"),
        (mf_wide_bias, r"'user_bias' has \(input_dim, output_dim\) = \(5, 3\)"),
        (mf_bias_by_item, r"failed.*\n.*own codes"),
        (mf_dense_head, r"also learns.*dense.*\n.*no Dense layer"),
        (lambda *a, **k: None, r"returned None"),
    ],
)
def test_biased_mf_wrong_models_fail_with_a_reason(build, message):
    with pytest.raises(CheckFailed, match=message):
        check_biased_mf(build, n_users=943, n_items=1650, dim=8)


def test_biased_mf_stub_raises_not_implemented():
    def stub(*args, **kwargs):
        raise NotImplementedError

    with pytest.raises(CheckFailed, match=r"^build_biased_mf is not written yet"):
        check_biased_mf(stub)


# ------------------------------------------------------------------------------ quality bar


def test_rmse_under_the_bar_passes(capsys):
    rng = np.random.default_rng(0)
    y = rng.integers(1, 6, 1000).astype(float)
    value = check_test_rmse(y, y + rng.normal(0, 0.5, 1000), max_rmse=0.94, name="m")
    assert 0.4 < value < 0.6
    assert "✓ m: test RMSE" in capsys.readouterr().out


def test_rmse_over_the_bar_fails_with_a_hint():
    y = np.array([1, 5, 1, 5], dtype=float)
    with pytest.raises(CheckFailed, match=r"above the bar.*\n.*constant"):
        check_test_rmse(y, np.full(4, 3.0), max_rmse=0.94)
    with pytest.raises(CheckFailed, match=r"above the bar.*\n.*loss curves"):
        check_test_rmse(y, np.array([5.0, 1.0, 5.0, 1.0]), max_rmse=0.94)


def test_rmse_wrong_length_and_nan_fail():
    with pytest.raises(CheckFailed, match=r"one prediction per test row"):
        check_test_rmse(np.ones(10), np.ones(9))
    with pytest.raises(CheckFailed, match=r"NaN"):
        check_test_rmse([1.0, 2.0], [np.nan, 2.0])
    check_test_rmse([1.0, 2.0], np.array([[1.0], [2.0]]), max_rmse=0.1)


def test_biased_mf_that_calls_an_unwritten_sigmoid_range_names_sigmoid_range():
    import keras

    def sigmoid_range(x, low, high):
        raise NotImplementedError

    def build_biased_mf(n_users, n_items, dim, global_mean, rating_range=(1.0, 5.0), **_):
        user = keras.Input(shape=(), dtype="int32", name="user")
        item = keras.Input(shape=(), dtype="int32", name="item")
        p_u = keras.layers.Embedding(n_users, dim, name="user_factors")(user)
        q_i = keras.layers.Embedding(n_items, dim, name="item_factors")(item)
        rating = sigmoid_range(keras.ops.sum(p_u * q_i, axis=-1), *rating_range)
        return keras.Model([user, item], rating)

    with pytest.raises(CheckFailed) as failure:
        check_biased_mf(build_biased_mf)
    message = str(failure.value)
    assert message.startswith("build_biased_mf calls sigmoid_range, which is not written yet")
    assert "finish the exercise that defines sigmoid_range" in message
    rendered = failure.value._render_traceback_()
    assert all(len(line) <= 100 + len("\x1b[1;31m\x1b[0m") for line in rendered)
    assert not any("Traceback" in line for line in rendered)


def test_biased_mf_with_default_initialised_biases_is_refused():
    def build(n_users, n_items, dim, global_mean, rating_range=(0.5, 5.5)):
        low, high = rating_range

        def body(user, item, dot):
            b_u = ops.squeeze(keras.layers.Embedding(n_users, 1, name="user_bias")(user), -1)
            b_i = ops.squeeze(keras.layers.Embedding(n_items, 1, name="item_bias")(item), -1)
            return sigmoid_range_right(dot + b_u + b_i + _offset(global_mean, low, high),
                                       low, high)

        return _skeleton(n_users, n_items, dim, body)

    with pytest.raises(CheckFailed, match=r"'user_bias' does not start at zero(.|\n)*zeros"):
        check_biased_mf(build)


def test_biased_mf_that_never_sets_rating_is_told_to_name_its_output_rating():
    def build_biased_mf(n_users, n_items, dim, global_mean, rating_range=(1.0, 5.0)):
        user = keras.Input(shape=(), dtype="int32", name="user")
        item = keras.Input(shape=(), dtype="int32", name="item")
        prediction = sigmoid_range_right(ops.sum(  # noqa: F841  (named prediction, not rating)
            keras.layers.Embedding(n_users, dim)(user)
            * keras.layers.Embedding(n_items, dim)(item), axis=-1), *rating_range)
        return keras.Model([user, item], rating, name="biased_mf")  # noqa: F821

    with pytest.raises(CheckFailed, match=r"variable named `rating`(.|\n)*rating = sigmoid_range"):
        check_biased_mf(build_biased_mf)


def test_missing_bias_layer_lists_each_layer_name_with_its_size():
    def build(n_users, n_items, dim, global_mean, rating_range=(0.5, 5.5)):
        low, high = rating_range

        def body(user, item, dot):
            b_u = ops.squeeze(_bias(n_users, "b_user")(user), axis=-1)
            b_i = ops.squeeze(_bias(n_items, "item_bias")(item), axis=-1)
            return sigmoid_range_right(dot + b_u + b_i + _offset(global_mean, low, high),
                                       low, high)

        return _skeleton(n_users, n_items, dim, body)

    with pytest.raises(CheckFailed, match=r"user_factors \(\d+, \d+\), item_factors \(\d+, \d+\), "
                       r"b_user \(\d+, 1\), item_bias \(\d+, 1\)"):
        check_biased_mf(build)


class _History:
    def __init__(self, val_rmse):
        self.history = {"val_rmse": list(val_rmse), "loss": list(val_rmse)}


def _spread_predictions():
    rng = np.random.default_rng(0)
    truth = rng.integers(1, 6, 500).astype(float)
    return truth, np.clip(truth + rng.normal(0, 1.2, 500), 1, 5)


def test_rmse_bar_missed_at_max_epochs_says_raise_max_epochs_not_patience():
    truth, pred = _spread_predictions()
    with pytest.raises(CheckFailed, match=r"stopped at max_epochs(.|\n)*raise max_epochs") as info:
        check_test_rmse(truth, pred, max_rmse=0.5, history=_History([1.0, 0.98, 0.97, 0.96]))
    assert "more patience would not help" in str(info.value)


def test_rmse_bar_missed_after_early_stopping_suggests_regularising_or_patience():
    truth, pred = _spread_predictions()
    with pytest.raises(CheckFailed, match=r"regularise more(.|\n)*more patience"):
        check_test_rmse(truth, pred, max_rmse=0.5, history=_History([1.0, 0.95, 0.96, 0.97]))


def test_rmse_check_with_models_never_trained_says_finish_the_exercises():
    truth, pred = _spread_predictions()
    with pytest.raises(CheckFailed, match=r"I-AutoRec, 100 units were never trained(.|\n)*"
                       r"finish every exercise above"):
        check_test_rmse(truth, pred, max_rmse=0.5, name="biased MF",
                        never_trained=["I-AutoRec, 500 units", "I-AutoRec, 100 units"])


# ------------------------------------------------------------------------------ session 4


def _walkthrough(kind):
    """The wrong answers of the session-4 student walkthrough, on the notebook's template."""

    def build(n_users, n_items, dim, global_mean, rating_range=(1.0, 5.0), **_):
        low, high = rating_range
        offset = _offset(global_mean, low, high)

        def body(user, item, dot):
            b_u = ops.squeeze(_bias(n_users, "user_bias")(user), axis=-1)
            b_i = ops.squeeze(_bias(n_items, "item_bias")(
                user if kind == "item_bias_of_user" else item), axis=-1)
            if kind == "item_bias_of_user":
                return sigmoid_range_right(dot + b_u + b_i + offset, low, high)
            if kind == "hard_coded_1_5":
                return sigmoid_range_right(dot + b_u + b_i + _offset(global_mean, 1, 5), 1, 5)
            if kind == "hard_coded_sigmoid_only":
                return sigmoid_range_right(dot + b_u + b_i + offset, 1.0, 5.0)
            if kind == "after_sigmoid_with_mean":
                return sigmoid_range_right(dot, low, high) + b_u + b_i + global_mean
            if kind == "after_sigmoid_shifted":
                return sigmoid_range_right(dot, low, high) + b_u + b_i + global_mean - (
                    low + high) / 2
            if kind == "item_bias_after_sigmoid":
                return sigmoid_range_right(dot + b_u + offset, low, high) + b_i
            raise AssertionError(kind)

        return _skeleton(n_users, n_items, dim, body)

    return build


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("item_bias_of_user", r"\nHint: the item bias looks up the user codes: apply the "
                              r"item_bias Embedding to the item input"),
        ("hard_coded_1_5", r"rating_range=\(0.5, 5.5\) and known(.|\n)*Hint: the model ignores "
                           r"rating_range: it uses the fixed range \(1, 5\)(.|\n)*low, high = "
                           r"rating_range"),
        ("hard_coded_sigmoid_only", r"all embeddings and biases at 0(.|\n)*Hint: the model "
                                    r"ignores rating_range: it uses the fixed range \(1, 5\)"),
        ("after_sigmoid_with_mean", r"all embeddings and biases at 0(.|\n)*Hint: b_u and b_i "
                                    r"\(and the global-mean offset\) are added after the "
                                    r"sigmoid(.|\n)*to the logit, inside the sigmoid"),
        ("after_sigmoid_shifted", r"known embeddings(.|\n)*Hint: b_u and b_i are added after the "
                                  r"sigmoid(.|\n)*add them to the logit"),
        ("item_bias_after_sigmoid", r"Hint: b_i is added after the sigmoid(.|\n)*add it to the "
                                    r"logit"),
    ],
)
def test_walkthrough_mistakes_get_their_own_hint(kind, message):
    """These got the generic formula hint (or only the offset hint) before."""
    with pytest.raises(CheckFailed, match=message) as info:
        check_biased_mf(_walkthrough(kind))
    assert "Hint: prediction = sigmoid_range(dot + b_u" not in str(info.value)


def test_no_sigmoid_at_all_is_named():
    with pytest.raises(CheckFailed, match=r"Hint: nothing is squashed(.|\n)*End with rating = "
                                          r"sigmoid_range"):
        check_biased_mf(_variant("no_sigmoid"))
