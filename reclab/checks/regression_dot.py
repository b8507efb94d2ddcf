"""Self-checks for ``01_regression_dot``: the dot-product model and its quality bar.

:func:`check_dot_model` builds the student's model on tiny sizes, checks its inputs, its two
embedding tables and its output shape, then writes known vectors into the tables and checks
that the model returns their dot products. :func:`check_test_predictions` holds the trained
model to the notebook's bar on ``u1.test``.

Example:
    >>> check_test_predictions([4, 3, 5], [3.8, 3.4, 4.1], max_mae=1.0)  # doctest: +ELLIPSIS
    ✓ ...
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from reclab.checks import (
    CheckFailed,
    explain_symbolic,
    fail,
    first_line,
    model_layers,
    not_written_yet,
    passed,
)

__all__ = ["check_dot_model", "check_test_predictions"]

_HINT_INPUTS = (
    "make two inputs, e.g. keras.Input(shape=(), dtype='int32', name='user') and the same "
    "for 'item', and build keras.Model(inputs=[user, item], outputs=...)."
)


_ORDINALS = ("first (user)", "second (item)")

_HINT_ORDER = (
    "the first input must feed the user embedding (input_dim=n_users) and the second the item "
    "embedding (input_dim=n_items): list the inputs as keras.Model(inputs=[user, item], ...) "
    "and apply Embedding(n_users, dim) to the user input."
)


def _embedding_layers(model: Any) -> list[Any]:
    """Every Embedding layer of the model, looking inside nested models too."""
    import keras

    return model_layers(model, keras.layers.Embedding)


def _build(build: Callable, n_users: int, n_items: int, dim: int) -> Any:
    __tracebackhide__ = True
    import keras

    error: Exception | None = None
    try:
        model = build(n_users, n_items, dim)
    except NotImplementedError as exc:
        raise CheckFailed(not_written_yet(exc, "build_dot_model")) from None
    except Exception as exc:  # reported below, outside the except block: no chained traceback
        error = exc
    if error is not None:
        text = str(error)
        call = f"build_dot_model({n_users}, {n_items}, {dim})"
        symbolic = explain_symbolic(error, call, "keras.layers.Dot(axes=1)([p_u, q_i])")
        if symbolic is not None:
            fail(symbolic)
        if "integer" in text or "of type float" in text:
            hint = "embedding sizes must be Python ints: keras.layers.Embedding(n_users, dim)."
        elif isinstance(error, IndexError) or "axes" in text or "axis" in text:
            hint = ("keras.layers.Dot(axes=1): with inputs of shape (), each embedding is "
                    "(batch, dim), and axis 1 holds the dim numbers to multiply and add.")
        else:
            hint = ("two keras.Input(shape=(), dtype='int32'), one keras.layers.Embedding(n, dim) "
                    "on each, and keras.layers.Dot(axes=1) on the two vectors.")
        fail(f"{call} raised {first_line(error)}", hint)
    if model is None:
        fail("build_dot_model returned None: did you forget `return keras.Model(...)`?")
    if not isinstance(model, keras.Model):
        fail(f"build_dot_model should return a keras.Model, got {type(model).__name__}.",
             _HINT_INPUTS)
    return model


def _check_structure(model: Any, n_users: int, n_items: int, dim: int) -> tuple[Any, Any]:
    """Return (user embedding layer, item embedding layer) after checking the structure."""
    __tracebackhide__ = True
    sizes = f"(n_users={n_users}, n_items={n_items}, dim={dim})"
    inputs = getattr(model, "inputs", None)
    if not inputs or len(inputs) != 2:
        fail(
            f"the model should have 2 inputs (user codes, item codes); it has "
            f"{0 if not inputs else len(inputs)}.",
            _HINT_INPUTS,
        )
    for position, tensor in zip(_ORDINALS, inputs, strict=False):
        shape = tuple(tensor.shape)
        if shape not in ((None,), (None, 1)):
            fail(f"the {position} input has shape {shape}; each input is one id per example, "
                 "shape (batch,) or (batch, 1).", _HINT_INPUTS)
        if "int" not in str(tensor.dtype):
            fail(f"the {position} input has dtype {tensor.dtype}; ids are integers.",
                 "keras.Input(shape=(), dtype='int32').")
    layers = _embedding_layers(model)
    if len(layers) != 2:
        fail(
            f"the model should have exactly 2 Embedding layers (one for users, one for items); "
            f"it has {len(layers)}.",
            "one keras.layers.Embedding(n_users, dim) and one keras.layers.Embedding(n_items, dim)",
        )
    found = sorted((layer.input_dim, layer.output_dim) for layer in layers)
    wanted = sorted([(n_users, dim), (n_items, dim)])
    if found != wanted:
        fail(
            f"with {sizes} the Embedding layers should have (input_dim, output_dim) "
            f"{wanted}, they have {found}.",
            "input_dim is the number of distinct ids (n_users or n_items), output_dim is dim.",
        )
    user_layer = next(layer for layer in layers if layer.input_dim == n_users)
    item_layer = next(layer for layer in layers if layer is not user_layer)
    _check_wiring(model, user_layer, item_layer, n_users, n_items)
    for position, tensor, wanted in zip(_ORDINALS, inputs, ("user", "item"), strict=False):
        if getattr(tensor, "name", wanted) != wanted:
            fail(f"the {position} input is named {tensor.name!r}; name it {wanted!r}: the "
                 "training data are given by input name, {'user': codes, 'item': codes}.",
                 f"keras.Input(shape=(), dtype='int32', name={wanted!r}).")
    extra = [w.path for w in model.trainable_weights
             if not any(w is layer.embeddings for layer in layers)]  # fmt: skip
    if extra:
        fail(
            f"a plain dot model learns only the two embedding tables, but this one also learns "
            f"{extra}.",
            "no Dense layer and no bias here: the prediction is just the dot product "
            "(notebook 02 adds biases).",
        )
    out_shape = tuple(model.outputs[0].shape) if len(model.outputs) == 1 else None
    history = getattr(model.outputs[0], "_keras_history", None) if out_shape else None
    if out_shape not in ((None, 1), (None,)) and type(
            getattr(history, "operation", None)).__name__ == "Multiply":  # layer or u * v
        fail(
            f"the model outputs the element-wise product u * v, one number per factor: its "
            f"output shape is {out_shape}, not (batch, 1). The dot product is that product "
            "summed over the k factors.",
            "sum it over the factors: keras.layers.Dot(axes=1)([u, v]), or "
            "keras.ops.sum(u * v, axis=-1, keepdims=True).",
        )
    if out_shape == (None,):
        fail(
            "the model's output has shape (batch,): one number per example, but the exercise "
            "asks for shape (batch, 1) (keras.ops.sum without keepdims=True drops the last axis).",
            "keep the axis: keras.ops.sum(u * v, axis=1, keepdims=True), or "
            "keras.layers.Dot(axes=1)([u, v]), which gives (batch, 1).",
        )
    if out_shape != (None, 1):
        fail(
            f"the model should output one number per example, shape (batch, 1); its output "
            f"shape is {out_shape}.",
            "keras.layers.Dot(axes=1) on two (batch, dim) vectors gives (batch, 1); with "
            "inputs of shape (1,), Flatten the embeddings first.",
        )
    return user_layer, item_layer


def _fed_by(tensor: Any, inputs: list[Any], depth: int = 0) -> set[int] | None:
    """Positions of the model inputs that ``tensor`` is computed from (None: can't tell)."""
    for position, model_input in enumerate(inputs):
        if tensor is model_input:
            return {position}
    history = getattr(tensor, "_keras_history", None)
    if history is None or depth > 50:
        return None
    operation, node_index, _ = history
    try:
        parents = operation._inbound_nodes[node_index].input_tensors
    except (AttributeError, IndexError):
        return None
    found: set[int] = set()
    for parent in parents:
        sources = _fed_by(parent, inputs, depth + 1)
        if sources is None:
            return None
        found |= sources
    return found


def _layer_sources(layer: Any, inputs: list[Any]) -> set[int] | None:
    """Positions of the model inputs feeding ``layer`` in a functional model, or None."""
    nodes = getattr(layer, "_inbound_nodes", None) or []
    found: set[int] = set()
    for node in nodes:
        for tensor in getattr(node, "input_tensors", []):
            sources = _fed_by(tensor, inputs)
            if sources is None:
                return None
            found |= sources
    return found or None


def _check_wiring(model: Any, user_layer: Any, item_layer: Any, n_users: int,
                  n_items: int) -> None:
    """The first input must feed the user embedding, the second the item embedding.

    Checked on the graph of a functional model, before any call: a swapped model would
    otherwise fail deep inside TensorFlow (an index out of range). Models whose graph can't
    be read (subclassed, nested) are checked by the call in ``_check_values``.
    """
    __tracebackhide__ = True
    inputs = list(model.inputs)
    user_sources = _layer_sources(user_layer, inputs)
    item_sources = _layer_sources(item_layer, inputs)
    if user_sources is None or item_sources is None or n_users == n_items:
        return
    if user_sources == {0} and item_sources == {1}:
        return

    names = [getattr(tensor, "name", "?") for tensor in inputs]

    def fed(sources: set[int]) -> str:
        return " and the ".join(f"{('first', 'second')[i]} input ({names[i]!r})"
                                for i in sorted(sources))
    listed_item_first = names == ["item", "user"] and user_sources == {1} and item_sources == {0}
    fail(
        (f"the model lists its inputs as {names}, the item first: " if listed_item_first else "")
        + f"in the model built with n_users={n_users}, n_items={n_items}, the user embedding "
        f"(input_dim={n_users}) is fed by the {fed(user_sources)} and the item embedding "
        f"(input_dim={n_items}) by the {fed(item_sources)}.",
        "list the user input first: keras.Model(inputs=[user, item], ...)." if listed_item_first
        else _HINT_ORDER,
    )


def _check_initial_weights(user_layer: Any, item_layer: Any) -> None:
    """Both tables constant at build time (zeros, or one value) would never learn properly."""
    __tracebackhide__ = True
    tables = [np.asarray(layer.get_weights()[0]) for layer in (user_layer, item_layer)]
    if all(not np.any(table) for table in tables):
        fail(
            "both embedding tables start as all zeros: the gradient of a dot product p·q is q "
            "for p and p for q, so with p = q = 0 every gradient is zero and the embeddings "
            "never move. The model would predict 0 stars forever.",
            "leave embeddings_initializer at its default (small random numbers).",
        )
    if all(np.ptp(table) == 0 for table in tables):
        fail(
            f"every number of both embedding tables starts at the same value "
            f"({float(tables[0].flat[0]):g}, {float(tables[1].flat[0]):g}): all dimensions get "
            "the same gradient and stay equal, so the model learns one number per user and "
            "movie instead of dim numbers.",
            "leave embeddings_initializer at its default (small random numbers).",
        )


def _check_values(model: Any, user_layer: Any, item_layer: Any, n_users: int, n_items: int,
                  dim: int) -> None:
    __tracebackhide__ = True
    import keras

    _check_initial_weights(user_layer, item_layer)
    rng = np.random.default_rng(0)
    users_table = rng.normal(size=(n_users, dim)).astype("float32")
    items_table = rng.normal(size=(n_items, dim)).astype("float32")
    user_layer.set_weights([users_table])
    item_layer.set_weights([items_table])
    users, items = (a.ravel().astype("int32") for a in np.meshgrid(
        np.arange(n_users), np.arange(n_items), indexing="ij"))
    error: Exception | None = None
    try:
        out = keras.ops.convert_to_numpy(model([users, items], training=False))
    except Exception as exc:  # reported below, outside the except block: no chained traceback
        error = exc
    if error is not None:
        text = str(error).strip().splitlines()
        fail(
            f"calling the model on [user codes, item codes] failed ({type(error).__name__}: "
            f"{text[0] if text else ''}).",
            _HINT_ORDER,
        )
    out = np.asarray(out, dtype=float).reshape(len(users), -1)
    if out.shape[1] != 1:
        fail(f"the model returns {out.shape[1]} numbers per example instead of 1.")
    got = out[:, 0]
    want = np.sum(users_table[users] * items_table[items], axis=1)
    if np.allclose(got, want, rtol=1e-4, atol=1e-4):
        return
    norms = (np.linalg.norm(users_table[users], axis=1)
             * np.linalg.norm(items_table[items], axis=1))  # fmt: skip
    if np.allclose(got, want / norms, rtol=1e-4, atol=1e-4):
        fail("the model returns the cosine similarity, not the dot product.",
             "use keras.layers.Dot(axes=1) without normalize=True.")
    k = int(np.argmax(np.abs(got - want)))
    fail(
        f"with known embedding vectors the model should return their dot product; for user "
        f"code {users[k]} and item code {items[k]} it returns {got[k]:.4g} instead of "
        f"{want[k]:.4g}.",
        "the output is sum(user_vector * item_vector): keras.layers.Dot(axes=1) or "
        "keras.ops.sum(u * v, axis=-1, keepdims=True). The first input is the user.",
    )


def check_dot_model(
    build_dot_model: Callable[[int, int, int], Any],
    n_users: int | None = None,
    n_items: int | None = None,
    dim: int = 64,
) -> None:
    """Check ``build_dot_model(n_users, n_items, dim)``: inputs, embeddings, output, values.

    On tiny sizes (6 users, 9 items, dim 4) it checks the two integer inputs, exactly two
    ``Embedding`` layers of the right sizes, the first input feeding the user table and the
    second the item table, no other trainable weight, an output of shape ``(batch, 1)``,
    embeddings that don't all start at zero (or at one constant), and that with known
    embedding vectors the output is their dot product for every (user, item) pair.
    With ``n_users``/``n_items`` it also builds the real-size
    model and checks its parameter count.
    """
    __tracebackhide__ = True
    if not callable(build_dot_model):
        fail(f"pass the function itself (got a {type(build_dot_model).__name__}).")
    small = (6, 9, 4)
    model = _build(build_dot_model, *small)
    user_layer, item_layer = _check_structure(model, *small)
    passed("two integer inputs, the first (user codes) feeding Embedding(n_users, dim) and "
           "the second (item codes) Embedding(n_items, dim); output (batch, 1)")
    _check_values(model, user_layer, item_layer, *small)
    passed("the output is the dot product of the user and item vectors")
    if n_users is not None and n_items is not None:
        real = _build(build_dot_model, int(n_users), int(n_items), int(dim))
        _check_structure(real, int(n_users), int(n_items), int(dim))
        expected = (int(n_users) + int(n_items)) * int(dim)
        if real.count_params() != expected:
            fail(f"the real-size model has {real.count_params():,} parameters, expected "
                 f"(n_users + n_items) × dim = {expected:,}.")
        passed(f"real size: {n_users} users + {n_items} items, dim {dim}: "
               f"{expected:,} parameters")


def _quality_hint(pred: np.ndarray) -> str:
    """What a too-high test error most likely means, judging by the predictions alone.

    "Almost constant" ignores a few outliers: the rows with an id unseen in training get the
    fallback (the global mean) whatever the model learned.
    """
    center = float(np.median(pred))
    almost_all = float(np.mean(np.abs(pred - center) < 0.05))
    if almost_all >= 0.95 and abs(center) < 0.5:
        return (
            f"{almost_all:.1%} of the predictions are ≈ {center:.2f} stars: the embeddings did "
            "not learn (a dot product of small random vectors is ≈ 0). With zero-initialised "
            "embeddings the gradient of a dot product is zero and they never move: use the "
            "default initializer. Otherwise check that the model was trained (fit, loss "
            "curves)."
        )
    if almost_all >= 0.95:
        return (
            f"{almost_all:.1%} of the predictions are ≈ {center:.2f} stars: the model predicts "
            "(almost) a constant instead of learning each user's and movie's vector. Did it "
            "train? Check the loss curves."
        )
    return (
        "check the loss curves: did early stopping restore the best weights "
        "(restore_best_weights=True)? Try the learning rate and batch size given above, "
        "and make sure the codes fed at test time come from the same IdEncoder as in "
        "training."
    )


def check_test_predictions(
    y_true: Sequence[float] | np.ndarray,
    y_pred: Sequence[float] | np.ndarray,
    max_mae: float = 0.75,
    name: str = "the model",
) -> float:
    """Check predictions for every test row and hold their MAE to ``max_mae``; return the MAE."""
    __tracebackhide__ = True
    if y_pred is None:
        fail(f"the predictions of {name} are None.")
    true = np.asarray(y_true, dtype=float).ravel()
    pred = np.asarray(y_pred, dtype=float)
    if pred.ndim == 2 and pred.shape[1] == 1:
        pred = pred[:, 0]
    if pred.shape != true.shape:
        fail(
            f"{name}: {pred.shape} predictions for {true.shape[0]} test ratings; there must "
            "be exactly one prediction per test row, in the test table's order.",
            "predict every row: use the fallback (the global mean) for ids unseen in training.",
        )
    bad = ~np.isfinite(pred)
    if bad.any():
        fail(f"{name}: {int(bad.sum())} predictions are NaN or infinite.",
             "a diverging training (too high a learning rate?) gives NaN losses.")
    value = float(np.mean(np.abs(pred - true)))
    if value > max_mae:
        fail(f"{name}: test MAE {value:.4f} is above the bar {max_mae:.2f}.",
             _quality_hint(pred))
    passed(f"{name}: test MAE {value:.4f} <= {max_mae:.2f}")
    return value
