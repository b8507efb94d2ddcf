"""Self-checks for ``05_side_information``: feature tables and the hybrid model builder.

Each check calls the student's function on small hand-made cases whose answer is known (and
on the real MovieLens tables where useful) and says which case went wrong and how to fix it.

Example:
    >>> check_side_info_gain(0.917, 0.934, bar=0.93)
    ✓ with side information: test RMSE 0.9170 (≤ 0.93), 0.0170 better than without
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from reclab.checks import call_student, fail, passed

__all__ = [
    "check_hybrid_model",
    "check_item_feature_table",
    "check_side_info_gain",
    "check_user_feature_table",
]


def _check_frame(
    result: Any, name: str, index: np.ndarray, index_name: str, columns: Sequence[str], case: str
) -> pd.DataFrame:
    __tracebackhide__ = True
    if not isinstance(result, pd.DataFrame):
        fail(f"on {case}, {name} returned a {type(result).__name__}, expected a DataFrame.")
    missing = [c for c in columns if c not in result.columns]
    if missing:
        fail(f"on {case}, {name} lacks column(s) {missing}; it has {list(result.columns)}.")
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
        call_student(fn, "user_feature_table", hand.copy(), list(hand_occupations)),
        "user_feature_table", np.arange(1, len(ages) + 1), "user_id", columns, case)
    by_id = hand.set_index("user_id").sort_index()
    for column in columns:
        kind = np.asarray(result[column]).dtype.kind
        if kind not in "iu":
            fail(f"on {case}, column {column!r} has dtype {result[column].dtype}: "
                 "Embedding layers need integer codes.",
                 "convert with .astype(int) (pd.cut(..., labels=False) returns floats when "
                 "values can be missing; Categorical codes are int8, which is fine).")
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
    result = _check_frame(call_student(fn, "item_feature_table", hand.copy(), list(hand_genres)),
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
    if bucket.dtype.kind not in "iu":
        fail(f"on {case}, year_bucket has dtype {bucket.dtype}, expected integers.",
             "fill the missing dates' bucket first (.fillna(...)), then .astype(int).")
    unknown = len(year_bins) - 1
    years = by_id["release_date"].dt.year.to_numpy(dtype=float)
    want = np.where(np.isnan(years), unknown,
                    _expected_buckets(np.nan_to_num(years, nan=year_bins[1]), year_bins))
    got = bucket.to_numpy()
    if not np.array_equal(got, want):
        bad = int(np.flatnonzero(got != want)[0])
        year = "no release date" if np.isnan(years[bad]) else f"released in {int(years[bad])}"
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


def check_hybrid_model(
    build: Callable[..., Any],
    user_features: Mapping[str, int] | None = None,
    item_features: Mapping[str, int] | None = None,
    n_genres: int = 4,
    global_mean: float = 3.5,
    id_layers: Sequence[str] = ("user_factors", "item_factors", "user_bias", "item_bias"),
) -> None:
    """Build a small hybrid model and check its inputs, output and that every input matters.

    The builder is called as ``build(n_users, n_items, user_features, item_features,
    n_genres, global_mean=global_mean, k=8)``; the model must take the inputs ``user_idx,
    item_idx``, one per categorical feature, and ``genres`` (float, ``n_genres`` wide), have
    the layers named in ``id_layers``, and predict ratings in [1, 5].
    """
    __tracebackhide__ = True
    import keras

    user_features = dict(user_features or {"age_bucket": 3, "gender": 2, "occupation": 4})
    item_features = dict(item_features or {"year_bucket": 3})
    n_users, n_items = 6, 9
    model = call_student(build, "build_hybrid_model", n_users, n_items, dict(user_features),
                  dict(item_features), n_genres, global_mean=global_mean, k=8)
    if not isinstance(model, keras.Model):
        fail(f"build_hybrid_model returned a {type(model).__name__}, expected a keras.Model.",
             "end with `return keras.Model(inputs=[...], outputs=rating)`.")
    names = [t.name.split(":")[0] for t in model.inputs]
    wanted = ["user_idx", "item_idx", *user_features, *item_features, "genres"]
    missing = [n for n in wanted if n not in names]
    if missing:
        fail(f"the model's inputs are named {names}; missing {missing}.",
             "give each keras.Input the name of its feature: keras.Input(shape=(), "
             "dtype='int32', name='age_bucket'), and pass every Input to keras.Model.")
    layer_names = {layer.name for layer in model.layers}
    missing_layers = [name for name in id_layers if name not in layer_names]
    if missing_layers:
        fail(f"the model has no layer named {missing_layers}.",
             "name the id embeddings and biases as in build_biased_mf, e.g. "
             "keras.layers.Embedding(n_users, k, name='user_factors').")
    rng = np.random.default_rng(0)
    n = 16
    batch: dict[str, np.ndarray] = {
        "user_idx": rng.integers(0, n_users, n), "item_idx": rng.integers(0, n_items, n),
        **{f: rng.integers(0, c, n) for f, c in {**user_features, **item_features}.items()},
        "genres": (rng.random((n, n_genres)) < 0.4).astype("float32"),
    }
    batch = {k: v for k, v in batch.items() if k in names}

    def predict(inputs: dict[str, np.ndarray]) -> np.ndarray:
        __tracebackhide__ = True
        try:
            out = model(inputs, training=False)
        except Exception as exc:
            fail(f"the model fails on a batch of {n} rows: {type(exc).__name__}: {exc}",
                 "each categorical input has shape=() and dtype int32; genres has "
                 f"shape=({n_genres},) and dtype float32.")
        return np.asarray(keras.ops.convert_to_numpy(out), dtype=float)

    out = predict(batch)
    if out.reshape(-1).shape != (n,):
        fail(f"on a batch of {n} rows the model outputs shape {out.shape}, expected ({n},) or "
             f"({n}, 1): one rating per row.")
    out = out.reshape(-1)
    if not np.isfinite(out).all() or out.min() < 1 or out.max() > 5:
        fail(f"the model's predictions range from {out.min():.3g} to {out.max():.3g}; "
             "they should lie in [1, 5].",
             "end like the biased MF: a sigmoid, then Rescaling(scale=4.0, offset=1.0).")
    for name in wanted:
        changed = dict(batch)
        if name == "genres":
            changed[name] = 1.0 - batch[name]
        else:
            size = {"user_idx": n_users, "item_idx": n_items, **user_features,
                    **item_features}[name]
            changed[name] = (batch[name] + 1) % size
        if np.allclose(predict(changed).reshape(-1), out, atol=1e-9, rtol=0):
            fail(f"changing the input {name!r} does not change any prediction: the model "
                 "ignores it.",
                 f"connect {name!r} to the user or item vector (and/or a bias) that feeds the "
                 "output.")
    passed(f"the hybrid model takes {wanted}, predicts ratings in [1, 5], "
           "and uses every input")


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
