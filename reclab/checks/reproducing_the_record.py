"""Self-checks for ``08_reproducing_the_record``: local kernel, masked loss, selection, the bar.

:func:`check_local_kernel` calls the student's ``local_kernel(u, v)`` on hand-made vectors
(and under a gradient tape, where NumPy code would break); :func:`check_masked_half_sse`
checks GLocal-K's reconstruction loss, half the *sum* of the squared errors over the observed
entries; :func:`check_selection_gap` checks the test-selected vs validation-selected RMSE of
two per-epoch curves; :func:`check_test_rmse` holds the notebook's best model to its bar.

Example:
    >>> check_test_rmse([4, 3, 5], [3.8, 3.4, 4.1], max_rmse=1.0)  # doctest: +ELLIPSIS
    ✓ ...
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

import numpy as np

from reclab.checks import call_student, fail, first_line, passed, shorten
from reclab.checks.biased_mf import check_test_rmse
from reclab.checks.deep_recommender import (  # 03's batch: same masked-loss cases
    _Y_PRED,
    _Y_TRUE,
    masked_gradient_leak,
)

__all__ = ["check_local_kernel", "check_masked_half_sse", "check_selection_gap",
           "check_test_rmse"]

# ------------------------------------------------------------------------------------------
# exercise 1: the local kernel

_U = np.array([[0.0, 0.0], [0.5, 0.0], [2.0, 1.0]], dtype="float32")
_V = np.array([[0.0, 0.0], [0.0, 0.5], [1.0, 0.0], [0.3, 0.4]], dtype="float32")


def _kernel_reference(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    d2 = ((u[:, None, :] - v[None, :, :]) ** 2).sum(-1)
    return np.maximum(0.0, 1.0 - d2)


def _to_numpy(value: Any) -> np.ndarray:
    import keras

    return np.asarray(keras.ops.convert_to_numpy(value), dtype=float)


def _kernel_diagnosis(got: np.ndarray, u: np.ndarray, v: np.ndarray) -> str | None:
    d2 = ((u[:, None, :] - v[None, :, :]) ** 2).sum(-1)
    wrong = {
        "negative values: clip at 0 with keras.ops.maximum(0.0, 1.0 - squared_distance).":
            1.0 - d2,
        "it uses the distance ||u_i - v_j||, not its square: drop the square root.":
            np.maximum(0.0, 1.0 - np.sqrt(d2)),
        "it returns the squared distances themselves: the kernel is max(0, 1 - distance²).": d2,
        "it uses exp(-distance²) (a Gaussian kernel); GLocal-K's kernel is max(0, 1 - distance²).":
            np.exp(-d2),
        "the cross term of ||u_i - v_j||² = ||u_i||² + ||v_j||² - 2 u_i·v_j needs its factor 2.":
            np.maximum(0.0, 1.0 - (d2 + u @ v.T)),
        "the cross term of ||u_i - v_j||² = ||u_i||² + ||v_j||² - 2 u_i·v_j is subtracted.":
            np.maximum(0.0, 1.0 - (d2 + 4 * (u @ v.T))),
        "the squared norms are summed over every entry of u and of v (one number each): sum "
        "over the coordinates only, keras.ops.sum(u**2, axis=1)[:, None] (and v's as a row).":
            np.maximum(0.0, 1.0 - ((u**2).sum() + (v**2).sum() - 2 * (u @ v.T))),
    }
    for hint, value in wrong.items():
        if value.shape == got.shape and np.allclose(got, value, atol=1e-4):
            return hint
    if got.shape == d2.T.shape:
        return ("the result is transposed: rows belong to u (inputs), columns to v (outputs): "
                "matmul(u, transpose(v)), ||u_i||² as a column, ||v_j||² as a row.")
    return None


def _fmt(values: Any) -> str:
    """Nested lists of numbers without float noise (0.30000001192092896 -> 0.3)."""
    if isinstance(values, np.ndarray | list | tuple):
        return "[" + ", ".join(_fmt(x) for x in values) + "]"
    return f"{float(values):.4g}"


def _explain_kernel_error(exc: BaseException) -> str | None:
    """A hint for ||u_i||² and ||v_j||² added as two vectors (no [:, None] / [None, :])."""
    match = re.search(r"Incompatible shapes: (\[[^\]]*\] vs\. \[[^\]]*\])", str(exc))
    if match is None:
        return None
    return (f"local_kernel(u, v) with u of shape {_U.shape} and v of shape {_V.shape}: "
            f"{type(exc).__name__}, incompatible shapes {match.group(1)}: the squared norms "
            "do not broadcast to one value per pair (3 x 4).\n"
            "Hint: make ||u_i||² a column and ||v_j||² a row: "
            "keras.ops.sum(u**2, axis=1)[:, None] + keras.ops.sum(v**2, axis=1)[None, :].")


def check_local_kernel(local_kernel: Callable[[Any, Any], Any]) -> None:
    """Check ``local_kernel(u, v)`` = max(0, 1 - ||u_i - v_j||²), shape (len(u), len(v)).

    Hand-made vectors in 2 dimensions with distances inside and outside the unit ball;
    random 5-dimensional vectors; the gradient must reach ``u`` and ``v`` (TensorFlow
    tensors, so the function must use ``keras.ops``), and be 0 where the kernel is 0.
    """
    __tracebackhide__ = True
    import keras

    if not callable(local_kernel):
        fail(f"pass the function itself (got a {type(local_kernel).__name__}).")
    got = _to_numpy(call_student(local_kernel, "local_kernel", keras.ops.convert_to_tensor(_U),
                                 keras.ops.convert_to_tensor(_V), explain=_explain_kernel_error))
    want = _kernel_reference(_U, _V)
    if got.shape != want.shape:
        fail(f"local_kernel(u, v) with u of shape {_U.shape} and v of shape {_V.shape} returned "
             f"shape {got.shape}; expected {want.shape} (one value per pair: len(u) x len(v)).",
             _kernel_diagnosis(got, _U, _V)
             or "expand ||u_i||² + ||v_j||² - 2 u_i·v_j: row sums of u², of v², and u @ v.T.")
    if not np.allclose(got, want, atol=1e-5):
        i, j = np.unravel_index(np.abs(got - want).argmax(), want.shape)
        fail(f"u = {_fmt(_U)}, v = {_fmt(_V)}: entry ({i}, {j}) is {got[i, j]:.4g}, "
             f"expected {want[i, j]:.4g} = max(0, 1 - ||u_{i} - v_{j}||²).",
             _kernel_diagnosis(got, _U, _V))
    passed("local_kernel gives max(0, 1 - ||u_i - v_j||²), one value per (input, output) pair")
    rng = np.random.default_rng(0)
    u5, v5 = (rng.normal(scale=0.4, size=(7, 5)).astype("float32"),
              rng.normal(scale=0.4, size=(3, 5)).astype("float32"))
    got5 = _to_numpy(call_student(local_kernel, "local_kernel", keras.ops.convert_to_tensor(u5),
                                  keras.ops.convert_to_tensor(v5)))
    if got5.shape != (7, 3) or not np.allclose(got5, _kernel_reference(u5, v5), atol=1e-5):
        fail("with 5-dimensional vectors (u: 7 x 5, v: 3 x 5) the result is wrong: sum the "
             "squared differences over the last axis, whatever its length.")
    import tensorflow as tf

    u_var, v_var = tf.Variable(_U), tf.Variable(_V)
    try:
        with tf.GradientTape() as tape:
            total = tf.reduce_sum(local_kernel(u_var, v_var))
        grads = tape.gradient(total, [u_var, v_var])
    except Exception:
        grads = [None, None]
    if any(g is None for g in grads):
        fail("local_kernel is not differentiable with respect to u and v (no gradient).",
             "compute it with keras.ops, not numpy, so TensorFlow can train u and v.")
    passed("5-dimensional vectors work, and u and v get gradients")


# ------------------------------------------------------------------------------------------
# exercise 2: the masked reconstruction loss

def _loss_diagnosis(value: float, y_true: np.ndarray, y_pred: np.ndarray) -> str | None:
    mask = y_true != 0
    sq = (y_true - y_pred) ** 2
    observed = sq[mask].mean() if mask.any() else 0.0
    mean_hint = ("this is a mean{}; the loss is half the SUM of squared errors over the observed "
                 "entries, so that GLocal-K's penalties (λ = 20, 0.006) keep their weight: "
                 "0.5 * keras.ops.sum(mask * (y_true - y_pred) ** 2).")
    wrong = {
        mean_hint.format(" over the observed entries (03's masked_mse)"): float(observed),
        mean_hint.format(" (½ × the mean over the observed entries)"): float(0.5 * observed),
        mean_hint.format(" over all entries (keras.ops.mean)"): float((sq * mask).mean()),
        mean_hint.format(" (½ × keras.ops.mean over all entries)"): float(0.5 * (sq * mask).mean()),
        "this is the sum without the factor ½: return 0.5 * the masked sum.":
            float(sq[mask].sum()),
        "the unobserved entries (0) count as ratings of 0 stars: multiply the squared errors "
        "by the mask of y_true != 0.": float(0.5 * sq.sum()),
        "the mask is taken from y_pred instead of y_true: 0 in y_true marks the unobserved "
        "ratings.": float(0.5 * (sq * (y_pred != 0)).sum()),
        "this sums the absolute errors: square them instead, 0.5 * keras.ops.sum(mask * "
        "(y_true - y_pred) ** 2).": float(0.5 * np.abs(y_true - y_pred)[mask].sum()),
    }
    for hint, wrong_value in wrong.items():
        if math.isclose(value, wrong_value, rel_tol=1e-4, abs_tol=1e-5):
            return hint
    return None


def _explain_mask_dtype(exc: BaseException) -> str | None:
    """A hint for a boolean (or integer) mask mixed with float errors."""
    text = str(exc)
    if ("int32" in text or "bool" in text) and ("dtype" in text or "expected" in text):
        shown = shorten(first_line(exc), 80)
        return (f"calling masked_half_sse raised {shown}: the mask is boolean (or integer), "
                "the errors float32.\n"
                "Hint: mask = keras.ops.cast(keras.ops.not_equal(y_true, 0), y_pred.dtype).")
    return None


def check_masked_half_sse(masked_half_sse: Callable[[Any, Any], Any]) -> None:
    """Check ``masked_half_sse(y_true, y_pred)`` = ½ Σ over y_true != 0 of (y_true − y_pred)².

    Hand-made batches (some entries unobserved, an empty row, an empty batch that must give
    0); the gradient with respect to ``y_pred`` must be 0 on unobserved entries.
    """
    __tracebackhide__ = True
    import keras

    if not callable(masked_half_sse):
        fail(f"pass the function itself (got a {type(masked_half_sse).__name__}).")
    cases = (("a batch with unobserved entries (0) and an empty row", _Y_TRUE, _Y_PRED),
             ("a batch with no observed entry", np.zeros((2, 3), "float32"),
              np.ones((2, 3), "float32")))
    for case, y_true, y_pred in cases:
        out = call_student(masked_half_sse, "masked_half_sse",
                           keras.ops.convert_to_tensor(y_true), keras.ops.convert_to_tensor(y_pred),
                           explain=_explain_mask_dtype)
        value = _to_numpy(out)
        if value.shape != ():
            fail(f"{case}: masked_half_sse returned shape {value.shape}; it should return one "
                 "number for the whole batch.", "sum over both axes: keras.ops.sum(...).")
        mask = y_true != 0
        want = float(0.5 * ((y_true - y_pred) ** 2)[mask].sum())
        if not math.isclose(float(value), want, rel_tol=1e-4, abs_tol=1e-5):
            fail(f"{case}: y_true = {_fmt(y_true)}, y_pred = {_fmt(y_pred)}: "
                 f"masked_half_sse returns {float(value):.5g}, expected {want:.5g} (half the sum "
                 f"of the squared errors over the {int(mask.sum())} observed entries).",
                 _loss_diagnosis(float(value), y_true, y_pred))
    passed("masked_half_sse is half the sum of the squared errors over the observed entries")
    leak = masked_gradient_leak(masked_half_sse, "masked_half_sse",
                                "compute it with keras.ops, not numpy.")
    if leak > 1e-7:
        fail(f"the gradient reaches unobserved entries (up to {leak:.3g}).",
             "multiply the squared errors by the mask before summing.")
    passed("unobserved entries get no gradient")


# ------------------------------------------------------------------------------------------
# exercise 3: the selection gap


def _explain_gap_error(exc: BaseException) -> str | None:
    """A hint for the curves indexed with the 1-based epoch (one past the end)."""
    if isinstance(exc, IndexError):
        return (f"calling selection_gap raised {first_line(exc)}: the curve is indexed with the "
                "1-based epoch (test_curve[5] for 5 epochs).\n"
                "Hint: index with the 0-based np.argmin(...); add 1 only to the reported epochs.")
    return None


def check_selection_gap(selection_gap: Callable[[Any, Any], Any]) -> None:
    """Check ``selection_gap(valid_curve, test_curve)`` on hand-made per-epoch curves.

    The validation minimum is at epoch 3 and the test minimum at epoch 5: the result must
    hold the test RMSE at epoch 3, the test minimum, their difference and both epochs
    counted from 1. A second case where both minima coincide must give a gap of 0.
    """
    __tracebackhide__ = True
    valid = [0.95, 0.92, 0.90, 0.91, 0.93]
    test = [0.97, 0.93, 0.915, 0.912, 0.905]
    want = {"validation_selected": 0.915, "test_selected": 0.905, "gap": 0.010,
            "valid_epoch": 3, "test_epoch": 5}
    got = call_student(selection_gap, "selection_gap", valid, test, explain=_explain_gap_error)
    if not isinstance(got, dict):
        fail(f"selection_gap should return a dict, got a {type(got).__name__}.")
    missing = sorted(set(want) - set(got))
    if missing:
        fail(f"the dict misses the key(s) {missing}; it has {sorted(got)}.")
    for key, value in want.items():
        try:
            number = float(got[key])
        except (TypeError, ValueError):
            fail(f"{key!r} should be a number, got {got[key]!r}.")
        if not math.isclose(number, value, abs_tol=1e-9):
            hint = None
            argmax = {"validation_selected": test[int(np.argmax(valid))],
                      "test_selected": max(test), "valid_epoch": int(np.argmax(valid)) + 1,
                      "test_epoch": int(np.argmax(test)) + 1}
            if key in argmax and math.isclose(number, argmax[key], abs_tol=1e-9):
                hint = ("that comes from the epoch of the *largest* RMSE (np.argmax); the best "
                        "epoch has the smallest RMSE: np.argmin.")
            elif key == "validation_selected" and math.isclose(number, test[3]):
                hint = ("that is test_curve[3], the epoch after the validation minimum: index the "
                        "curve with the 0-based np.argmin(valid_curve), add 1 only to the epoch.")
            elif key.endswith("epoch") and math.isclose(number, value - 1):
                hint = "np.argmin counts from 0; epochs are counted from 1: add 1."
            elif key == "validation_selected" and math.isclose(number, 0.90):
                hint = ("that is the validation RMSE at its best epoch; report the *test* RMSE "
                        "at that epoch.")
            elif key == "gap" and math.isclose(number, -0.010):
                hint = "the gap is validation-selected minus test-selected (it is never < 0)."
            fail(f"with validation curve {valid} and test curve {test}: {key!r} is "
                 f"{number:.4g}, expected {value:.4g}.", hint)
    same = call_student(selection_gap, "selection_gap", [0.9, 0.8, 0.85], [0.95, 0.85, 0.9])
    if not math.isclose(float(same.get("gap", np.nan)), 0.0, abs_tol=1e-9):
        fail("when both curves have their minimum at the same epoch the gap should be 0; got "
             f"{same.get('gap')!r}.")
    passed("selection_gap: validation-selected 0.915 (epoch 3), test-selected 0.905 (epoch 5)")
