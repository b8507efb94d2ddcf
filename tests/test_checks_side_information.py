"""The 05_side_information self-checks pass right answers and explain typical wrong ones."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from reclab.checks import CheckFailed
from reclab.checks.side_information import (
    check_hybrid_model,
    check_item_feature_table,
    check_side_info_gain,
    check_user_feature_table,
)

AGE_BINS = [0, 17, 24, 34, 44, 49, 55, 120]
YEAR_BINS = [1900, 1959, 1969, 1979, 1989, 1994, 1996, 1998]
OCCUPATIONS = ["administrator", "artist", "doctor", "none", "writer"]
GENRES = ["Action", "Comedy", "Drama", "Romance"]
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def assert_short_lines(excinfo) -> None:
    """As JupyterLab shows the failure, every line fits in 100 characters."""
    shown = [ANSI.sub("", line) for line in excinfo.value._render_traceback_()]
    long = [line for line in shown if len(line) > 100]
    assert not long, long


def real_like_users() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 30
    return pd.DataFrame({
        "user_id": rng.permutation(np.arange(1, n + 1)),
        "age": rng.integers(7, 74, n),
        "gender": rng.choice(["F", "M"], n),
        "occupation": rng.choice(OCCUPATIONS, n),
        "zip_code": ["12345"] * n,
    })


def real_like_items() -> pd.DataFrame:
    rng = np.random.default_rng(1)
    n = 25
    dates = pd.to_datetime(rng.integers(1922, 1999, n).astype(str) + "-06-01")
    items = pd.DataFrame({"item_id": np.arange(1, n + 1), "title": ["t"] * n,
                          "release_date": dates.where(np.arange(n) != 4)})
    for genre in GENRES:
        items[genre] = (rng.random(n) < 0.3).astype(np.int8)
    return items


# --------------------------------------------------------------------------- user features


def users_right(users, occupations):
    table = pd.DataFrame({
        "age_bucket": pd.cut(users["age"], bins=AGE_BINS, labels=False),
        "gender": (users["gender"] == "M").astype(int),
        "occupation": pd.Categorical(users["occupation"], categories=occupations).codes,
    })
    return table.set_axis(users["user_id"]).sort_index().astype(int)


def users_unsorted(users, occupations):
    return users_right(users, occupations).sample(frac=1.0, random_state=0)


def users_float_age(users, occupations):
    return users_right(users, occupations).astype({"age_bucket": float})


def users_left_closed(users, occupations):
    table = users_right(users, occupations)
    by_id = users.set_index("user_id").sort_index()
    table["age_bucket"] = pd.cut(by_id["age"], bins=AGE_BINS, labels=False, right=False)
    return table.astype(int)


def users_factorized(users, occupations):
    table = users_right(users, occupations)
    by_id = users.set_index("user_id").sort_index()
    table["occupation"] = pd.factorize(by_id["occupation"])[0]
    return table


def users_gender_inverted(users, occupations):
    table = users_right(users, occupations)
    table["gender"] = 1 - table["gender"]
    return table


def users_intervals(users, occupations):
    table = users_right(users, occupations).astype(object)
    by_id = users.set_index("user_id").sort_index()
    table["age_bucket"] = pd.cut(by_id["age"], bins=AGE_BINS)          # no labels=False
    return table.astype({"gender": int, "occupation": int})


def users_intervals_astype(users, occupations):
    table = pd.DataFrame({
        "age_bucket": pd.cut(users["age"], bins=AGE_BINS),             # no labels=False
        "gender": (users["gender"] == "M").astype(int),
        "occupation": pd.Categorical(users["occupation"], categories=occupations).codes,
    })
    return table.set_axis(users["user_id"]).sort_index().astype(int)   # fails on intervals


def users_no_index(users, occupations):
    return users_right(users, occupations).reset_index(drop=True)


def test_user_features_right_answer_passes(capsys):
    check_user_feature_table(users_right, real_like_users(), OCCUPATIONS, AGE_BINS)
    assert capsys.readouterr().out.count("✓") == 2


@pytest.mark.parametrize(
    ("fn", "words"),
    [
        (users_unsorted, "not sorted by user_id"),
        (users_float_age, "integer codes"),
        (users_left_closed, "right edge"),
        (users_factorized, "position in `occupations`"),
        (users_gender_inverted, "inverted"),
        (users_no_index, "index"),
        (users_intervals, "labels=False"),
        (users_intervals_astype, "labels=False"),
        (lambda users, occupations: users, "lacks column"),
    ],
)
def test_user_features_wrong_answers_explained(fn, words):
    with pytest.raises(CheckFailed, match=words) as excinfo:
        check_user_feature_table(fn, age_bins=AGE_BINS)
    assert_short_lines(excinfo)
    assert ".astype(int)" not in str(excinfo.value) or fn is users_float_age


def test_user_features_real_codes_out_of_range():
    users = real_like_users()

    def right_only_on_small_tables(users, occupations):
        table = users_right(users, occupations)
        if len(users) > 20:       # a bug that the hand-made case cannot see
            table["occupation"] -= 1
        return table

    with pytest.raises(CheckFailed, match="-1 means"):
        check_user_feature_table(right_only_on_small_tables, users, OCCUPATIONS, AGE_BINS)


# --------------------------------------------------------------------------- item features


def items_right(items, genres):
    year = items["release_date"].dt.year
    bucket = pd.cut(year, bins=YEAR_BINS, labels=False).fillna(len(YEAR_BINS) - 1)
    table = items[genres].astype("float32").assign(year_bucket=bucket.astype(int))
    return table.set_axis(items["item_id"]).sort_index()


def items_int_genres(items, genres):
    return items_right(items, genres).astype({g: "int8" for g in genres})


def items_nan_bucket(items, genres):
    year = items["release_date"].dt.year
    table = items[genres].astype("float32").assign(
        year_bucket=pd.cut(year, bins=YEAR_BINS, labels=False))
    return table.set_axis(items["item_id"]).sort_index()


def items_unknown_is_zero(items, genres):
    year = items["release_date"].dt.year
    bucket = pd.cut(year, bins=YEAR_BINS, labels=False).fillna(0)
    table = items[genres].astype("float32").assign(year_bucket=bucket.astype(int))
    return table.set_axis(items["item_id"]).sort_index()


def items_misaligned(items, genres):
    table = items_right(items, genres)
    table[genres] = items[genres].to_numpy("float32")       # flags in input order, not by id
    return table


def items_intervals(items, genres):
    bucket = pd.cut(items["release_date"].dt.year, bins=YEAR_BINS)
    table = items[genres].astype("float32").assign(year_bucket=bucket)
    return table.set_axis(items["item_id"]).sort_index()


def items_astype_crash(items, genres):
    year = items["release_date"].dt.year
    bucket = pd.cut(year, bins=YEAR_BINS, labels=False).astype(int)
    return items[genres].astype("float32").assign(year_bucket=bucket)


def items_keep_title_and_date(items, genres):
    """Walkthrough: keeps title and release_date next to the features."""
    t = items.set_index("item_id").sort_index()
    out = t[["title", "release_date", *genres]].copy()
    out[genres] = out[genres].astype("float32")
    out["year_bucket"] = (pd.cut(t["release_date"].dt.year, bins=YEAR_BINS, labels=False)
                          .fillna(len(YEAR_BINS) - 1).astype(int))
    return out


def items_no_fillna(items, genres):
    """Walkthrough: .astype(int) straight after pd.cut (IntCastingNaNError on the NaN)."""
    t = items.set_index("item_id").sort_index()
    out = t[genres].astype("float32")
    out["year_bucket"] = pd.cut(t["release_date"].dt.year, bins=YEAR_BINS,
                                labels=False).astype(int)
    return out


@pytest.mark.parametrize(
    ("fn", "what", "hint"),
    [
        (items_keep_title_and_date, "['title', 'release_date']: every column becomes",
         "keep exactly the columns ['Action', 'Comedy', 'Drama', 'year_bucket']; drop "
         "['title', 'release_date']."),
        (items_no_fillna, "NaN for the movie without a release date",
         ".fillna(UNKNOWN_YEAR) (code 7) before .astype(int)."),
    ],
)
def test_item_features_walkthrough_mistakes_named(fn, what, hint):
    with pytest.raises(CheckFailed) as excinfo:
        check_item_feature_table(fn, year_bins=YEAR_BINS)
    message = " ".join(str(excinfo.value).split())
    assert what in message
    assert f"Hint: {hint}" in message
    assert_short_lines(excinfo)


def test_user_features_extra_columns_are_named():
    def users_keep_age(users, occupations):
        table = users_right(users, occupations)
        return table.assign(age=users.set_index("user_id").sort_index()["age"])

    with pytest.raises(CheckFailed, match=r"extra column\(s\) \['age'\]") as excinfo:
        check_user_feature_table(users_keep_age)
    assert_short_lines(excinfo)


def test_item_features_right_answer_passes(capsys):
    check_item_feature_table(items_right, real_like_items(), GENRES, YEAR_BINS)
    assert capsys.readouterr().out.count("✓") == 2


@pytest.mark.parametrize(
    ("fn", "words"),
    [
        (items_int_genres, "float32"),
        (items_nan_bucket, "year_bucket has dtype"),
        (items_unknown_is_zero, "the movie without a release date gets"),
        (items_intervals, "labels=False"),
        (items_misaligned, "do not match"),
        (items_astype_crash, "raised"),
    ],
)
def test_item_features_wrong_answers_explained(fn, words):
    with pytest.raises(CheckFailed, match=words) as excinfo:
        check_item_feature_table(fn, year_bins=YEAR_BINS)
    assert_short_lines(excinfo)


# --------------------------------------------------------------------------- hybrid model


def hybrid_builder(*, concat=False, genres_int=False, feature_bias=True, genre_dense_bias=False,
                   feature_dropout=True, dropout_on_sums=False, named=True, skip=None,
                   linear=False, model_name="hybrid_mf", bias_init="zeros", fixed_rate=None,
                   numpy_sum=False, squeeze=True):
    """The design of section 4, with one mistake switched on at a time."""
    import keras

    def build(n_users, n_items, dim, global_mean, user_features, item_features, n_genres,
              rating_range=(1.0, 5.0), dropout=0.0, name=model_name):
        rate = dropout if fixed_rate is None else fixed_rate
        user = keras.Input(shape=(), dtype="int32", name="user")
        item = keras.Input(shape=(), dtype="int32", name="item")
        codes = {f: keras.Input(shape=(), dtype="int32", name=f)
                 for f in [*user_features, *item_features]}
        genres = (keras.Input(shape=(), dtype="int32", name="genres") if genres_int
                  else keras.Input(shape=(n_genres,), dtype="float32", name="genres"))
        sizes = {"user": n_users, "item": n_items, **user_features, **item_features}
        inputs = {"user": user, "item": item, **codes}

        def vector(key):
            layer = f"{key}_factors" if key in ("user", "item") else f"{key}_embedding"
            e = keras.layers.Embedding(sizes[key], dim, name=layer if named else None)(
                inputs[key])
            keep = feature_dropout or key in ("user", "item")
            return keras.layers.Dropout(rate)(e) if keep and not dropout_on_sums else e

        def bias(key):
            return keras.layers.Embedding(sizes[key], 1, embeddings_initializer=bias_init,
                                          name=f"{key}_bias")(inputs[key])

        genre_vector = keras.layers.Dense(dim, use_bias=genre_dense_bias,
                                          name="genre_embedding")(genres)
        if feature_dropout and not dropout_on_sums:
            genre_vector = keras.layers.Dropout(rate)(genre_vector)
        join = keras.layers.Concatenate if concat else keras.layers.Add
        p_u = join()([vector(k) for k in ["user", *user_features] if k != skip])
        q_i = join()([vector(k) for k in ["item", *item_features] if k != skip] + [genre_vector])
        if dropout_on_sums:
            p_u, q_i = keras.layers.Dropout(rate)(p_u), keras.layers.Dropout(rate)(q_i)
        keys = [k for k in sizes if k != skip] if feature_bias else ["user", "item"]
        parts = [bias(k) for k in keys]
        if feature_bias:
            parts.append(keras.layers.Dense(1, use_bias=False, kernel_initializer="zeros",
                                            name="genre_bias")(genres))
        biases = keras.layers.Add()(parts)
        dot = np.sum(p_u * q_i, axis=-1) if numpy_sum else keras.ops.sum(p_u * q_i, axis=-1)
        logit = dot + (keras.ops.squeeze(biases, axis=-1) if squeeze else biases)
        share = (global_mean - 1) / 4
        logit = logit + float(np.log(share / (1 - share)))
        rating = logit if linear else 1 + 4 * keras.ops.sigmoid(logit)
        return keras.Model([user, item, *codes.values(), genres], rating, name=name)

    return build


def test_hybrid_right_models_pass(capsys):
    from reclab.models import build_hybrid_model

    check_hybrid_model(hybrid_builder())
    check_hybrid_model(build_hybrid_model, {"age_bucket": 7, "gender": 2}, {"year_bucket": 8},
                       n_genres=19, global_mean=3.53)
    assert capsys.readouterr().out.count("✓") == 2


@pytest.mark.parametrize(
    ("build", "words"),
    [
        (hybrid_builder(concat=True), "Concatenate"),
        (hybrid_builder(genres_int=True), "multi-hot vector"),
        (hybrid_builder(feature_bias=False), "no layer named 'age_bucket_bias'"),
        (hybrid_builder(genre_dense_bias=True), "'genre_embedding' has a bias"),
        (hybrid_builder(feature_dropout=False), r"no Dropout\(dropout\) right after"),
        (hybrid_builder(dropout_on_sums=True), r"no Dropout\(dropout\) right after"),
        (hybrid_builder(fixed_rate=0.6), "called with dropout=0.5"),
        (hybrid_builder(bias_init="uniform"), "does not start at zero"),
        (hybrid_builder(named=False), "no layer named 'user_factors'"),
        (hybrid_builder(skip="occupation"), "no layer named 'occupation_embedding'"),
        (hybrid_builder(linear=True), r"lie in \[1, 5\]"),
        (hybrid_builder(model_name=None), "logs would read"),
    ],
)
def test_hybrid_wrong_models_explained(build, words):
    with pytest.raises(CheckFailed, match=words) as excinfo:
        check_hybrid_model(build)
    assert_short_lines(excinfo)
    assert "Arguments received" not in str(excinfo.value)      # no echo of the Keras call


def test_hybrid_dropout_message_names_the_argument_not_the_checks_rate():
    with pytest.raises(CheckFailed) as excinfo:
        check_hybrid_model(hybrid_builder(feature_dropout=False))
    message = str(excinfo.value)
    assert "Dropout(0.5)" not in message              # the notebook uses dropout=0.7
    assert "the check builds the model with dropout=0.5" in " ".join(message.split())


def test_hybrid_numpy_on_keras_tensors_gets_the_keras_ops_hint():
    with pytest.raises(CheckFailed, match="A KerasTensor is symbolic") as excinfo:
        check_hybrid_model(hybrid_builder(numpy_sum=True), global_mean=3.5278472222222224)
    message = str(excinfo.value)
    assert "use keras.ops.* / keras.layers.*, not np.* (the inputs are symbolic)" in message
    assert "3.5278," in message and "3.52784722" not in message
    assert_short_lines(excinfo)


def test_hybrid_unsqueezed_biases_get_the_squeeze_hint():
    with pytest.raises(CheckFailed, match=r"\(16, 16\), expected \(16,\)") as excinfo:
        check_hybrid_model(hybrid_builder(squeeze=False))
    assert "keras.ops.squeeze(biases, axis=-1)" in str(excinfo.value)
    assert_short_lines(excinfo)


def test_hybrid_other_build_errors_show_short_floats():
    def broken(*args, **kwargs):
        raise TypeError("unsupported operand")

    with pytest.raises(CheckFailed, match="raised TypeError: unsupported operand") as excinfo:
        check_hybrid_model(broken, global_mean=3.5278472222222224)
    assert "build_hybrid_model(6, 9, 8, 3.5278, user_features" in str(excinfo.value)


def test_hybrid_wrong_formula_and_ignored_input():
    import keras

    def formula_off(*args, **kwargs):
        model = hybrid_builder()(*args, **kwargs)
        doubled = 1 + 4 * keras.ops.sigmoid(2 * keras.ops.log((model.output - 1) /
                                                              (5 - model.output)))
        return keras.Model(model.inputs, doubled, name="hybrid_mf")

    with pytest.raises(CheckFailed, match="the design gives"):
        check_hybrid_model(formula_off)


def test_hybrid_missing_input_and_stub():
    import keras

    def no_gender(n_users, n_items, dim, global_mean, user_features, item_features, n_genres,
                  **kwargs):
        user = keras.Input(shape=(), dtype="int32", name="user")
        item = keras.Input(shape=(), dtype="int32", name="item")
        dot = keras.layers.Dot(axes=1)([keras.layers.Embedding(n_users, dim)(user),
                                        keras.layers.Embedding(n_items, dim)(item)])
        return keras.Model([user, item], keras.layers.Dense(1, activation="sigmoid")(dot))

    with pytest.raises(CheckFailed, match="missing"):
        check_hybrid_model(no_gender)

    def stub(*args, **kwargs):
        raise NotImplementedError

    with pytest.raises(CheckFailed, match="not written yet"):
        check_hybrid_model(stub)


# --------------------------------------------------------------------------- gain


def test_side_info_gain():
    check_side_info_gain(0.915, 0.934, bar=0.93)
    with pytest.raises(CheckFailed, match="above the bar"):
        check_side_info_gain(0.95, 0.96, bar=0.93)
    with pytest.raises(CheckFailed, match="no better"):
        check_side_info_gain(0.925, 0.920, bar=0.93)
