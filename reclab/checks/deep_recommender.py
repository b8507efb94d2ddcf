"""Self-checks for ``03_deep_recommender``: the MLP tower, AutoRec's masked loss, the bar.

:func:`check_mlp_recommender` builds the student's concatenation + MLP model on tiny sizes and
checks its layers (a ``Dense`` stack of the requested widths on the concatenated embeddings,
ReLU, dropout, one linear output), that all-zero dense weights predict the global mean and
that its output stays in the rating range. :func:`check_masked_mse` calls the student's
``masked_mse(y_true, y_pred)`` on hand-made tensors where 0 marks an unobserved rating,
checks that unobserved entries get no gradient, and that it trains as a Keras loss.
:func:`check_test_rmse` holds the notebook's best model to its bar on ``u1.test``.

Example:
    >>> check_test_rmse([4, 3, 5], [3.8, 3.4, 4.1], max_rmse=1.0)  # doctest: +ELLIPSIS
    ✓ ...
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from reclab.checks import CheckFailed, fail, first_line, model_layers, not_written_yet, passed
from reclab.checks.biased_mf import build_student_model, check_test_rmse

__all__ = ["check_masked_mse", "check_mlp_recommender", "check_test_rmse", "masked_gradient_leak"]


# ------------------------------------------------------------------------------------------
# exercise 1: the MLP tower


def _dense_layers(model: Any) -> list[Any]:
    import keras

    return model_layers(model, keras.layers.Dense)


def _dropout_rates(model: Any) -> list[float]:
    import keras

    return [float(layer.rate) for layer in model.layers if isinstance(layer, keras.layers.Dropout)]


def _activation_name(layer: Any) -> str:
    return getattr(layer.activation, "__name__", str(layer.activation))


def _next_ops(layer: Any) -> list[Any]:
    """The layers and operations that read ``layer``'s output in the graph (empty: unknown)."""
    return [node.operation for node in getattr(layer, "_outbound_nodes", None) or []]


def _is_relu(op: Any) -> bool:
    """A plain ReLU: keras.layers.ReLU(), Activation('relu'), keras.ops.relu or activations.relu."""
    if type(op).__name__ == "Activation":
        return getattr(op.activation, "__name__", "") == "relu"
    plain = (getattr(op, "max_value", None) is None and not getattr(op, "negative_slope", 0)
             and not getattr(op, "threshold", 0))
    return type(op).__name__ in ("ReLU", "Relu") and plain


def _hidden_activation(layer: Any) -> tuple[str, list[Any]]:
    """(activation of a hidden Dense, what reads its activated output).

    ``Dense(units)`` read by nothing but a ReLU counts as ``Dense(units, activation='relu')``.
    """
    after = _next_ops(layer)
    if _activation_name(layer) == "linear" and len(after) == 1 and _is_relu(after[0]):
        return "relu", _next_ops(after[0])
    return _activation_name(layer), after


def _concatenates_batch(model: Any) -> bool:
    """Whether a Concatenate layer of the model joins its inputs along axis 0, the batch."""
    import keras

    for layer in model_layers(model, keras.layers.Concatenate):
        try:
            ndim = len(layer.output.shape)
        except (AttributeError, ValueError):
            continue
        if layer.axis % ndim == 0:
            return True
    return False


def _check_dropout_places(dense: list[Any], rate: float) -> None:
    """Each hidden Dense (with its ReLU) must be read by a Dropout of ``rate``, as the text says."""
    __tracebackhide__ = True
    import keras

    for number, layer in enumerate(dense, 1):
        after = _hidden_activation(layer)[1]
        if after and not any(isinstance(op, keras.layers.Dropout) and math.isclose(op.rate, rate)
                             for op in after):
            names = ", ".join(f"{type(op).__name__} {op.name!r}" for op in after)
            fail(f"hidden Dense layer {number} (Dense({layer.units}), {layer.name!r}) is "
                 f"followed by {names}, not by "
                 f"Dropout({rate}): the text puts a Dropout right after each hidden Dense layer "
                 "(and its ReLU), not before it.",
                 "for units in hidden: x = Dense(units, activation='relu')(x), then "
                 "x = Dropout(dropout)(x); then Dense(1).")


