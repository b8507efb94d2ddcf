"""Self-checks for ``05_side_information``: feature tables and the hybrid model builder.

Each check calls the student's function on small hand-made cases whose answer is known (and
on the real MovieLens tables where useful) and says which case went wrong and how to fix it.

Example:
    >>> check_side_info_gain(0.917, 0.934, bar=0.93)
    ✓ with side information: test RMSE 0.9170 (≤ 0.93), 0.0170 better than without
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from reclab.checks import call_student, explain_symbolic, fail, first_line, passed, shorten

__all__ = [
    "check_hybrid_model",
    "check_item_feature_table",
    "check_side_info_gain",
    "check_user_feature_table",
]


def _listing(columns: Sequence[str]) -> str:
    """``[a, b, …, z]`` for long column lists (the 19 genres), the full list otherwise."""
    names = [str(c) for c in columns]
    return str(names) if len(names) <= 6 else f"[{names[0]!r}, {names[1]!r}, …, {names[-1]!r}]"


def _check_frame(
    result: Any, name: str, index: np.ndarray, index_name: str, columns: Sequence[str], case: str
) -> pd.DataFrame:
    __tracebackhide__ = True
    if not isinstance(result, pd.DataFrame):
        fail(f"on {case}, {name} returned a {type(result).__name__}, expected a DataFrame.")
    missing = [c for c in columns if c not in result.columns]
    if missing:
        fail(f"on {case}, {name} lacks column(s) {missing}; it has {list(result.columns)}.")
    extra = [str(c) for c in result.columns if c not in columns]
    if extra:
        fail(f"on {case}, {name} has extra column(s) {extra}: every column becomes a model "
             "input, and feature_inputs would fail on them.",
             f"keep exactly the columns {_listing(columns)}; drop {extra}.")
    if len(result) != len(index):
        fail(f"on {case}, {name} has {len(result)} rows, expected {len(index)} (one per "
             f"{index_name.removesuffix('_id')}).")
    got_index = np.asarray(result.index)
    if not np.array_equal(got_index, index):
        if np.array_equal(np.sort(got_index), index):
            fail(f"on {case}, the rows of {name} are not sorted by {index_name}.",
                 f"end with .sort_index() (row i must match embedding row i, i.e. the i-th "
                 f"smallest {index_name}).")
        fail(f"on {case}, the index of {name} is {got_index[:5].tolist()}…, expected the "
             f"{index_name}s {index[:5].tolist()}….",
             f"index the table by {index_name}: .set_index({index_name!r}).")
    return result


# --------------------------------------------------------------------------------------------
# user features


def _explain_intervals(exc: BaseException, name: str, column: str) -> str | None:
    """The cast of pd.cut's intervals to int fails: say that labels=False was forgotten."""
    if "interval" not in str(exc).lower():
        return None
    return (f"{name} raised {type(exc).__name__}: {str(exc).splitlines()[0]}\n"
            f"pd.cut without labels=False returns intervals such as (17, 24], and an interval "
            f"is not a number.\n"
            f"Hint: pd.cut(..., labels=False) gives the bucket numbers 0, 1, 2, … for {column}.")


def _explain_item_table(exc: BaseException, unknown: int) -> str | None:
    """Intervals cast to int, or NaN (the movie without a date) cast to int."""
    intervals = _explain_intervals(exc, "item_feature_table", "year_bucket")
    if intervals is not None:
        return intervals
    if type(exc).__name__ != "IntCastingNaNError":
        return None
    return (f"item_feature_table raised {shorten(first_line(exc), 70)}\n"
            "pd.cut gives NaN for the movie without a release date, and NaN has no integer.\n"
            f"Hint: .fillna(UNKNOWN_YEAR) (code {unknown}) before .astype(int).")


def _check_integer_codes(values: pd.Series, column: str, case: str) -> None:
    """Embedding layers need integer codes: explain each way a column can miss that."""
    __tracebackhide__ = True
    if isinstance(values.dtype, pd.CategoricalDtype):
        fail(f"on {case}, column {column!r} holds categories such as "
             f"{values.cat.categories[0]!s}, not integer codes.",
             "pd.cut(..., labels=False) gives the bucket numbers 0, 1, 2, …; for a "
             "Categorical, take .cat.codes (or pd.Categorical(...).codes).")
    if values.dtype.kind not in "iu":
        fail(f"on {case}, column {column!r} has dtype {values.dtype}: Embedding layers need "
             "integer codes.",
             "convert with .astype(int) once no value is missing (pd.cut(..., labels=False) "
             "returns floats when values can be missing).")


