"""The self-checks of 08_reproducing_the_record accept right answers and explain wrong ones."""

from __future__ import annotations

import numpy as np
import pytest

from reclab.checks import CheckFailed
from reclab.checks.reproducing_the_record import (
    check_local_kernel,
    check_masked_half_sse,
    check_selection_gap,
    check_test_rmse,
)
from reclab.reproducibility import quiet_tensorflow

quiet_tensorflow()
from keras import ops  # noqa: E402  (after quiet_tensorflow, so TensorFlow starts silently)

# ---------------------------------------------------------------------------- local kernel


def kernel_right(u, v):
    return ops.maximum(0.0, 1.0 - ops.sum((u[:, None, :] - v[None, :, :]) ** 2, axis=-1))


def kernel_expanded(u, v):
    d2 = (ops.sum(u**2, axis=1)[:, None] + ops.sum(v**2, axis=1)[None, :]
          - 2 * ops.matmul(u, ops.transpose(v)))
    return ops.maximum(0.0, 1.0 - d2)


def kernel_cross_once(u, v):
    d2 = (ops.sum(u**2, axis=1)[:, None] + ops.sum(v**2, axis=1)[None, :]
          - ops.matmul(u, ops.transpose(v)))
    return ops.maximum(0.0, 1.0 - d2)


def kernel_cross_added(u, v):
    d2 = (ops.sum(u**2, axis=1)[:, None] + ops.sum(v**2, axis=1)[None, :]
          + 2 * ops.matmul(u, ops.transpose(v)))
    return ops.maximum(0.0, 1.0 - d2)


def kernel_no_clip(u, v):
    return 1.0 - ops.sum((u[:, None, :] - v[None, :, :]) ** 2, axis=-1)


def kernel_distance(u, v):
    return ops.maximum(0.0, 1.0 - ops.sqrt(ops.sum((u[:, None, :] - v[None, :, :]) ** 2, -1)))


def kernel_transposed(u, v):
    return ops.transpose(kernel_right(u, v))


def kernel_gaussian(u, v):
    return ops.exp(-ops.sum((u[:, None, :] - v[None, :, :]) ** 2, axis=-1))


def kernel_norms_unshaped(u, v):
    # ||u_i||² (3,) + ||v_j||² (4,): no [:, None] / [None, :], so they do not broadcast
    d2 = ops.sum(u**2, axis=1) + ops.sum(v**2, axis=1) - 2 * ops.matmul(u, ops.transpose(v))
    return ops.maximum(0.0, 1.0 - d2)


def kernel_norms_summed_over_all(u, v):
    d2 = ops.sum(u**2) + ops.sum(v**2) - 2 * ops.matmul(u, ops.transpose(v))
    return ops.maximum(0.0, 1.0 - d2)


def kernel_plus_noise(u, v):
    return kernel_right(u, v) + 0.3


def test_local_kernel_message_has_no_float_noise():
    with pytest.raises(CheckFailed) as info:
        check_local_kernel(kernel_plus_noise)
    assert "[0.3, 0.4]" in str(info.value)
    assert "0.3000000" not in str(info.value)


def kernel_numpy(u, v):
    u, v = np.asarray(u), np.asarray(v)
    return np.maximum(0.0, 1.0 - ((u[:, None, :] - v[None, :, :]) ** 2).sum(-1))


def kernel_stub(u, v):
    raise NotImplementedError


@pytest.mark.parametrize("right", [kernel_right, kernel_expanded])
def test_local_kernel_accepts_right_answers(right, capsys):
    check_local_kernel(right)
    assert "✓" in capsys.readouterr().out