def check_mlp_recommender(
    build_mlp: Callable[..., Any],
    n_users: int | None = None,
    n_items: int | None = None,
    dim: int = 64,
    hidden: tuple[int, ...] = (128, 64),
) -> None:
    """Check ``build_mlp(n_users, n_items, dim, global_mean, hidden=..., dropout=...)``.

    On tiny sizes (5 users, 7 items, dim 3, hidden (8, 4), dropout 0.25): the Dense layers
    have widths 8, 4, 1 and the first one reads ``2 * dim`` numbers (the concatenation of
    the two embeddings), hidden layers use ReLU and the last one is linear, each hidden
    layer is followed by a Dropout of the requested rate, the output is one rating per
    example, all-zero dense weights predict the global mean, and random weights stay in
    the rating range. With ``n_users``/``n_items`` it also counts the real model's parameters.
    """
    __tracebackhide__ = True
    import keras

    if not callable(build_mlp):
        fail(f"pass the function itself (got a {type(build_mlp).__name__}).")
    n_u, n_i, k, widths, rate, mu, (low, high) = 5, 7, 3, (8, 4), 0.25, 3.5, (1.0, 5.0)
    model = build_student_model(
        build_mlp, "build_mlp", n_u, n_i, k, mu, hidden=widths, dropout=rate,
        rating="rating = sigmoid_range(logit + offset, low, high)",
        hint="use keras.layers (Concatenate, Dense, Dropout) on the embedding outputs.")
    dense = _dense_layers(model)
    units = [layer.units for layer in dense]
    if units != [*widths, 1]:
        fail(
            f"with hidden={widths} the Dense layers should have widths {[*widths, 1]} (one "
            f"hidden layer per entry of `hidden`, then one output unit); they have {units}.",
            "for units in hidden: Dense(units, activation='relu') then Dropout(dropout); "
            "then Dense(1).",
        )
    first_in = dense[0].kernel.shape[0]
    if first_in != 2 * k and _concatenates_batch(model):
        fail(f"the first Dense layer reads {first_in} numbers per example instead of 2 × dim = "
             f"{2 * k}: Concatenate(axis=0) concatenates along the batch axis (it stacks the "
             "item vectors below the user vectors) instead of putting each pair side by side.",
             "concatenate along the last axis: keras.layers.Concatenate()([p_u, q_i]) "
             "(axis=-1, the default, or axis=1).")
    if first_in != 2 * k:
        hint = ("the embeddings were added or multiplied: concatenate them, "
                "keras.layers.Concatenate()([p_u, q_i])." if first_in == k else None)
        fail(f"the first Dense layer reads {first_in} numbers per example; it should read the "
             f"two embeddings side by side, 2 × dim = {2 * k}.", hint)
    for layer in dense[:-1]:
        if _hidden_activation(layer)[0] != "relu":
            fail(f"hidden Dense layer {layer.name!r} uses activation "
                 f"{_activation_name(layer)!r}; use 'relu'.",
                 "Dense(units, activation='relu') (or Dense(units) then keras.layers.ReLU()).")
    if _activation_name(dense[-1]) != "linear":
        fail(f"the output Dense layer uses activation {_activation_name(dense[-1])!r}; keep it "
             "linear (no activation): sigmoid_range comes after it, on the logit.")
    rates = [r for r in _dropout_rates(model) if math.isclose(r, rate)]
    if len(rates) < len(widths):
        fail(f"each hidden layer should be followed by Dropout({rate}); the model has "
             f"{len(rates)} Dropout layer(s) with rate {rate} (all rates: "
             f"{_dropout_rates(model)}).",
             "use the `dropout` argument: keras.layers.Dropout(dropout) after each hidden layer.")
    _check_dropout_places(dense[:-1], rate)
    shape = tuple(model.outputs[0].shape)
    if shape != (None,):
        fail(f"the model should output one rating per example, shape (batch,) as the text "
             f"asks; its output shape is {shape}.",
             "keras.ops.squeeze(keras.layers.Dense(1)(x), axis=-1) turns (batch, 1) into "
             "(batch,).")
    passed(f"Dense widths {[*widths, 1]} on the {2 * k} concatenated numbers, ReLU, "
           f"Dropout({rate}), a linear output")
    users, items = (a.ravel().astype("int32") for a in np.meshgrid(
        np.arange(n_u), np.arange(n_i), indexing="ij"))
    for layer in dense:
        layer.set_weights([np.zeros_like(w) for w in layer.get_weights()])
    try:
        out = model([users, items], training=False)
    except Exception as exc:
        fail(f"calling the model on [user codes, item codes] failed ({first_line(exc)}).")
    got = np.asarray(keras.ops.convert_to_numpy(out), dtype=float).reshape(len(users))
    if not np.allclose(got, mu, atol=1e-3):
        hint = ("the output is the middle of the range: add the global-mean offset "
                "logit((global_mean - low) / (high - low)) to the logit."
                if np.allclose(got, (low + high) / 2, atol=1e-3) else
                "prediction = sigmoid_range(logit + offset, low, high), with the offset of "
                "notebook 02.")
        fail(f"with all Dense weights at 0 the model should predict the global mean {mu:g}; "
             f"it predicts {got.mean():.4g}.", hint)
    rng = np.random.default_rng(0)
    for layer in dense:
        layer.set_weights([rng.normal(scale=3.0, size=w.shape).astype("float32")
                           for w in layer.get_weights()])
    got = np.asarray(keras.ops.convert_to_numpy(model([users, items], training=False)),
                     dtype=float).reshape(len(users))
    if got.min() < low - 1e-4 or got.max() > high + 1e-4:
        fail(f"with large weights the predictions reach {got.min():.3g}…{got.max():.3g}, "
             f"outside the rating range ({low:g}, {high:g}).",
             "end with sigmoid_range(logit + offset, low, high).")
    passed("all-zero dense weights predict the global mean; predictions stay in (1, 5)")
    if n_users is not None and n_items is not None:
        try:
            real = build_mlp(int(n_users), int(n_items), int(dim), mu, hidden=tuple(hidden))
        except Exception as exc:
            fail(f"build_mlp at full size raised {first_line(exc)}")
        sizes = [2 * int(dim), *hidden, 1]
        expected = (int(n_users) + int(n_items)) * int(dim) + sum(
            (a + 1) * b for a, b in itertools.pairwise(sizes))
        if real.count_params() != expected:
            fail(f"the real-size model has {real.count_params():,} parameters, expected "
                 f"{expected:,} (two embedding tables and the Dense stack {sizes}).")
        passed(f"real size: {expected:,} parameters")