def _expected_buckets(ages: np.ndarray, bins: Sequence[float]) -> np.ndarray:
    """Bucket of each age for right-inclusive bins (bins[j], bins[j+1]]."""
    return np.searchsorted(np.asarray(bins, dtype=float), ages, side="left") - 1


def check_user_feature_table(
    fn: Callable[..., Any],
    users: pd.DataFrame | None = None,
    occupations: Sequence[str] | None = None,
    age_bins: Sequence[float] = (0, 17, 24, 34, 44, 49, 55, 120),
) -> None:
    """Check ``fn(users, occupations)`` -> int codes ``age_bucket, gender, occupation`` per user.

    Example:
        >>> def user_feature_table(users, occupations):
        ...     table = pd.DataFrame({
        ...         "age_bucket": pd.cut(users["age"], bins=[0, 17, 24, 34, 44, 49, 55, 120],
        ...                          labels=False),
        ...         "gender": (users["gender"] == "M").astype(int),
        ...         "occupation": pd.Categorical(users["occupation"],
        ...                                      categories=occupations).codes,
        ...     })
        ...     return table.set_axis(users["user_id"]).sort_index().astype(int)
        >>> check_user_feature_table(user_feature_table)  # doctest: +ELLIPSIS
        ✓ ...
    """
    __tracebackhide__ = True
    columns = ["age_bucket", "gender", "occupation"]
    ages = np.array([73, 7, 17, 18, 24, 25, 34, 35, 44, 45, 49, 50, 55, 56])
    hand_occupations = ["artist", "doctor", "none", "writer"]
    hand = pd.DataFrame({
        "user_id": np.arange(len(ages))[::-1] + 1,        # given in reverse id order
        "age": ages,
        "gender": ["F", "M"] * (len(ages) // 2),
        "occupation": ["writer", "doctor", "artist", "none", "doctor", "writer", "artist"] * 2,
        "zip_code": ["00000"] * len(ages),
    })
    case = "14 hand-made users (ages 7–73, given in reverse user_id order)"
    result = _check_frame(
        call_student(fn, "user_feature_table", hand.copy(), list(hand_occupations),
              explain=lambda exc: _explain_intervals(exc, "user_feature_table", "age_bucket")),
        "user_feature_table", np.arange(1, len(ages) + 1), "user_id", columns, case)
    by_id = hand.set_index("user_id").sort_index()
    for column in columns:
        _check_integer_codes(result[column], column, case)
    want_age = _expected_buckets(by_id["age"].to_numpy(), age_bins)
    got_age = result["age_bucket"].to_numpy()
    if not np.array_equal(got_age, want_age):
        bad = int(np.flatnonzero(got_age != want_age)[0])
        fail(f"on {case}, a user aged {by_id['age'].iloc[bad]} gets age_bucket {got_age[bad]}, "
             f"expected {want_age[bad]} with bins {list(age_bins)}.",
             "pd.cut(ages, bins=AGE_BINS, labels=False): bins include their right edge "
             "(right=True, the default), so 17 falls in the first bucket and 18 in the second.")
    want_gender = (by_id["gender"] == "M").astype(int).to_numpy()
    got_gender = result["gender"].to_numpy()
    if np.array_equal(got_gender, 1 - want_gender):
        fail(f"on {case}, gender codes are inverted: expected F -> 0 and M -> 1.")
    if not np.array_equal(got_gender, want_gender):
        fail(f"on {case}, gender codes are {got_gender.tolist()}, expected "
             f"{want_gender.tolist()} (F -> 0, M -> 1).")
    want_occ = by_id["occupation"].map({o: i for i, o in enumerate(hand_occupations)})
    got_occ = result["occupation"].to_numpy()
    if not np.array_equal(got_occ, want_occ.to_numpy()):
        bad = int(np.flatnonzero(got_occ != want_occ.to_numpy())[0])
        fail(f"on {case} with occupations={hand_occupations}, occupation "
             f"{by_id['occupation'].iloc[bad]!r} gets code {got_occ[bad]}, expected "
             f"{want_occ.iloc[bad]} (its position in `occupations`).",
             "use the given list, not the order of appearance: "
             "pd.Categorical(users['occupation'], categories=occupations).codes.")
    passed("user_feature_table gives the right integer codes on hand-made users")
    if users is None or occupations is None:
        return
    real = _check_frame(call_student(fn, "user_feature_table", users.copy(), list(occupations)),
                        "user_feature_table", np.sort(users["user_id"].to_numpy()), "user_id",
                        columns, "the real users")
    limits = {"age_bucket": len(age_bins) - 1, "gender": 2, "occupation": len(occupations)}
    for column, n in limits.items():
        values = real[column].to_numpy()
        if values.min() < 0 or values.max() >= n:
            fail(f"on the real users, {column} takes values {values.min()}..{values.max()}, "
                 f"expected 0..{n - 1} (-1 means a value missing from the categories).")
    passed(f"user_feature_table on the real users: {real.shape}, codes within range")


# --------------------------------------------------------------------------------------------
# item features


def check_item_feature_table(
    fn: Callable[..., Any],
    items: pd.DataFrame | None = None,
    genres: Sequence[str] | None = None,
    year_bins: Sequence[float] = (1900, 1959, 1969, 1979, 1989, 1994, 1996, 1998),
) -> None:
    """Check ``fn(items, genres)`` -> genre columns (float32 0/1) and ``year_bucket`` per item.

    ``year_bucket`` is the right-inclusive bin of the release year, and ``len(year_bins) - 1``
    (one past the last bin) for a missing release date.

    Example:
        >>> BINS = [1900, 1959, 1969, 1979, 1989, 1994, 1996, 1998]
        >>> def item_feature_table(items, genres):
        ...     year = items["release_date"].dt.year
        ...     bucket = pd.cut(year, bins=BINS, labels=False).fillna(len(BINS) - 1)
        ...     table = items[genres].astype("float32").assign(year_bucket=bucket.astype(int))
        ...     return table.set_axis(items["item_id"]).sort_index()
        >>> check_item_feature_table(item_feature_table)  # doctest: +ELLIPSIS
        ✓ ...
    """
    __tracebackhide__ = True
    hand_genres = ["Action", "Comedy", "Drama"]
    dates = pd.to_datetime(["1995-01-01", None, "1959-12-31", "1960-01-01", "1998-03-27",
                            "1930-05-01", "1994-12-31"])
    flags = np.array([[1, 1, 0], [0, 0, 1], [0, 0, 0], [1, 0, 1], [0, 1, 0], [0, 0, 1],
                      [1, 1, 1]], dtype=np.int8)
    hand = pd.DataFrame({"item_id": [40, 10, 70, 20, 60, 30, 50],
                         "title": [f"movie {i}" for i in range(7)], "release_date": dates})
    for j, genre in enumerate(hand_genres):
        hand[genre] = flags[:, j]
    case = "7 hand-made movies (one without a release date, given in shuffled order)"
    columns = [*hand_genres, "year_bucket"]
    result = _check_frame(
        call_student(fn, "item_feature_table", hand.copy(), list(hand_genres),
                     explain=lambda exc: _explain_item_table(exc, len(year_bins) - 1)),
        "item_feature_table", np.arange(10, 80, 10), "item_id", columns, case)
    by_id = hand.set_index("item_id").sort_index()
    got_genres = result[hand_genres]
    if not all(got_genres[g].dtype == np.float32 for g in hand_genres):
        fail(f"on {case}, the genre columns have dtypes {got_genres.dtypes.unique().tolist()}, "
             "expected float32 (the input of a Dense layer).",
             "items[genres].astype('float32').")
    if not np.array_equal(got_genres.to_numpy(), by_id[hand_genres].to_numpy(np.float32)):
        fail(f"on {case}, the genre columns do not match the items' genre flags (after "
             "sorting by item_id).", "copy the flags: items[genres], aligned with item_id.")
    bucket = result["year_bucket"]
    unknown = len(year_bins) - 1
    if isinstance(bucket.dtype, pd.CategoricalDtype):
        _check_integer_codes(bucket, "year_bucket", case)
    if bucket.dtype.kind not in "iu":
        fail(f"on {case}, year_bucket has dtype {bucket.dtype}, expected integers.",
             f"give the missing dates their code first (.fillna({unknown})), then "
             ".astype(int).")
    years = by_id["release_date"].dt.year.to_numpy(dtype=float)
    want = np.where(np.isnan(years), unknown,
                    _expected_buckets(np.nan_to_num(years, nan=year_bins[1]), year_bins))
    got = bucket.to_numpy()
    if not np.array_equal(got, want):
        bad = int(np.flatnonzero(got != want)[0])
        year = ("without a release date" if np.isnan(years[bad])
                else f"released in {int(years[bad])}")
        fail(f"on {case}, the movie {year} gets year_bucket {got[bad]}, expected {want[bad]} "
             f"(bins {list(year_bins)}, and {unknown} when the date is missing).",
             "pd.cut(items['release_date'].dt.year, bins=YEAR_BINS, labels=False), then "
             f".fillna({unknown}).astype(int).")
    passed("item_feature_table gives float32 genre flags and the right year buckets")
    if items is None or genres is None:
        return
    real = _check_frame(call_student(fn, "item_feature_table", items.copy(), list(genres)),
                        "item_feature_table", np.sort(items["item_id"].to_numpy()), "item_id",
                        [*genres, "year_bucket"], "the real movies")
    values = real["year_bucket"].to_numpy()
    if values.min() < 0 or values.max() > unknown:
        fail(f"on the real movies, year_bucket takes values {values.min()}..{values.max()}, "
             f"expected 0..{unknown}.")
    passed(f"item_feature_table on the real movies: {real.shape}, buckets 0..{unknown}")


# --------------------------------------------------------------------------------------------
# the hybrid model


def _explain_build_error(exc: BaseException, dim: int, call: str) -> str:
    """A sentence for the Keras errors students meet most while wiring the hybrid model."""
    symbolic = explain_symbolic(exc, call, "keras.ops.sum(p_u * q_i, axis=-1)")
    if symbolic is not None:
        return symbolic
    text = str(exc)
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    sizes = {int(n) for n in re.findall(r"\b\d+\b", text)}
    if "found ndim=1" in text or ("genre" in text and "(None,)" in text):
        return (
            f"build_hybrid_model raised {type(exc).__name__}: {first}\n"
            "The genres input looks declared as one integer code per row. It is a multi-hot "
            "vector of n_genres flags, the input of a Dense layer.\n"
            "Hint: genres = keras.Input(shape=(n_genres,), dtype='float32', name='genres')."
        )
    if sizes & {2 * dim, 3 * dim, 4 * dim} and any(
        word in text.lower() for word in ("broadcast", "incompatible", "shape")
    ):
        return (
            f"build_hybrid_model raised {type(exc).__name__}: {first}\n"
            f"A vector of size 2, 3 or 4 × dim (dim = {dim} here) appeared: were the vectors "
            "joined with Concatenate? The design ADDS them, so p_u and q_i keep dim entries "
            "and their dot product is defined.\n"
            "Hint: keras.layers.Add()([...]) sums a list of same-shape tensors."
        )
    return f"{call} raised {first_line(exc)}"


def _producer(tensor: Any) -> Any:
    history = getattr(tensor, "_keras_history", None)
    return None if history is None else history[0]


def _dropped_layers(model: Any) -> dict[str, float]:
    """Names of the layers whose output goes straight into a Dropout layer, with its rate."""
    import keras

    dropped: dict[str, float] = {}
    for layer in model.layers:
        if not isinstance(layer, keras.layers.Dropout):
            continue
        for node in layer._inbound_nodes:
            for tensor in node.input_tensors:
                source = _producer(tensor)
                if source is not None:
                    dropped[source.name] = float(layer.rate)
    return dropped


def _check_hybrid_layers(
    model: Any, n_users: int, n_items: int, dim: int, dropout: float,
    features: Mapping[str, int], n_genres: int,
) -> None:
    """The layer names, kinds and sizes the design of section 4 asks for."""
    __tracebackhide__ = True
    import keras

    layers = {layer.name: layer for layer in model.layers}
    if any(isinstance(layer, keras.layers.Concatenate) for layer in model.layers):
        fail("the model has a Concatenate layer, but the design ADDS the vectors: "
             "p_u = e_u + e_age + … and q_i = e_i + W g_i + e_year.",
             "keras.layers.Add()([...]) sums a list of same-shape tensors.")
    vectors = {"user_factors": n_users, "item_factors": n_items,
               **{f"{f}_embedding": n for f, n in features.items()}}
    biases = {"user_bias": n_users, "item_bias": n_items,
              **{f"{f}_bias": n for f, n in features.items()}}
    for layer_name, rows in {**vectors, **biases}.items():
        width = dim if layer_name in vectors else 1
        what = "vector" if width == dim else "bias"
        layer = layers.get(layer_name)
        if layer is None:
            spec = "dim" if width == dim else "1, embeddings_initializer='zeros'"
            kin = sorted(n for n in layers if n.endswith(layer_name.rsplit("_", 1)[1]))
            fail(f"the model has no layer named {layer_name!r} (the {what} of "
                 f"{layer_name.rsplit('_', 1)[0]!r}); its layers of that kind: {kin}.",
                 f"keras.layers.Embedding({rows}, {spec}, name={layer_name!r}), "
                 "as section 4 lists.")
        size = (getattr(layer, "input_dim", None), getattr(layer, "output_dim", None))
        if not isinstance(layer, keras.layers.Embedding) or size != (rows, width):
            shape = (getattr(layer, "input_dim", "?"), getattr(layer, "output_dim", "?"))
            fail(f"layer {layer_name!r} is a {type(layer).__name__} of shape {shape}, "
                 f"expected an Embedding({rows}, {width}).")
    for layer_name, units in [("genre_embedding", dim), ("genre_bias", 1)]:
        layer = layers.get(layer_name)
        if not isinstance(layer, keras.layers.Dense) or layer.units != units:
            spec = "dim" if units == dim else "1, kernel_initializer='zeros'"
            fail(f"the model has no Dense({units}) layer named {layer_name!r}.",
                 f"keras.layers.Dense({spec}, use_bias=False, name={layer_name!r})(genres).")
        if layer.use_bias:
            fail(f"the Dense layer {layer_name!r} has a bias (use_bias=True): a bias there "
                 "adds the same constant to every movie, whatever its genres, so it is not a "
                 "genre effect (the global mean already plays that role).",
                 f"keras.layers.Dense(..., use_bias=False, name={layer_name!r}).")
    for layer_name in [*biases, "genre_bias"]:
        weights = layers[layer_name].get_weights()[0]
        if np.abs(weights).max() > 0:
            fail(f"the bias layer {layer_name!r} does not start at zero (its initial "
                 f"values reach {np.abs(weights).max():.3g}).",
                 "embeddings_initializer='zeros' for the Embedding biases, "
                 "kernel_initializer='zeros' for the genre Dense: at the start the model "
                 "predicts the global mean.")
    dropped = _dropped_layers(model)
    wanted = [*vectors, "genre_embedding"]
    missing = [name for name in wanted if name not in dropped]
    if missing:
        fail(f"no Dropout(dropout) right after the layer(s) {missing} (the check builds the "
             f"model with dropout={dropout}): section 4 asks for dropout on each of the "
             f"{len(wanted)} dim-sized vectors, before they are added.",
             "keras.layers.Dropout(dropout)(keras.layers.Embedding(n, dim, name=...)(codes)).")
    wrong = {name: rate for name, rate in dropped.items() if name in wanted and rate != dropout}
    if wrong:
        fail(f"the Dropout after {sorted(wrong)} has rate(s) {sorted(set(wrong.values()))}, "
             f"but build_hybrid_model was called with dropout={dropout}.",
             "use the argument: keras.layers.Dropout(dropout).")
    on_biases = sorted(name for name in dropped if name in biases or name == "genre_bias")
    if on_biases:
        fail(f"the bias layer(s) {on_biases} go through Dropout; the design drops the "
             "dim-sized vectors only, as build_biased_mf does.")


def _design_prediction(
    model: Any, batch: Mapping[str, np.ndarray], user_features: Sequence[str],
    item_features: Sequence[str], global_mean: float,
) -> np.ndarray:
    """sigmoid_range(logit(mean) + every bias + p_u . q_i) from the model's own weights."""
    def table(name: str) -> np.ndarray:
        return model.get_layer(name).get_weights()[0]

    p = table("user_factors")[batch["user"]] + sum(
        table(f"{f}_embedding")[batch[f]] for f in user_features)
    q = (table("item_factors")[batch["item"]]
         + sum(table(f"{f}_embedding")[batch[f]] for f in item_features)
         + batch["genres"] @ table("genre_embedding"))
    bias = (table("user_bias")[batch["user"], 0] + table("item_bias")[batch["item"], 0]
            + sum(table(f"{f}_bias")[batch[f], 0] for f in [*user_features, *item_features])
            + batch["genres"] @ table("genre_bias")[:, 0])
    share = (global_mean - 1.0) / 4.0
    logit = np.log(share / (1 - share)) + bias + np.sum(p * q, axis=-1)
    return 1.0 + 4.0 / (1.0 + np.exp(-logit))


def check_hybrid_model(
    build: Callable[..., Any],
    user_features: Mapping[str, int] | None = None,
    item_features: Mapping[str, int] | None = None,
    n_genres: int = 4,
    global_mean: float = 3.5,
) -> None:
    """Build a small hybrid model; check its inputs, layers, dropout and output formula.

    The builder is called as ``build(n_users, n_items, dim, global_mean, user_features,
    item_features, n_genres, dropout=0.5)``. The model must take the inputs ``user``,
    ``item``, one per categorical feature and ``genres`` (float32, ``n_genres`` wide); have
    the layers of section 4 (``user_factors``, ``<feature>_embedding``, ``genre_embedding``,
    ``user_bias``, ``<feature>_bias``, ``genre_bias`` …, biases starting at zero, a Dropout
    after each ``dim``-sized vector); and compute
    ``1 + 4 sigmoid(logit((mean - 1) / 4) + all biases + p_u . q_i)``.

    Example:
        >>> from reclab.models import build_hybrid_model
        >>> check_hybrid_model(build_hybrid_model)  # doctest: +ELLIPSIS
        ✓ ...
    """
    __tracebackhide__ = True
    import keras

    user_features = dict(user_features or {"age_bucket": 3, "gender": 2, "occupation": 4})
    item_features = dict(item_features or {"year_bucket": 3})
    features = {**user_features, **item_features}
    n_users, n_items, dim, dropout = 6, 9, 8, 0.5
    call = (f"build_hybrid_model({n_users}, {n_items}, {dim}, {round(global_mean, 4)}, "
            f"user_features, item_features, {n_genres}, dropout={dropout})")
    model = call_student(build, "build_hybrid_model", n_users, n_items, dim, global_mean,
                         dict(user_features), dict(item_features), n_genres, dropout=dropout,
                         explain=lambda exc: _explain_build_error(exc, dim, call))
    if not isinstance(model, keras.Model):
        fail(f"build_hybrid_model returned a {type(model).__name__}, expected a keras.Model.",
             "end with `return keras.Model([user, item, *codes.values(), genres], rating, "
             "name=name)`.")
    inputs = {t.name.split(":")[0]: t for t in model.inputs}
    wanted = ["user", "item", *features, "genres"]
    missing = [n for n in wanted if n not in inputs]
    if missing:
        fail(f"the model's inputs are named {list(inputs)}; missing {missing}.",
             "give each keras.Input the name of its feature, e.g. keras.Input(shape=(), "
             "dtype='int32', name='age_bucket'), and pass every Input to keras.Model.")
    for name in wanted:
        shape, dtype = tuple(inputs[name].shape[1:]), str(inputs[name].dtype)
        want_shape, kind = ((n_genres,), "float") if name == "genres" else ((), "int")
        if shape != want_shape or kind not in dtype:
            fail(f"the input {name!r} has shape {shape} and dtype {dtype}, expected shape "
                 f"{want_shape} and a{'' if kind == 'float' else 'n'} {kind} dtype.",
                 "genres: keras.Input(shape=(n_genres,), dtype='float32', name='genres'); "
                 "the codes: keras.Input(shape=(), dtype='int32', name=...).")
    if model.name.startswith("functional"):
        fail(f"the model is called {model.name!r}: logs would read "
             f"\"{model.name}: trained in …\".",
             "keras.Model(..., name=name), with the argument name='hybrid_mf'.")
    _check_hybrid_layers(model, n_users, n_items, dim, dropout, features, n_genres)

    rng = np.random.default_rng(0)
    for layer in model.layers:                        # known weights, biases included
        if layer.weights:
            layer.set_weights([rng.normal(0.0, 0.3, w.shape).astype("float32")
                               for w in layer.get_weights()])
    n = 16
    batch: dict[str, np.ndarray] = {
        "user": rng.integers(0, n_users, n).astype("int32"),
        "item": rng.integers(0, n_items, n).astype("int32"),
        **{f: rng.integers(0, c, n).astype("int32") for f, c in features.items()},
        "genres": (rng.random((n, n_genres)) < 0.4).astype("float32"),
    }
    batch = {k: batch[k] for k in wanted}

    def predict(rows: dict[str, np.ndarray]) -> np.ndarray:
        __tracebackhide__ = True
        try:
            out = model(rows, training=False)
        except Exception as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            fail(f"the model fails on a batch of {n} rows: {type(exc).__name__}: {first}",
                 "each categorical input has shape=() and dtype int32; genres has "
                 f"shape=({n_genres},) and dtype float32.")
        return np.asarray(keras.ops.convert_to_numpy(out), dtype=float)

    out = predict(batch)
    if out.shape == (n, n):
        fail(f"on a batch of {n} rows the model outputs shape {out.shape}, expected ({n},): "
             f"the biases (Embedding(n, 1) and Dense(1) give shape ({n}, 1)) were added to "
             f"the ({n},) dot product, and ({n}, 1) + ({n},) broadcasts to ({n}, {n}).",
             "squeeze the biases first: keras.ops.squeeze(biases, axis=-1).")
    if out.reshape(-1).shape != (n,):
        fail(f"on a batch of {n} rows the model outputs shape {out.shape}, expected ({n},): "
             "one rating per row.")
    out = out.reshape(-1)
    if not np.isfinite(out).all() or out.min() < 1 or out.max() > 5:
        fail(f"the model's predictions range from {out.min():.3g} to {out.max():.3g}; "
             "they should lie in [1, 5].",
             "end like the biased MF: sigmoid_range(logit, 1.0, 5.0).")
    for name in wanted:
        changed = dict(batch)
        changed[name] = (1.0 - batch[name] if name == "genres" else
                         (batch[name] + 1) % {"user": n_users, "item": n_items,
                                              **features}[name]).astype(batch[name].dtype)
        if np.allclose(predict(changed).reshape(-1), out, atol=1e-9, rtol=0):
            fail(f"changing the input {name!r} does not change any prediction: the model "
                 "ignores it.",
                 f"connect {name!r} to the user or item vector and to a bias.")
    want = _design_prediction(model, batch, list(user_features), list(item_features),
                              global_mean)
    if not np.allclose(out, want, atol=1e-4, rtol=1e-4):
        bad = int(np.argmax(np.abs(out - want)))
        fail(f"with known weights, row {bad} of a batch predicts {out[bad]:.4f}, but the design "
             f"gives {want[bad]:.4f}.",
             "p_u = sum of the user's vectors, q_i = sum of the movie's (W g_i included), "
             "rating = sigmoid_range(global_mean_logit(...) + every bias + p_u · q_i).")
    passed(f"the hybrid model takes {wanted}, has the layers, zero-initialised biases and "
           "dropout of section 4, and computes its formula")


# --------------------------------------------------------------------------------------------
# the measured gain


def check_side_info_gain(hybrid_rmse: float, plain_rmse: float, bar: float = 0.93) -> None:
    """Check the hybrid model's test RMSE against a bar and against the model without features.

    Example:
        >>> check_side_info_gain(0.92, 0.93, bar=0.93)
        ✓ with side information: test RMSE 0.9200 (≤ 0.93), 0.0100 better than without
    """
    __tracebackhide__ = True
    hybrid, plain = float(hybrid_rmse), float(plain_rmse)
    if not np.isfinite(hybrid) or hybrid > bar:
        fail(f"the model with side information reaches test RMSE {hybrid:.4f}, above the bar "
             f"{bar}.",
             "look at its loss curves; check that every feature reaches the output (the "
             "check of build_hybrid_model) and that the features are aligned with the ids.")
    if hybrid >= plain:
        fail(f"with side information the test RMSE is {hybrid:.4f}, no better than "
             f"{plain:.4f} without.",
             "are the feature tables aligned with the encoded ids (row i = id "
             "encoder.user_ids[i])?")
    passed(f"with side information: test RMSE {hybrid:.4f} (≤ {bar}), "
           f"{plain - hybrid:.4f} better than without")