@pytest.mark.parametrize(("wrong", "says"), [
    (kernel_no_clip, "clip at 0"),
    (kernel_distance, "not its square"),
    (kernel_transposed, "transposed"),
    (kernel_gaussian, "Gaussian"),
    (kernel_cross_once, "factor 2"),
    (kernel_cross_added, "is subtracted"),
    (kernel_numpy, "keras.ops"),
    (kernel_norms_summed_over_all, r"(?s)summed over every entry.*axis=1"),
    (kernel_norms_unshaped, r"(?s)incompatible shapes \[3\] vs\. \[4\].*"
                            r"\|\|u_i\|\|² a column and \|\|v_j\|\|² a row.*\[:, None\]"),
    (kernel_stub, "not written yet"),
    ("not a function", "function itself"),
])
def test_local_kernel_explains_wrong_answers(wrong, says):
    with pytest.raises(CheckFailed, match=says):
        check_local_kernel(wrong)


# ------------------------------------------------------------------------- masked half SSE


def sse_right(y_true, y_pred):
    mask = ops.cast(ops.not_equal(y_true, 0), y_pred.dtype)
    return 0.5 * ops.sum(mask * (y_true - y_pred) ** 2)


def sse_where(y_true, y_pred):
    return 0.5 * ops.sum(ops.where(ops.not_equal(y_true, 0), (y_true - y_pred) ** 2, 0.0))


def sse_mean(y_true, y_pred):
    mask = ops.cast(ops.not_equal(y_true, 0), y_pred.dtype)
    return ops.sum(mask * (y_true - y_pred) ** 2) / ops.maximum(ops.sum(mask), 1.0)


def sse_abs(y_true, y_pred):
    mask = ops.cast(ops.not_equal(y_true, 0), y_pred.dtype)
    return 0.5 * ops.sum(mask * ops.abs(y_true - y_pred))


def sse_no_half(y_true, y_pred):
    mask = ops.cast(ops.not_equal(y_true, 0), y_pred.dtype)
    return ops.sum(mask * (y_true - y_pred) ** 2)


def sse_unmasked(y_true, y_pred):
    return 0.5 * ops.sum((y_true - y_pred) ** 2)


def sse_mask_from_pred(y_true, y_pred):
    mask = ops.cast(ops.not_equal(y_pred, 0), y_pred.dtype)
    return 0.5 * ops.sum(mask * (y_true - y_pred) ** 2)


def sse_per_row(y_true, y_pred):
    mask = ops.cast(ops.not_equal(y_true, 0), y_pred.dtype)
    return 0.5 * ops.sum(mask * (y_true - y_pred) ** 2, axis=1)


def sse_mean_all(y_true, y_pred):
    mask = ops.cast(ops.not_equal(y_true, 0), y_pred.dtype)
    return ops.mean(mask * (y_true - y_pred) ** 2)


def sse_half_mean_all(y_true, y_pred):
    mask = ops.cast(ops.not_equal(y_true, 0), y_pred.dtype)
    return 0.5 * ops.mean(mask * (y_true - y_pred) ** 2)


def sse_half_mean_observed(y_true, y_pred):
    mask = ops.cast(ops.not_equal(y_true, 0), y_pred.dtype)
    return 0.5 * ops.sum(mask * (y_true - y_pred) ** 2) / ops.maximum(ops.sum(mask), 1.0)


def sse_bool_mask(y_true, y_pred):
    mask = ops.not_equal(y_true, 0)                # boolean, never cast
    return 0.5 * ops.sum(mask * (y_true - y_pred) ** 2)


@pytest.mark.parametrize("right", [sse_right, sse_where])
def test_masked_half_sse_accepts_right_answers(right, capsys):
    check_masked_half_sse(right)
    assert "no gradient" in capsys.readouterr().out


