"""The definitions the notebooks teach and later notebooks reuse (one course, one codebase).

Each definition is written in full in the notebook that teaches it (as the exercise in the
lab), and its docstring names that notebook and section; later notebooks import it from
here instead of pasting it. ``tests/test_models_sync.py`` fails when a notebook's definition
and this module's differ (docstrings and comments aside).

- taught in ``00_movielens_tour``: :func:`evaluate_u1`;
- taught in ``01_regression_dot``: :func:`pair_inputs`, :func:`u1_data`,
  :func:`predict_ratings`;
- taught in ``02_biased_mf``: :func:`sigmoid_range`, :func:`global_mean_logit`,
  :class:`BatchRowsL2`, :func:`build_biased_mf`, :func:`train_rating_model`;
- taught in ``03_deep_recommender``: :func:`masked_mse`, :func:`rating_matrix`,
  :func:`build_autorec`, :func:`train_autorec`, :func:`autorec_predictions`,
  :func:`fit_blend_weights`, :func:`blend_predictions`;
- taught in ``05_side_information``: :func:`user_feature_table`, :func:`item_feature_table`,
  :func:`feature_inputs`, :func:`build_hybrid_model`.

Example:
    >>> data = u1_data()                                   # doctest: +SKIP
    >>> model = build_biased_mf(data.n_users, data.n_items, 128, data.global_mean,
    ...                         dropout=0.7)               # doctest: +SKIP
    >>> history, seconds = train_rating_model(
    ...     model, pair_inputs(data.fit_coded), data.fit_coded["rating"],
    ...     pair_inputs(data.valid_coded), data.valid_coded["rating"])   # doctest: +SKIP
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from reclab.data import load_split
from reclab.encoding import Encoded, IdEncoder
from reclab.metrics import mae, rmse
from reclab.reproducibility import quiet_tensorflow
from reclab.results import record_result
from reclab.splits import random_split

quiet_tensorflow()  # TensorFlow's C++ start-up lines stay out of a student's notebook
import keras  # noqa: E402

__all__ = [
    "AGE_BINS",
    "UNKNOWN_YEAR",
    "YEAR_BINS",
    "BatchRowsL2",
    "U1Data",
    "autorec_predictions",
    "blend_predictions",
    "build_autorec",
    "build_biased_mf",
    "build_hybrid_model",
    "evaluate_u1",
    "feature_inputs",
    "fit_blend_weights",
    "global_mean_logit",
    "item_feature_table",
    "masked_mse",
    "pair_inputs",
    "predict_ratings",
    "rating_matrix",
    "sigmoid_range",
    "train_autorec",
    "train_rating_model",
    "u1_data",
    "user_feature_table",
]


# ------------------------------------------------------------------------------------------
# taught in 00_movielens_tour


def evaluate_u1(notebook: str, name: str, test: pd.DataFrame, predictions: npt.ArrayLike, *,
                valid: tuple[npt.ArrayLike, npt.ArrayLike] | None = None,
                seconds: float | None = None, history: Any = None) -> dict[str, Any]:
    """Score predictions for every ``u1.test`` row, record them, print one line; return a row.

    Taught in notebook 00_movielens_tour, section 8. ``valid`` is ``(true, predicted)``
    ratings of the validation slice (adds ``valid_rmse``); ``history`` (a Keras History
    watching ``val_rmse``) adds ``epochs`` (trained) and ``best_epoch`` (kept).

    Example:
        >>> evaluate_u1("01_regression_dot", "dot product", data.test, pred)  # doctest: +SKIP
        dot product               test RMSE 0.9312  MAE 0.7312
    """
    pred = np.asarray(predictions, dtype="float64")
    metrics = {"rmse": rmse(test["rating"], pred), "mae": mae(test["rating"], pred)}
    line = f"{name:<25} test RMSE {metrics['rmse']:.4f}  MAE {metrics['mae']:.4f}"
    if valid is not None:
        metrics["valid_rmse"] = rmse(*valid)
        line += f"  validation RMSE {metrics['valid_rmse']:.4f}"
    record_result(notebook, name, metrics, train_seconds=seconds,
                  predictions=test[["user_id", "item_id"]].assign(prediction=pred))
    print(line)
    row: dict[str, Any] = {"model": name, **metrics, "train_seconds": seconds}
    if history is not None:
        row["epochs"] = len(history.history["loss"])
        row["best_epoch"] = int(np.argmin(history.history["val_rmse"])) + 1
    return row


# ------------------------------------------------------------------------------------------
# taught in 01_regression_dot


def pair_inputs(coded: pd.DataFrame) -> dict[str, np.ndarray]:
    """The two model inputs of a coded table, by input name: user codes and item codes.

    Taught in notebook 01_regression_dot, section 2 (a validation slice).

    Example:
        >>> coded = pd.DataFrame({"user_idx": [0, 2], "item_idx": [5, 1]})
        >>> {name: codes.tolist() for name, codes in pair_inputs(coded).items()}
        {'user': [0, 2], 'item': [5, 1]}
    """
    return {"user": coded["user_idx"].to_numpy("int32"),
            "item": coded["item_idx"].to_numpy("int32")}


@dataclass(frozen=True)
class U1Data(Encoded):
    """The canonical ``u1`` split, a seeded validation slice of ``u1.base``, and its codes.

    ``fit`` and ``valid`` partition ``train`` (``u1.base``); ``*_coded`` add ``user_idx`` and
    ``item_idx`` from an :class:`~reclab.encoding.IdEncoder` fitted on ``train`` (or on all
    ratings, see :func:`u1_data`); test rows whose user or movie has no code keep code -1
    (``test_known`` is False). ``global_mean`` is the mean rating of ``fit``; ``n_users`` and
    ``n_items`` are the encoder's (:class:`~reclab.encoding.Encoded`).
    """

    train: pd.DataFrame
    test: pd.DataFrame
    fit: pd.DataFrame
    valid: pd.DataFrame
    encoder: IdEncoder
    train_coded: pd.DataFrame
    fit_coded: pd.DataFrame
    valid_coded: pd.DataFrame
    test_coded: pd.DataFrame
    test_known: np.ndarray
    global_mean: float


def u1_data(valid_size: float = 0.1, seed: int = 0,
            codes: Literal["train", "all"] = "train") -> U1Data:
    """Load ``u1``, carve a validation slice out of ``u1.base`` and code the ids.

    Taught in notebook 01_regression_dot, sections 1-2 (the steps, one cell each). With
    ``codes="all"`` the encoder is fitted on ``u1.base`` and ``u1.test`` together, so every
    user and movie has a code, i.e. a row in an embedding table (notebook 04 maps all 1,682
    movies; in 05 a movie unseen in ``u1.base`` is predicted from its features); no rating
    ever trains the rows of the ids that only ``u1.test`` holds.

    Example:
        >>> data = u1_data()                                        # doctest: +SKIP
        >>> len(data.fit), len(data.valid), int((~data.test_known).sum())  # doctest: +SKIP
        (72000, 8000, 32)
        >>> u1_data(codes="all").n_items, u1_data().n_items          # doctest: +SKIP
        (1682, 1650)
    """
    if codes not in ("train", "all"):
        raise ValueError(f"codes must be 'train' (ids of u1.base) or 'all' (ids of u1.base and "
                         f"u1.test), got {codes!r}")
    train, test = load_split("u1")
    fit, valid = random_split(train, test_size=valid_size, seed=seed)
    encoder = IdEncoder().fit(train if codes == "train" else pd.concat([train, test]))
    test_coded = encoder.transform(test, unknown="keep")
    known = ((test_coded["user_idx"] >= 0) & (test_coded["item_idx"] >= 0)).to_numpy()
    return U1Data(train=train, test=test, fit=fit, valid=valid, encoder=encoder,
                  train_coded=encoder.transform(train), fit_coded=encoder.transform(fit),
                  valid_coded=encoder.transform(valid),
                  test_coded=test_coded, test_known=known,
                  global_mean=float(fit["rating"].mean()))


def predict_ratings(model: keras.Model, coded: pd.DataFrame,
                    fallback: float | npt.ArrayLike) -> np.ndarray:
    """Predict every row of a coded table; rows with an unseen id (code -1) get ``fallback``.

    Taught in notebook 01_regression_dot, section 5. ``fallback`` is one number (e.g. the
    mean training rating) or one number per row.

    Example:
        >>> predict_ratings(model, data.test_coded, fallback=data.global_mean)  # doctest: +SKIP
    """
    inputs = pair_inputs(coded)
    known = (inputs["user"] >= 0) & (inputs["item"] >= 0)
    pred = np.broadcast_to(np.asarray(fallback, dtype="float64"), known.shape).copy()
    if known.any():
        rows = {name: codes[known] for name, codes in inputs.items()}
        pred[known] = np.ravel(model.predict(rows, batch_size=8192, verbose=0))
    return pred


# ------------------------------------------------------------------------------------------
# taught in 02_biased_mf


def sigmoid_range(x, low: float, high: float):
    """Scaled sigmoid: low + (high - low) * sigmoid(x), element by element.

    Taught in notebook 02_biased_mf, section 2 (exercise 1).

    Example:
        >>> float(sigmoid_range(keras.ops.convert_to_tensor(0.0), 1.0, 5.0))
        3.0
    """
    return low + (high - low) * keras.ops.sigmoid(x)


def global_mean_logit(mean: float, low: float, high: float) -> float:
    """The constant logit that ``sigmoid_range(., low, high)`` maps to ``mean``.

    Taught in notebook 02_biased_mf, section 2.

    Example:
        >>> global_mean_logit(3.0, 1.0, 5.0)
        0.0
    """
    if not low < mean < high:
        raise ValueError(f"the mean rating {mean} must lie strictly inside ({low}, {high})")
    p = (mean - low) / (high - low)
    return math.log(p / (1 - p))


class BatchRowsL2(keras.layers.Layer):
    """Identity layer that adds strength * mean over the batch of ||row||^2 to the loss.

    Taught in notebook 02_biased_mf, section 2 (way 2 of section 4).

    Example:
        >>> rows = BatchRowsL2(0.1)(keras.Input(shape=(8,)))
    """

    def __init__(self, strength: float, **kwargs):
        super().__init__(**kwargs)
        self.strength = strength

    def call(self, rows):
        self.add_loss(self.strength * keras.ops.mean(keras.ops.sum(rows**2, axis=-1)))
        return rows


def build_biased_mf(n_users: int, n_items: int, dim: int, global_mean: float,
                    rating_range: tuple[float, float] = (1.0, 5.0), dropout: float = 0.0,
                    table_l2: float = 0.0, rows_l2: float = 0.0,
                    name: str = "biased_mf") -> keras.Model:
    """Biased MF: sigmoid_range(logit(mean) + b_u + b_i + p_u . q_i) for each (user, item).

    Taught in notebook 02_biased_mf, section 2 (exercise 2). Layers ``user_factors``,
    ``item_factors``, ``user_bias``, ``item_bias``; inputs ``user`` and ``item``; the layers
    are created in a fixed order, so the same seed gives the same model everywhere.

    Example:
        >>> model = build_biased_mf(943, 1650, 128, 3.53, dropout=0.7)
        >>> model.get_layer("user_bias").output_dim
        1
    """
    user = keras.Input(shape=(), dtype="int32", name="user")
    item = keras.Input(shape=(), dtype="int32", name="item")
    table_reg = keras.regularizers.L2(table_l2) if table_l2 else None     # way 1
    p_u = keras.layers.Embedding(n_users, dim, embeddings_regularizer=table_reg,
                                 name="user_factors")(user)
    q_i = keras.layers.Embedding(n_items, dim, embeddings_regularizer=table_reg,
                                 name="item_factors")(item)
    if rows_l2:                                                            # way 2
        p_u, q_i = BatchRowsL2(rows_l2)(p_u), BatchRowsL2(rows_l2)(q_i)
    if dropout:                                                            # way 3
        p_u, q_i = keras.layers.Dropout(dropout)(p_u), keras.layers.Dropout(dropout)(q_i)
    dot = keras.ops.sum(p_u * q_i, axis=-1)                                # (batch,)
    low, high = rating_range
    b_u = keras.layers.Embedding(n_users, 1, embeddings_initializer="zeros",
                                 name="user_bias")(user)
    b_i = keras.layers.Embedding(n_items, 1, embeddings_initializer="zeros",
                                 name="item_bias")(item)
    b_u, b_i = keras.ops.squeeze(b_u, axis=-1), keras.ops.squeeze(b_i, axis=-1)
    offset = global_mean_logit(global_mean, low, high)
    rating = sigmoid_range(dot + b_u + b_i + offset, low, high)
    return keras.Model([user, item], rating, name=name)


def train_rating_model(model: keras.Model, x_fit: Any, y_fit: npt.ArrayLike, x_valid: Any,
                       y_valid: npt.ArrayLike, *, learning_rate: float = 3e-3,
                       loss: str = "mse", patience: int = 3, max_epochs: int = 100,
                       batch_size: int = 1024) -> tuple[keras.callbacks.History, float]:
    """Fit with Adam, early stopping on the validation RMSE; return (history, seconds).

    Taught in notebook 02_biased_mf, section 3. Tracks RMSE and MAE on both sets, stops when
    ``val_rmse`` has not improved for ``patience`` epochs and restores the best epoch's
    weights; prints "<model name>: trained in … s (N epochs, best epoch B)".

    Example:
        >>> history, seconds = train_rating_model(model, x_fit, y_fit, x_valid, y_valid,
        ...                                       patience=5)      # doctest: +SKIP
        biased_mf: trained in 21.3 s (30 epochs, best epoch 25)
    """
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=loss,
                  metrics=[keras.metrics.RootMeanSquaredError(name="rmse"),
                           keras.metrics.MeanAbsoluteError(name="mae")],
                  steps_per_execution=32)
    stop = keras.callbacks.EarlyStopping(monitor="val_rmse", patience=patience,
                                         restore_best_weights=True)
    start = time.perf_counter()
    history = model.fit(x_fit, np.asarray(y_fit, dtype="float32"),
                        validation_data=(x_valid, np.asarray(y_valid, dtype="float32")),
                        batch_size=batch_size, validation_batch_size=8192,
                        epochs=max_epochs, verbose=0, callbacks=[stop])
    seconds = time.perf_counter() - start
    epochs = len(history.history["loss"])
    best = int(np.argmin(history.history["val_rmse"])) + 1
    print(f"{model.name}: trained in {seconds:.1f} s ({epochs} epochs, best epoch {best})"
          + (f"; stopped at max_epochs={max_epochs}" if epochs == max_epochs > best else ""))
    return history, seconds


# ------------------------------------------------------------------------------------------
# taught in 03_deep_recommender


def masked_mse(y_true, y_pred):
    """Mean of (y_true - y_pred)**2 over the entries where y_true != 0 (0 if there are none).

    Taught in notebook 03_deep_recommender, section 3 (exercise 2).

    Example:
        >>> float(masked_mse(np.array([[4.0, 0.0]]), np.array([[3.0, 2.0]])))
        1.0
    """
    mask = keras.ops.cast(keras.ops.not_equal(y_true, 0), y_pred.dtype)
    squared = mask * keras.ops.square(y_true - y_pred)
    return keras.ops.sum(squared) / keras.ops.maximum(keras.ops.sum(mask), 1.0)


def rating_matrix(coded: pd.DataFrame, n_items: int, n_users: int) -> np.ndarray:
    """The items x users rating matrix of a coded table, 0 where there is no rating.

    Taught in notebook 03_deep_recommender, section 3.

    Example:
        >>> coded = pd.DataFrame({"user_idx": [0, 1], "item_idx": [2, 0], "rating": [4, 5]})
        >>> rating_matrix(coded, n_items=3, n_users=2).tolist()
        [[0.0, 5.0], [0.0, 0.0], [4.0, 0.0]]
    """
    matrix = np.zeros((n_items, n_users), dtype="float32")
    matrix[coded["item_idx"], coded["user_idx"]] = coded["rating"]
    return matrix


def build_autorec(n_inputs: int, hidden: int, input_dropout: float = 0.5, l2: float = 1e-4,
                  name: str | None = None) -> keras.Model:
    """Denoising AutoRec: Dropout on the input, a sigmoid hidden layer, a linear output.

    Taught in notebook 03_deep_recommender, section 3. ``name`` defaults to
    ``autorec_<hidden>``.

    Example:
        >>> build_autorec(943, 100).output_shape
        (None, 943)
    """
    ratings = keras.Input(shape=(n_inputs,), name="ratings")
    noisy = keras.layers.Dropout(input_dropout)(ratings)
    code_ = keras.layers.Dense(hidden, activation="sigmoid",
                               kernel_regularizer=keras.regularizers.L2(l2))(noisy)
    output = keras.layers.Dense(n_inputs, kernel_regularizer=keras.regularizers.L2(l2))(code_)
    return keras.Model(ratings, output, name=name or f"autorec_{hidden}")


def train_autorec(model: keras.Model, inputs: np.ndarray, valid_targets: np.ndarray,
                  patience: int = 10,
                  max_epochs: int = 300) -> tuple[keras.callbacks.History, float]:
    """Reconstruct `inputs` (masked); stop on the masked MSE of the validation ratings.

    Taught in notebook 03_deep_recommender, section 3. Prints "<model name>: trained in …".

    Example:
        >>> history, seconds = train_autorec(build_autorec(943, 100), fit_matrix,
        ...                                  valid_matrix)          # doctest: +SKIP
    """
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss=masked_mse,
                  metrics=[masked_mse])
    start = time.perf_counter()
    history = model.fit(
        inputs, inputs, validation_data=(inputs, valid_targets), batch_size=128,
        validation_batch_size=len(inputs), epochs=max_epochs, verbose=0,
        callbacks=[keras.callbacks.EarlyStopping(monitor="val_masked_mse", mode="min",
                                                 patience=patience, restore_best_weights=True)],
    )
    seconds = time.perf_counter() - start
    best = int(np.argmin(history.history["val_masked_mse"])) + 1
    print(f"{model.name}: trained in {seconds:.1f} s ({len(history.history['loss'])} epochs, "
          f"best epoch {best})")
    return history, seconds


def autorec_predictions(model: keras.Model, inputs: np.ndarray, coded: pd.DataFrame,
                        fallback: float, by_user: bool = False,
                        rating_range: tuple[float, float] = (1.0, 5.0)) -> np.ndarray:
    """Read each row's (item, user) entry of the reconstructed matrix, clipped to the range.

    Taught in notebook 03_deep_recommender, section 3. ``by_user``: the model reads users
    (``inputs`` is users x items); rows with an unseen id (code -1) get ``fallback``.

    Example:
        >>> autorec_predictions(autorec, fit_matrix, data.test_coded, 3.53)  # doctest: +SKIP
    """
    full = model.predict(inputs, batch_size=2048, verbose=0)
    full = np.clip(full.T if by_user else full, *rating_range)        # items x users
    items, users = coded["item_idx"].to_numpy(), coded["user_idx"].to_numpy()
    known = (items >= 0) & (users >= 0)
    pred = np.full(len(coded), fallback, dtype="float64")
    pred[known] = full[items[known], users[known]]
    return pred


def fit_blend_weights(valid_predictions: Mapping[str, npt.ArrayLike],
                      valid_truth: npt.ArrayLike) -> pd.Series:
    """Stacking: least-squares weights (and an intercept) of the members' predictions.

    Taught in notebook 03_deep_recommender, section 4. Fit on the validation slice only.

    Example:
        >>> truth = np.array([1.0, 2.0, 3.0])
        >>> weights = fit_blend_weights({"a": truth / 2, "b": np.array([1.0, 0, 0])}, truth)
        >>> bool(np.allclose(weights, [0.0, 2.0, 0.0]))
        True
    """
    members = list(valid_predictions)
    truth = np.asarray(valid_truth, dtype="float64")
    features = np.column_stack([np.ones(len(truth))]
                               + [np.asarray(valid_predictions[m]) for m in members])
    weights, *_ = np.linalg.lstsq(features, truth, rcond=None)
    return pd.Series(weights, index=["intercept", *members], name="blend weight")


def blend_predictions(predictions: Mapping[str, npt.ArrayLike], weights: pd.Series,
                      rating_range: tuple[float, float] | None = None) -> np.ndarray:
    """Apply blend weights to the members' predictions (clipped to ``rating_range`` if given).

    Taught in notebook 03_deep_recommender, section 4.

    Example:
        >>> weights = pd.Series([0.5, 1.0], index=["intercept", "a"])
        >>> blend_predictions({"a": np.array([1.0, 4.9])}, weights, (1.0, 5.0)).tolist()
        [1.5, 5.0]
    """
    members = list(weights.index[1:])
    features = np.column_stack([np.ones(len(np.asarray(predictions[members[0]])))]
                               + [np.asarray(predictions[m]) for m in members])
    blended = features @ weights.to_numpy()
    return blended if rating_range is None else np.clip(blended, *rating_range)


# ------------------------------------------------------------------------------------------
# taught in 05_side_information

AGE_BINS = [0, 17, 24, 34, 44, 49, 55, 120]          # (0, 17], (17, 24], ... -> codes 0..6
YEAR_BINS = [1900, 1959, 1969, 1979, 1989, 1994, 1996, 1998]   # ..1959, 60s, 70s, 80s, 90-94, ...
UNKNOWN_YEAR = len(YEAR_BINS) - 1                               # code 7: no release date


def user_feature_table(users: pd.DataFrame, occupations: Sequence[str]) -> pd.DataFrame:
    """One row per user, indexed by user_id (sorted): age_bucket, gender, occupation codes.

    Taught in notebook 05_side_information, section 2 (exercise 1). ``age_bucket`` is the
    bin of :data:`AGE_BINS` (right edge included), ``gender`` F 0 / M 1, ``occupation`` the
    position in ``occupations``. Row i matches code i when the encoder's ids are sorted.

    Example:
        >>> users = pd.DataFrame({"user_id": [2, 1], "age": [30, 17], "gender": ["F", "M"],
        ...                       "occupation": ["writer", "artist"]})
        >>> user_feature_table(users, ["artist", "writer"]).to_dict("list")
        {'age_bucket': [0, 2], 'gender': [1, 0], 'occupation': [0, 1]}
    """
    table = pd.DataFrame({
        "age_bucket": pd.cut(users["age"], bins=AGE_BINS, labels=False),
        "gender": (users["gender"] == "M").astype(int),
        "occupation": pd.Categorical(users["occupation"], categories=occupations).codes,
    })
    return table.set_axis(users["user_id"]).sort_index().astype(int)


def item_feature_table(items: pd.DataFrame, genres: Sequence[str]) -> pd.DataFrame:
    """One row per item, indexed by item_id (sorted): genre flags (float32) and year_bucket.

    Taught in notebook 05_side_information, section 2 (exercise 2). ``year_bucket`` is the
    bin of :data:`YEAR_BINS` and :data:`UNKNOWN_YEAR` for a missing release date.

    Example:
        >>> items = pd.DataFrame({"item_id": [2, 1], "Drama": [1, 0],
        ...                       "release_date": pd.to_datetime(["1995-01-01", None])})
        >>> item_feature_table(items, ["Drama"]).to_dict("list")
        {'Drama': [0.0, 1.0], 'year_bucket': [7, 5]}
    """
    year = items["release_date"].dt.year
    bucket = pd.cut(year, bins=YEAR_BINS, labels=False).fillna(UNKNOWN_YEAR).astype(int)
    table = items[genres].astype("float32").assign(year_bucket=bucket)
    return table.set_axis(items["item_id"]).sort_index()


def feature_inputs(coded: pd.DataFrame, users: pd.DataFrame, items: pd.DataFrame,
                   genres: Sequence[str]) -> dict[str, np.ndarray]:
    """:func:`pair_inputs` plus each rating's user and movie features, by input name.

    Taught in notebook 05_side_information, section 2. Row c of ``users`` / ``items`` (the
    feature tables) belongs to code c; every column of ``users`` and every non-genre column
    of ``items`` is an integer code, ``genres`` the float32 multi-hot vector.

    Example:
        >>> coded = pd.DataFrame({"user_idx": [1], "item_idx": [0]})
        >>> users = pd.DataFrame({"gender": [0, 1]})
        >>> items = pd.DataFrame({"Drama": [1.0], "year_bucket": [3]})
        >>> list(feature_inputs(coded, users, items, ["Drama"]))
        ['user', 'item', 'gender', 'year_bucket', 'genres']
    """
    inputs = pair_inputs(coded)
    user, item = inputs["user"], inputs["item"]
    codes = items.drop(columns=list(genres))
    return {**inputs,
            **{name: users[name].to_numpy("int32")[user] for name in users.columns},
            **{name: codes[name].to_numpy("int32")[item] for name in codes.columns},
            "genres": items[list(genres)].to_numpy("float32")[item]}


def build_hybrid_model(n_users: int, n_items: int, dim: int, global_mean: float,
                       user_features: Mapping[str, int], item_features: Mapping[str, int],
                       n_genres: int, rating_range: tuple[float, float] = (1.0, 5.0),
                       dropout: float = 0.0, name: str = "hybrid_mf") -> keras.Model:
    """Biased MF whose user and item vectors, and biases, also sum feature embeddings.

    Taught in notebook 05_side_information, section 4 (exercise 3). ``user_features`` and
    ``item_features`` map an input name to its number of codes. Layers ``user_factors``,
    ``item_factors``, ``<feature>_embedding``, ``genre_embedding`` (the dim-sized vectors,
    each followed by Dropout), ``user_bias``, ``item_bias``, ``<feature>_bias``,
    ``genre_bias`` (zero-initialised); inputs ``user``, ``item``, one per feature, ``genres``.

    Example:
        >>> model = build_hybrid_model(943, 1682, 128, 3.53, {"gender": 2}, {"year_bucket": 8},
        ...                            n_genres=19, dropout=0.7)
        >>> [t.name for t in model.inputs]
        ['user', 'item', 'gender', 'year_bucket', 'genres']
    """
    user = keras.Input(shape=(), dtype="int32", name="user")
    item = keras.Input(shape=(), dtype="int32", name="item")
    codes = {feature: keras.Input(shape=(), dtype="int32", name=feature)
             for feature in [*user_features, *item_features]}
    genres = keras.Input(shape=(n_genres,), dtype="float32", name="genres")
    sizes = {"user": n_users, "item": n_items, **user_features, **item_features}
    inputs = {"user": user, "item": item, **codes}

    def vector(key: str):                  # a dim-sized embedding, then dropout
        layer = f"{key}_factors" if key in ("user", "item") else f"{key}_embedding"
        return keras.layers.Dropout(dropout)(
            keras.layers.Embedding(sizes[key], dim, name=layer)(inputs[key]))

    def bias(key: str):                    # one number per code, starting at zero
        return keras.layers.Embedding(sizes[key], 1, embeddings_initializer="zeros",
                                      name=f"{key}_bias")(inputs[key])

    genre_vector = keras.layers.Dropout(dropout)(
        keras.layers.Dense(dim, use_bias=False, name="genre_embedding")(genres))
    p_u = keras.layers.Add(name="user_vector")([vector(key) for key in ["user", *user_features]])
    q_i = keras.layers.Add(name="item_vector")(
        [vector(key) for key in ["item", *item_features]] + [genre_vector])
    genre_bias = keras.layers.Dense(1, use_bias=False, kernel_initializer="zeros",
                                    name="genre_bias")(genres)
    biases = keras.layers.Add(name="all_biases")([bias(key) for key in sizes] + [genre_bias])
    low, high = rating_range
    logit = (keras.ops.sum(p_u * q_i, axis=-1) + keras.ops.squeeze(biases, axis=-1)
             + global_mean_logit(global_mean, low, high))
    return keras.Model([user, item, *codes.values(), genres], sigmoid_range(logit, low, high),
                       name=name)