# ------------------------------------------------------------------------------------------
# exercise 2: AutoRec's masked loss

_Y_TRUE = np.array([[4.0, 0.0, 5.0, 2.0],
                    [0.0, 0.0, 3.0, 1.0],
                    [0.0, 0.0, 0.0, 0.0]], dtype="float32")  # fmt: skip
_Y_PRED = np.array([[3.5, 2.0, 5.0, 4.0],
                    [1.0, 1.0, 2.0, 0.0],
                    [3.0, 3.0, 3.0, 3.0]], dtype="float32")  # fmt: skip


def _reference(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    mask = y_true != 0
    return float(((y_true - y_pred) ** 2)[mask].sum() / max(mask.sum(), 1))


def _call(masked_mse: Callable, y_true: np.ndarray, y_pred: np.ndarray, case: str) -> float:
    __tracebackhide__ = True
    import keras

    try:
        out = masked_mse(keras.ops.convert_to_tensor(y_true), keras.ops.convert_to_tensor(y_pred))
    except NotImplementedError as exc:
        raise CheckFailed(not_written_yet(exc, "masked_mse")) from None
    except Exception as exc:
        fail(f"{case}: masked_mse raised {first_line(exc)}",
             "use keras.ops on the two tensors (keras.ops.not_equal, keras.ops.cast, "
             "keras.ops.sum, keras.ops.maximum).")
    if out is None:
        fail("masked_mse returned None: did you forget `return`?")
    value = np.asarray(keras.ops.convert_to_numpy(out), dtype=float)
    if value.shape != ():
        fail(f"{case}: masked_mse returned shape {value.shape}; it should return one number "
             "for the whole batch (a scalar).",
             "sum the masked squared errors over both axes and divide by the number of "
             "observed entries.")
    return float(value)


def _diagnose(masked_mse_value: float, y_true: np.ndarray, y_pred: np.ndarray) -> str | None:
    mask = y_true != 0
    sq = (y_true - y_pred) ** 2
    counts = mask.sum(axis=1)
    per_row = (sq * mask).sum(axis=1)[counts > 0] / counts[counts > 0]
    wrong = {
        "this is the plain MSE over every entry: the unobserved entries (0) count as "
        "ratings of 0 stars. Multiply the squared errors by a mask of the observed ones.":
            float(sq.mean()),
        "the masked squared errors are divided by the number of *all* entries: divide by the "
        "number of observed entries (the sum of the mask).": float((sq * mask).mean()),
        "the loss is the sum of the masked squared errors: divide it by the number of observed "
        "entries, so that it does not depend on the batch size.": float((sq * mask).sum()),
        "the loss averages each row first, then the rows: rows with few ratings weigh as "
        "much as rows with many. Divide the total by the number of observed entries instead.":
            float(per_row.mean()) if per_row.size else float("nan"),
        "the loss averages each row first, then all the rows (empty rows count as 0): rows "
        "with few ratings weigh as much as rows with many. Divide the total by the number of "
        "observed entries instead.": float(per_row.sum() / len(y_true)),
        "the mask is taken from y_pred instead of y_true: 0 in y_true marks the unobserved "
        "ratings.": float((sq * (y_pred != 0)).sum() / max((y_pred != 0).sum(), 1)),
        "this averages the absolute errors: square them instead, (y_true - y_pred) ** 2 "
        "(the loss is a mean *squared* error).":
            float((np.abs(y_true - y_pred) * mask).sum() / max(mask.sum(), 1)),
    }
    for hint, value in wrong.items():
        if np.isfinite(value) and math.isclose(masked_mse_value, value, rel_tol=1e-4,
                                               abs_tol=1e-5):
            return hint
    return None


def masked_gradient_leak(loss: Callable[[Any, Any], Any], name: str, hint: str) -> float:
    """The largest gradient of ``loss(_Y_TRUE, y_pred)`` on the unobserved entries (0 if right).

    Fails (with ``hint``) when ``loss`` gives no gradient, e.g. NumPy code. 03's and 08's
    masked-loss checks share it, with the fixture ``_Y_TRUE`` / ``_Y_PRED``.

    Example:
        >>> import keras
        >>> masked_gradient_leak(lambda t, p: keras.ops.sum(p), "total", "")
        1.0
    """
    __tracebackhide__ = True
    import tensorflow as tf

    y_pred = tf.Variable(_Y_PRED)
    try:
        with tf.GradientTape() as tape:
            value = loss(tf.constant(_Y_TRUE), y_pred)
        grad = tape.gradient(value, y_pred)
    except Exception:
        grad = None
    if grad is None:
        fail(f"{name} is not differentiable with respect to y_pred (no gradient).", hint)
    return float(np.abs(grad.numpy()[_Y_TRUE == 0]).max())


def check_masked_mse(masked_mse: Callable[[Any, Any], Any]) -> None:
    """Check AutoRec's loss: mean squared error over the observed entries (``y_true != 0``).

    Hand-made cases: a batch with observed and unobserved entries and a row with none; a
    fully observed batch (it must equal the plain MSE); a batch with no observed entry (it
    must be 0, not NaN). Then the gradient with respect to ``y_pred`` must be 0 on
    unobserved entries, and the function must train a tiny model as a Keras loss.
    """
    __tracebackhide__ = True
    import keras

    if not callable(masked_mse):
        fail(f"pass the function itself (got a {type(masked_mse).__name__}).")
    cases = (
        ("a batch with some unobserved entries (0) and one empty row", _Y_TRUE, _Y_PRED),
        ("a fully observed batch", np.array([[1.0, 2.0], [3.0, 4.0]], dtype="float32"),
         np.array([[1.5, 2.0], [2.0, 4.5]], dtype="float32")),
    )
    for case, y_true, y_pred in cases:
        got = _call(masked_mse, y_true, y_pred, case)
        want = _reference(y_true, y_pred)
        if not math.isclose(got, want, rel_tol=1e-4, abs_tol=1e-5):
            fail(f"{case}: y_true = {y_true.tolist()}, y_pred = {y_pred.tolist()}: masked_mse "
                 f"returns {got:.5g}, expected {want:.5g} (the mean squared error over the "
                 f"{int((y_true != 0).sum())} observed entries).",
                 _diagnose(got, y_true, y_pred)
                 or "sum(mask * (y_true - y_pred)**2) / max(sum(mask), 1), with mask = "
                 "(y_true != 0) as floats.")
    leak = masked_gradient_leak(masked_mse, "masked_mse", "compute it with keras.ops, not "
                                "numpy, so TensorFlow can differentiate it.")
    if leak > 1e-7:
        fail(f"the gradient reaches unobserved entries (up to {leak:.3g}): the model would be "
             "trained to predict 0 stars for every unrated movie.",
             "multiply the squared errors by the mask before summing.")
    # NumPy code is caught above, before the empty batch: its NaN would hide the real issue
    empty = _call(masked_mse, np.zeros((2, 3), "float32"), np.ones((2, 3), "float32"),
                  "a batch with no observed entry")
    if not np.isfinite(empty) or abs(empty) > 1e-6:
        fail(f"a batch with no observed entry gives {empty}; it should give 0 (nothing to "
             "learn), never NaN.",
             "divide by keras.ops.maximum(number of observed entries, 1).")
    passed("masked_mse averages the squared errors over the observed entries only")
    passed("unobserved entries get no gradient")
    try:
        keras.utils.set_random_seed(0)
        x_in = keras.Input(shape=(4,))
        model = keras.Model(x_in, keras.layers.Dense(4)(x_in))
        model.compile(optimizer="adam", loss=masked_mse)
        history = model.fit(_Y_TRUE, _Y_TRUE, epochs=2, batch_size=2, verbose=0)
    except Exception as exc:
        fail(f"masked_mse fails as a Keras loss in model.fit ({first_line(exc)}).",
             "inside fit, y_true and y_pred are symbolic tensors: use keras.ops only.")
    if not np.all(np.isfinite(history.history["loss"])):
        fail("training a tiny model with masked_mse gives a NaN loss.",
             "a batch may have no observed entry: divide by keras.ops.maximum(count, 1).")
    passed("masked_mse trains a Keras model")