@pytest.mark.parametrize(("wrong", "says"), [
    (sse_mean, r"this is a mean over the observed entries \(03's masked_mse\); the loss is half "
               "the SUM"),
    (sse_mean_all, r"this is a mean over all entries.*half the SUM of squared errors over the "
                   "observed entries"),
    (sse_half_mean_all, "this is a mean.*half the SUM"),
    (sse_half_mean_observed, "this is a mean.*half the SUM"),
    (sse_bool_mask, r"(?s)Cannot convert 0.5.*ops\.cast\(keras\.ops\.not_equal\(y_true, 0\), "
                    r"y_pred\.dtype\)"),
    (sse_no_half, "factor ½"),
    (sse_abs, "absolute errors: square them"),
    (sse_unmasked, "0 stars"),
    (sse_mask_from_pred, "from y_pred"),
    (sse_per_row, "one number"),
    (kernel_stub, "not written yet"),
])
def test_masked_half_sse_explains_wrong_answers(wrong, says):
    with pytest.raises(CheckFailed, match=says):
        check_masked_half_sse(wrong)


# -------------------------------------------------------------------------- selection gap


def gap_right(valid_curve, test_curve):
    valid_curve, test_curve = np.asarray(valid_curve), np.asarray(test_curve)
    v, t = int(np.argmin(valid_curve)), int(np.argmin(test_curve))
    return {"validation_selected": test_curve[v], "test_selected": test_curve[t],
            "gap": test_curve[v] - test_curve[t], "valid_epoch": v + 1, "test_epoch": t + 1}


def gap_zero_based(valid_curve, test_curve):
    out = gap_right(valid_curve, test_curve)
    return {**out, "valid_epoch": out["valid_epoch"] - 1, "test_epoch": out["test_epoch"] - 1}


def gap_valid_value(valid_curve, test_curve):
    return {**gap_right(valid_curve, test_curve), "validation_selected": min(valid_curve)}


def gap_negative(valid_curve, test_curve):
    out = gap_right(valid_curve, test_curve)
    return {**out, "gap": -out["gap"]}


def gap_missing_key(valid_curve, test_curve):
    out = gap_right(valid_curve, test_curve)
    del out["test_epoch"]
    return out


def gap_argmax(valid_curve, test_curve):
    valid_curve, test_curve = np.asarray(valid_curve), np.asarray(test_curve)
    v, t = int(np.argmax(valid_curve)), int(np.argmax(test_curve))
    return {"validation_selected": test_curve[v], "test_selected": test_curve[t],
            "gap": test_curve[v] - test_curve[t], "valid_epoch": v + 1, "test_epoch": t + 1}


def gap_one_based_index(valid_curve, test_curve):
    valid_curve, test_curve = np.asarray(valid_curve), np.asarray(test_curve)
    v, t = int(np.argmin(valid_curve)) + 1, int(np.argmin(test_curve)) + 1
    return {"validation_selected": test_curve[v], "test_selected": test_curve[t],
            "gap": test_curve[v] - test_curve[t], "valid_epoch": v, "test_epoch": t}


def gap_one_based_valid_index(valid_curve, test_curve):
    out = gap_right(valid_curve, test_curve)
    return {**out, "validation_selected": test_curve[out["valid_epoch"]]}


def test_selection_gap_accepts_the_right_answer(capsys):
    check_selection_gap(gap_right)
    assert "✓" in capsys.readouterr().out


@pytest.mark.parametrize(("wrong", "says"), [
    (gap_zero_based, "counts from 0"),
    (gap_valid_value, "report the \\*test\\* RMSE"),
    (gap_negative, "never < 0"),
    (gap_missing_key, "misses the key"),
    (gap_argmax, r"(?s)largest\* RMSE \(np\.argmax\).*np\.argmin"),
    (gap_one_based_index, r"(?s)IndexError.*1-based epoch.*0-based np\.argmin"),
    (gap_one_based_valid_index, r"(?s)is 0\.912, expected 0\.915.*0-based np\.argmin"),
    (lambda v, t: [1, 2], "return a dict"),
    (kernel_stub, "not written yet"),
])
def test_selection_gap_explains_wrong_answers(wrong, says):
    with pytest.raises(CheckFailed, match=says):
        check_selection_gap(wrong)


def test_quality_bar_fails_above_it():
    with pytest.raises(CheckFailed, match="above the bar"):
        check_test_rmse([4.0, 3.0, 5.0], [3.0, 4.0, 4.0], max_rmse=0.9)
