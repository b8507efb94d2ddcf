"""Self-checks for ``02_biased_mf``: the sigmoid range, the biased MF model and its quality bar.

:func:`check_sigmoid_range` calls the student's ``sigmoid_range(x, low, high)`` on hand-made
logits (plain arrays, and inside a tiny Keras model, where NumPy code would break).
:func:`check_biased_mf` builds the student's model on tiny sizes, checks its inputs, its four
embedding tables (two factor tables, two bias tables), writes known values into them and
compares the output with ``low + (high - low) * sigmoid(logit(mu) + b_u + b_i + p_u . q_i)``
computed here with NumPy. :func:`check_test_rmse` holds the trained model to the notebook's
bar on ``u1.test``.

Example:
    >>> check_test_rmse([4, 3, 5], [3.8, 3.4, 4.1], max_rmse=1.0)  # doctest: +ELLIPSIS
    ✓ ...
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from reclab.checks import (
    CheckFailed,
    check_metric_bar,
    fail,
    first_line,
    model_layers,
    not_written_yet,
    passed,
)

__all__ = ["check_biased_mf", "check_sigmoid_range", "check_test_rmse"]


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _logit(p: float) -> float:
    return float(np.log(p / (1.0 - p)))


def _to_numpy(value: Any, what: str) -> np.ndarray:
    __tracebackhide__ = True
    import keras

    if value is None:
        fail(f"{what} returned None: did you forget `return`?")
    try:
        return np.asarray(keras.ops.convert_to_numpy(value), dtype=float)
    except Exception as exc:
        fail(f"{what} returned a {type(value).__name__} that cannot be read as numbers ({exc}).")
    raise AssertionError("unreachable")


# ------------------------------------------------------------------------------------------
# exercise 1: sigmoid_range


_SIGMOID_CASES = (
    # (logits, low, high)
    (np.array([-40.0, -2.0, 0.0, 1.0, 40.0]), 0.5, 5.5),
    (np.array([[-3.0, 0.5], [0.0, 2.0], [7.0, -0.25]]), 1.0, 5.0),
    (np.array([0.0, 10.0]), -1.0, 1.0),
)


def _diagnose_sigmoid(x: np.ndarray, got: np.ndarray, low: float, high: float) -> str | None:
    """A hint for the usual mistakes, found by comparing with what each mistake returns."""
    s = _sigmoid(x)
    formula = "the range's formula is low + (high - low) * sigmoid(x)"
    wrong = {
        f"your function computes sigmoid(x) itself; {formula}.": s,
        f"your function computes low + high * sigmoid(x); {formula}: scale the sigmoid by the "
        "*width* of the range, (high - low).": low + high * s,
        f"your function computes high * sigmoid(x); {formula}.": high * s,
        f"your function computes high + (low - high) * sigmoid(x): low and high are swapped; "
        f"{formula} (a large logit gives `high`).": high + (low - high) * s,
        f"your function computes (high - low) * sigmoid(x), which starts at 0, not at low; "
        f"{formula}.": (high - low) * s,
        "your function computes low + (high - low) * tanh(x), and tanh maps to (-1, 1); "
        f"{formula}, and keras.ops.sigmoid maps to (0, 1).": low + (high - low) * np.tanh(x),
        "your function computes low + (high - low) * (tanh(x) + 1) / 2, which is sigmoid(2x): "
        f"twice as steep; {formula}.": low + (high - low) * (np.tanh(x) + 1) / 2,
        "your function computes clip(x, low, high): flat outside the range and no squashing "
        f"inside (its gradient is 0 there); {formula}.": np.clip(x, low, high),
    }
    for hint, value in wrong.items():
        if value.shape == got.shape and np.allclose(got, value, atol=1e-4):
            return hint
    return None


def check_sigmoid_range(sigmoid_range: Callable[[Any, float, float], Any]) -> None:
    """Check ``sigmoid_range(x, low, high) = low + (high - low) * sigmoid(x)``.

    Three hand-made cases (including a 2-D input and a negative ``low``), then the same
    function inside a tiny Keras model, where it gets a symbolic tensor.
    """
    __tracebackhide__ = True
    import keras

    if not callable(sigmoid_range):
        fail(f"pass the function itself (got a {type(sigmoid_range).__name__}).")
    for x, low, high in _SIGMOID_CASES:
        call = f"sigmoid_range(x={x.tolist()}, low={low}, high={high})"
        try:
            out = sigmoid_range(keras.ops.convert_to_tensor(x.astype("float32")), low, high)
        except NotImplementedError as exc:
            raise CheckFailed(not_written_yet(exc, "sigmoid_range")) from None
        except Exception as exc:
            fail(f"{call} raised {type(exc).__name__}: {exc}",
                 "use keras.ops (keras.ops.sigmoid), which works on tensors.")
        got = _to_numpy(out, "sigmoid_range")
        if got.shape != x.shape:
            fail(f"{call} returned shape {got.shape}; it must keep the shape of x {x.shape}.",
                 "apply the function element by element: no sum, mean or reshape.")
        want = low + (high - low) * _sigmoid(x)
        if not np.allclose(got, want, atol=1e-4):
            hint = _diagnose_sigmoid(x, got, low, high)
            k = np.unravel_index(np.argmax(np.abs(got - want)), x.shape)
            fail(
                f"{call}: at x={x[k]:g} it returns {got[k]:.5g} instead of {want[k]:.5g}.",
                hint or "low + (high - low) * keras.ops.sigmoid(x): x = 0 gives the middle "
                "of the range, large x gives `high`, very negative x gives `low`.",
            )
    passed("sigmoid_range maps 0 to the middle of the range and large |x| to its ends")
    try:
        x_in = keras.Input(shape=(3,))
        model = keras.Model(x_in, sigmoid_range(x_in, 1.0, 5.0))
        got = _to_numpy(model(np.array([[-30.0, 0.0, 30.0]], dtype="float32")), "the model")
    except NotImplementedError as exc:
        raise CheckFailed(not_written_yet(exc, "sigmoid_range")) from None
    except Exception as exc:
        fail(
            f"sigmoid_range fails inside a Keras model ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else ''}).",
            "inside a model x is a symbolic tensor: use keras.ops.sigmoid, not numpy or math.",
        )
    if not np.allclose(got, [[1.0, 3.0, 5.0]], atol=1e-4):
        fail(f"inside a Keras model sigmoid_range(x, 1, 5) gives {got.round(4).tolist()} for "
             "x = [-30, 0, 30] instead of [1, 3, 5].")
    passed("sigmoid_range works on the symbolic tensors of a Keras model")


# ------------------------------------------------------------------------------------------
# exercise 2: the biased MF model


_HINT_BIAS = (
    "add two Embedding layers with output_dim 1 and embeddings_initializer='zeros', named "
    "'user_bias' (n_users rows) and 'item_bias' (n_items rows)."
)


def build_student_model(build: Callable, name: str, *args: Any, rating: str, hint: str,
                        **kwargs: Any) -> Any:
    """Call the student's model builder ``name``; fail with a message unless it gives a Model.

    ``rating`` is the line that sets the template's output variable (shown when the student's
    code never sets ``rating``); ``hint`` is shown for any other exception. Used by the
    checks of 02 and 03.

    Example:
        >>> build_student_model(lambda: None, "f", rating="", hint="")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        reclab.checks.CheckFailed: f() returned None: did you forget `return keras.Model(...)`?
    """
    __tracebackhide__ = True
    import keras

    call = (f"{name}({', '.join(map(repr, args))}"
            f"{', ' if kwargs and args else ''}"
            f"{', '.join(f'{k}={v!r}' for k, v in kwargs.items())})")
    try:
        model = build(*args, **kwargs)
    except NotImplementedError as exc:
        raise CheckFailed(not_written_yet(exc, name)) from None
    except Exception as exc:
        if isinstance(exc, NameError) and "'rating'" in str(exc):
            fail(f"{call} raised {first_line(exc)}: the template's last line returns a "
                 "variable named `rating`, and your code never sets it.",
                 f"name your output rating: {rating}.")
        fail(f"{call} raised {first_line(exc)}", hint)
    if model is None:
        fail(f"{call} returned None: did you forget `return keras.Model(...)`?")
    if not isinstance(model, keras.Model):
        fail(f"{call} should return a keras.Model, got {type(model).__name__}.")
    return model


def _build(build: Callable, *args: Any, **kwargs: Any) -> Any:
    __tracebackhide__ = True
    return build_student_model(
        build, "build_biased_mf", *args,
        rating="rating = sigmoid_range(dot + b_u + b_i + offset, low, high)",
        hint="inside the model use keras.ops and keras.layers, and sizes as Python ints.",
        **kwargs)


def _embeddings(model: Any) -> list[Any]:
    import keras

    return model_layers(model, keras.layers.Embedding)


def _find_layers(model: Any, n_users: int, n_items: int, dim: int) -> dict[str, Any]:
    """{'user_factors', 'item_factors', 'user_bias', 'item_bias'}: the four Embedding layers."""
    __tracebackhide__ = True
    layers = _embeddings(model)
    shapes = sorted((layer.input_dim, layer.output_dim) for layer in layers)
    by_name = {layer.name: layer for layer in layers}
    for name, rows in (("user_bias", n_users), ("item_bias", n_items)):
        layer = by_name.get(name)
        if layer is None:
            ones = [lay.name for lay in layers if lay.output_dim == 1]
            fail(
                f"the model has no Embedding layer named {name!r} (its Embedding layers, "
                f"name (input_dim, output_dim): "
                f"{', '.join(f'{lay.name} {(lay.input_dim, lay.output_dim)}' for lay in layers)}"
                + (f"; {ones} have output_dim 1: name them" if ones else "") + ").",
                _HINT_BIAS,
            )
        if (layer.input_dim, layer.output_dim) != (rows, 1):
            fail(
                f"{name!r} has (input_dim, output_dim) = ({layer.input_dim}, "
                f"{layer.output_dim}); a bias is one number per "
                f"{'user' if name == 'user_bias' else 'item'}: ({rows}, 1).",
                _HINT_BIAS,
            )
    factors = [lay for lay in layers if lay.output_dim == dim and lay.name not in
               ("user_bias", "item_bias")]  # fmt: skip
    user_f = [lay for lay in factors if lay.input_dim == n_users]
    item_f = [lay for lay in factors if lay.input_dim == n_items and lay not in user_f[:1]]
    if len(layers) != 4 or not user_f or not item_f:
        fail(
            f"a biased MF model has 4 Embedding layers: factors ({n_users}, {dim}) and "
            f"({n_items}, {dim}), biases ({n_users}, 1) and ({n_items}, 1); this one has "
            f"{len(layers)}: {shapes}.",
            "keep the two factor embeddings given in the template and add the two biases.",
        )
    found = {"user_factors": user_f[0], "item_factors": item_f[0],
             "user_bias": by_name["user_bias"], "item_bias": by_name["item_bias"]}
    for name in ("user_bias", "item_bias"):
        if np.any(np.asarray(found[name].get_weights()[0])):
            fail(f"{name!r} does not start at zero: the text asks for biases initialised to "
                 "zeros, so that the untrained model predicts exactly the global mean.",
                 "keras.layers.Embedding(n, 1, embeddings_initializer=\"zeros\", name=...).")
    extra = [w.path for w in model.trainable_weights
             if not any(w is layer.embeddings for layer in found.values())]
    if extra:
        fail(
            f"a biased MF model learns only its four embedding tables, but this one also "
            f"learns {extra}.",
            "no Dense layer here, and the global mean is a constant offset added to the logit "
            "(a Python float), not a weight.",
        )
    return found


def _check_io(model: Any) -> None:
    __tracebackhide__ = True
    inputs = getattr(model, "inputs", None) or []
    if len(inputs) != 2:
        fail(f"the model should have 2 inputs (user codes, item codes); it has {len(inputs)}.")
    if len(model.outputs) != 1:
        fail(f"the model should have one output; it has {len(model.outputs)}.")
    shape = tuple(model.outputs[0].shape)
    if shape not in ((None,), (None, 1)):
        fail(
            f"the model should output one rating per example, shape (batch,); its output "
            f"shape is {shape}.",
            "the dot product of two (batch, dim) vectors is (batch,) with "
            "keras.ops.sum(..., axis=-1); the bias embeddings are (batch, 1): "
            "keras.ops.squeeze(b, axis=-1) makes them (batch,).",
        )


def _predict(model: Any, users: np.ndarray, items: np.ndarray) -> np.ndarray:
    __tracebackhide__ = True
    import keras

    try:
        out = model([users.astype("int32"), items.astype("int32")], training=False)
    except Exception as exc:
        fail(f"calling the model on [user codes, item codes] failed ({type(exc).__name__}: "
             f"{str(exc).splitlines()[0] if str(exc) else ''}).",
             "look each table up with its own codes: the user tables with the first input "
             "(user), the item tables with the second (item).")
    return np.asarray(keras.ops.convert_to_numpy(out), dtype=float).reshape(len(users))


_FIXED_RANGES = ((1.0, 5.0), (0.5, 5.5))
"""Ranges a student may write as numbers instead of using the ``rating_range`` argument."""


def _set_tables(layers: dict[str, Any], columns: dict[str, float]) -> None:
    """All four tables to zero, except column 0 of the tables named in ``columns``."""
    for name, layer in layers.items():
        table = np.zeros((layer.input_dim, layer.output_dim), dtype="float32")
        table[:, 0] = columns.get(name, 0.0)
        layer.set_weights([table])


def _unsquashed(model: Any, layers: dict[str, Any], users: np.ndarray,
                items: np.ndarray) -> list[str]:
    """Which of b_u, b_i and the dot product move the rating by exactly their own value.

    Such a term is added after the sigmoid (or there is no sigmoid): inside it, a change of
    the logit by 1.5 or -2 moves the rating by a squashed, unequal amount.
    """
    __tracebackhide__ = True
    probes = {"b_u": {"user_bias": 1.0}, "b_i": {"item_bias": 1.0},
              "the dot product": {"user_factors": 1.0}}
    _set_tables(layers, {})
    base = _predict(model, users, items)
    found = []
    for what, tables in probes.items():
        linear = True
        for c in (1.5, -2.0):
            _set_tables(layers, {**{name: c * v for name, v in tables.items()},
                                 "item_factors": 1.0})
            linear &= bool(np.allclose(_predict(model, users, items) - base, c, atol=1e-3))
        found += [what] if linear else []
    return found


def _squash_hint(found: list[str], offset_too: bool) -> str | None:
    """The hint for the terms that :func:`_unsquashed` found outside the sigmoid."""
    if len(found) == 3:
        return ("nothing is squashed: the rating moves by exactly as much as b_u, b_i or the "
                "dot product. End with rating = sigmoid_range(dot + b_u + b_i + offset, low, "
                "high).")
    if not found:
        return None
    one = len(found) == 1 and not offset_too
    terms = " and ".join(found) + (" (and the global-mean offset)" if offset_too else "")
    return (f"{terms} {'is' if len(found) == 1 else 'are'} added after the sigmoid, outside "
            f"its squashing (+1.5 there moves the rating by exactly 1.5 stars): add "
            f"{'it' if one else 'them'} to the logit, inside the sigmoid: sigmoid_range(dot + "
            "b_u + b_i + offset, low, high).")


def _fixed_range_hint(got: np.ndarray, logit: np.ndarray, mu: float, low: float,
                      high: float) -> str | None:
    """A hint if ``got`` is what a range written as numbers gives (``logit`` without offset)."""
    for fixed in _FIXED_RANGES:
        if np.allclose(fixed, (low, high)):
            continue
        a, b = fixed
        for offset_range in (fixed, (low, high)):
            p = (mu - offset_range[0]) / (offset_range[1] - offset_range[0])
            if 0 < p < 1 and np.allclose(got, a + (b - a) * _sigmoid(_logit(p) + logit),
                                         atol=1e-3):
                return (f"the model ignores rating_range: it uses the fixed range ({a:g}, {b:g}) "
                        f"for rating_range=({low:g}, {high:g}). Use the argument, low, high = "
                        "rating_range, in global_mean_logit(global_mean, low, high) and in "
                        "sigmoid_range(..., low, high).")
    return None


def _zero_hint(model: Any, layers: dict[str, Any], users: np.ndarray, items: np.ndarray,
               got: np.ndarray, mu: float, low: float, high: float) -> str:
    """What an all-zero model that does not predict the global mean most likely does wrong."""
    __tracebackhide__ = True
    value = float(got.mean())
    hint = _squash_hint(_unsquashed(model, layers, users, items), offset_too=True)
    if hint is not None:
        return hint
    if np.isclose(value, (low + high) / 2, atol=1e-3):
        return ("the output is the middle of the range: add the global-mean offset "
                "logit((global_mean - low) / (high - low)) to the logit before sigmoid_range.")
    if np.isclose(value, low + (high - low) * _sigmoid(mu), atol=1e-3):
        return ("you added global_mean itself to the logit; add its logit, log(p / (1 - p)) "
                "with p = (global_mean - low) / (high - low), so that sigmoid_range gives back "
                "global_mean.")
    if np.isclose(value, mu + (low + high) / 2, atol=1e-3):
        return "add the global-mean offset inside the sigmoid (to the logit), not after it."
    return _fixed_range_hint(got, np.zeros_like(got), mu, low, high) or (
        "logit = dot + b_u + b_i + logit((global_mean - low) / (high - low)); "
        "prediction = sigmoid_range(logit, low, high).")


def _known_hint(got: np.ndarray, tables: dict[str, np.ndarray], users: np.ndarray,
                items: np.ndarray, mu: float, low: float, high: float) -> str | None:
    """Name the mistake whose formula gives ``got`` with the known ``tables``."""
    offset = _logit((mu - low) / (high - low))
    dot = np.sum(tables["user_factors"][users] * tables["item_factors"][items], axis=1)
    b_u, b_i = tables["user_bias"][users, 0], tables["item_bias"][items, 0]
    wrong = {
        "the biases do not reach the output: add b_u and b_i to the logit.":
            low + (high - low) * _sigmoid(offset + dot),
        "the dot product does not reach the output: the logit is dot + b_u + b_i + offset.":
            low + (high - low) * _sigmoid(offset + b_u + b_i),
        "the item bias looks up the user codes: apply the item_bias Embedding to the item "
        "input (the second one), item_bias(item), as the item factors are.":
            low + (high - low) * _sigmoid(offset + dot + b_u + tables["item_bias"][users, 0]),
    }
    hint = next((h for h, value in wrong.items() if np.allclose(got, value, atol=1e-3)), None)
    return hint or _fixed_range_hint(got, dot + b_u + b_i, mu, low, high)


def _check_values(model: Any, layers: dict[str, Any], n_users: int, n_items: int, dim: int,
                  mu: float, low: float, high: float) -> None:
    __tracebackhide__ = True
    users, items = (a.ravel() for a in np.meshgrid(np.arange(n_users), np.arange(n_items),
                                                     indexing="ij"))
    _set_tables(layers, {})
    got = _predict(model, users, items)
    if not np.allclose(got, mu, atol=1e-3):
        fail(
            f"with all embeddings and biases at 0 the model should predict the global mean "
            f"{mu:g} for every pair (range {low:g}-{high:g}); it predicts {got.mean():.4g}.",
            _zero_hint(model, layers, users, items, got, mu, low, high),
        )
    rng = np.random.default_rng(1)
    tables = {name: rng.normal(scale=0.6, size=(layer.input_dim, layer.output_dim))
              .astype("float32") for name, layer in layers.items()}
    for name, layer in layers.items():
        layer.set_weights([tables[name]])
    got = _predict(model, users, items)
    logit = (_logit((mu - low) / (high - low)) + tables["user_bias"][users, 0]
             + tables["item_bias"][items, 0]
             + np.sum(tables["user_factors"][users] * tables["item_factors"][items], axis=1))
    want = low + (high - low) * _sigmoid(logit)
    if np.allclose(got, want, atol=1e-3):
        return
    k = int(np.argmax(np.abs(got - want)))
    hint = (_known_hint(got, tables, users, items, mu, low, high)
            or _squash_hint(_unsquashed(model, layers, users, items), offset_too=False))
    fail(
        f"with rating_range=({low:g}, {high:g}) and known embeddings and biases, for user code "
        f"{users[k]} and item code {items[k]} the model returns {got[k]:.4g} instead of "
        f"{want[k]:.4g} = sigmoid_range(logit(mu) + b_u + b_i + p_u . q_i).",
        hint or "prediction = sigmoid_range(dot + b_u + b_i + offset, low, high).",
    )


def check_biased_mf(
    build_biased_mf: Callable[..., Any],
    n_users: int | None = None,
    n_items: int | None = None,
    dim: int = 128,
) -> None:
    """Check ``build_biased_mf(n_users, n_items, dim, global_mean, rating_range=...)``.

    On tiny sizes it checks the two inputs, an output of one rating per example, the four
    embedding tables (``user_bias``/``item_bias`` named and of width 1), that all-zero weights
    predict the global mean, that known weights give the biased-MF formula for every pair,
    that huge biases give the ends of the rating range and never leave it, and that
    ``rating_range`` is honoured. With ``n_users``/``n_items`` it also counts the real model's
    parameters.
    """
    __tracebackhide__ = True
    if not callable(build_biased_mf):
        fail(f"pass the function itself (got a {type(build_biased_mf).__name__}).")
    n_u, n_i, k = 5, 7, 3
    for mu, (low, high) in ((3.5, (0.5, 5.5)), (3.0, (1.0, 5.0))):
        model = _build(build_biased_mf, n_u, n_i, k, mu, rating_range=(low, high))
        _check_io(model)
        layers = _find_layers(model, n_u, n_i, k)
        if mu == 3.5:
            passed("two inputs, one rating per example; factor tables (5, 3) and (7, 3), "
                   "bias tables (5, 1) and (7, 1)")
        _check_values(model, layers, n_u, n_i, k, mu, low, high)
        passed(f"rating_range=({low:g}, {high:g}), global mean {mu:g}: all-zero weights "
               "predict the global mean; known weights give sigmoid_range(logit(mu) + b_u + "
               "b_i + p_u . q_i)")
    users, items = (a.ravel() for a in np.meshgrid(np.arange(n_u), np.arange(n_i),
                                                     indexing="ij"))
    for sign, end in ((+1, high), (-1, low)):
        for name, layer in layers.items():
            rows = layer.input_dim
            value = sign * 40.0 if "bias" in name else 0.0
            layer.set_weights([np.full((rows, layer.output_dim), value, dtype="float32")])
        got = _predict(model, users, items)
        if not np.allclose(got, end, atol=1e-3):
            fail(f"with huge {'positive' if sign > 0 else 'negative'} biases the model should "
                 f"predict the {'top' if sign > 0 else 'bottom'} of the range, {end:g}; it "
                 f"predicts {got.min():.4g}…{got.max():.4g}.",
                 "the last step must be sigmoid_range(logit, low, high), with nothing after "
                 "it.")
    passed("huge biases give the ends of the range and never leave it")
    if n_users is not None and n_items is not None:
        real = _build(build_biased_mf, int(n_users), int(n_items), int(dim), 3.5)
        _find_layers(real, int(n_users), int(n_items), int(dim))
        expected = (int(n_users) + int(n_items)) * (int(dim) + 1)
        if real.count_params() != expected:
            fail(f"the real-size model has {real.count_params():,} parameters, expected "
                 f"(n_users + n_items) × (dim + 1) = {expected:,}.",
                 "the global mean is a constant offset, not a learned weight; no Dense layer.")
        passed(f"real size: {n_users} users + {n_items} items, dim {dim} + 1 bias: "
               f"{expected:,} parameters")


# ------------------------------------------------------------------------------------------
# the quality bar


def _rmse_hint(pred: np.ndarray, history: Any) -> str:
    """What a missed RMSE bar most likely means, from the predictions and the history."""
    if float(np.std(pred)) < 0.1:
        return ("the predictions barely vary: the model predicts (almost) a constant. Did it "
                "train? Look at the loss curves.")
    val = list(getattr(history, "history", {}).get("val_rmse", []))
    if len(val) > 1 and int(np.argmin(val)) == len(val) - 1:
        return (f"the validation RMSE was still falling at the last epoch ({len(val)}): "
                "training stopped at max_epochs, not by early stopping, so more patience "
                "would not help: raise max_epochs (or the learning rate).")
    return ("look at the loss curves: if the validation RMSE rises early, regularise more "
            "(a higher dropout rate); if early stopping halted it while it was still "
            "improving slowly, give it more patience. Was EarlyStopping given "
            "restore_best_weights=True?")


def check_test_rmse(
    y_true: Sequence[float] | np.ndarray,
    y_pred: Sequence[float] | np.ndarray,
    max_rmse: float = 0.940,
    name: str = "the model",
    *,
    history: Any = None,
    never_trained: Sequence[str] = (),
) -> float:
    """Check one prediction per test row and hold their RMSE to ``max_rmse``; return the RMSE.

    ``history`` (of the model's training) lets the hint tell max_epochs from patience;
    ``never_trained`` lists the notebook's models that are missing (an exercise above them
    not finished): then the bar is not the problem, and the message says so.

    Example:
        >>> check_test_rmse([1, 2], [1.5, 2.5], max_rmse=0.6, name="toy")
        ✓ toy: test RMSE 0.5000 <= 0.600
        0.5
    """
    __tracebackhide__ = True
    if never_trained:
        fail(f"{', '.join(never_trained)} {'was' if len(never_trained) == 1 else 'were'} never "
             f"trained, so {name} is not yet the model this notebook builds.",
             "finish every exercise above (a cell that says 'not written yet' stops the models "
             "after it), then run the notebook again from the top.")
    return check_metric_bar(y_true, y_pred, max_rmse, metric="rmse", name=name,
                            hint=lambda pred, _: _rmse_hint(pred, history))
