"""The 04_embeddings self-checks pass right answers and explain typical wrong ones."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics.pairwise import cosine_similarity

from reclab.checks import CheckFailed
from reclab.checks.embeddings import (
    check_cosine_similarity_matrix,
    check_mf_quality,
    check_most_similar,
    check_neighbours_hold,
    check_recommend,
)

ANSI = re.compile(r"\x1b\[[0-9;]*m")

# --------------------------------------------------------------------------- cosine similarity


def cosine_right(E):
    norms = np.linalg.norm(E, axis=1, keepdims=True)
    unit = E / np.maximum(norms, 1e-12)
    return unit @ unit.T


def cosine_float32(E):
    return cosine_right(np.asarray(E, dtype=np.float32))


def cosine_no_norm(E):
    return E @ E.T


def cosine_nan_on_zero(E):
    unit = E / np.linalg.norm(E, axis=1, keepdims=True)
    return unit @ unit.T


def cosine_by_column(E):
    unit = E / np.linalg.norm(E, axis=0, keepdims=True)
    return unit @ unit.T


def cosine_gram_of_columns(E):
    unit = E / np.maximum(np.linalg.norm(E, axis=1, keepdims=True), 1e-12)
    return unit.T @ unit


def cosine_in_place(E):
    E /= np.maximum(np.linalg.norm(E, axis=1, keepdims=True), 1e-12)
    return E @ E.T


def cosine_no_keepdims(E):
    unit = E / np.maximum(np.linalg.norm(E, axis=1), 1e-12)
    return unit @ unit.T


def cosine_stub(E):
    raise NotImplementedError


def assert_short_lines(excinfo) -> None:
    """As JupyterLab shows the failure, every line fits in 100 characters."""
    shown = [ANSI.sub("", line) for line in excinfo.value._render_traceback_()]
    long = [line for line in shown if len(line) > 100]
    assert not long, long


@pytest.mark.parametrize("fn", [cosine_right, cosine_float32, cosine_similarity])
def test_cosine_right_answers_pass(fn, capsys):
    real = np.random.default_rng(1).normal(size=(50, 16)).astype(np.float32)
    check_cosine_similarity_matrix(fn, real)
    assert "✓" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("fn", "words"),
    [
        (cosine_no_norm, "diagonal should be 1"),
        (cosine_nan_on_zero, "NaN"),
        (cosine_by_column, "diagonal"),
        (cosine_gram_of_columns, "shape"),
        (cosine_in_place, "modified its input"),
        (cosine_no_keepdims, r"keepdims=True"),
        (cosine_stub, "not written yet"),
        (lambda E: None, "return"),
    ],
)
def test_cosine_wrong_answers_explained(fn, words):
    with pytest.raises(CheckFailed, match=words) as excinfo:
        check_cosine_similarity_matrix(fn)
    assert_short_lines(excinfo)


def cosine_double_loop(E):
    """Walkthrough: right values, but a Python double loop (the exercise says vectorised)."""
    n = len(E)
    S = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            a, b = np.linalg.norm(E[i]), np.linalg.norm(E[j])
            S[i, j] = 0.0 if a == 0 or b == 0 else E[i] @ E[j] / (a * b)
    return S


def cosine_row_loop(E):
    """One Python loop over the rows to normalise them, then one product."""
    unit = np.array([row / max(np.linalg.norm(row), 1e-12) for row in E])
    return unit @ unit.T


@pytest.mark.parametrize("fn", [cosine_double_loop, cosine_row_loop])
def test_cosine_python_loops_refused_by_count_not_clock(fn):
    with pytest.raises(CheckFailed, match="loops in Python: on 200 vectors") as excinfo:
        check_cosine_similarity_matrix(fn)
    assert "(counted, not timed)" in str(excinfo.value)
    assert "U @ U.T" in str(excinfo.value)
    assert_short_lines(excinfo)


# --------------------------------------------------------------------------- most similar


def most_similar_right(item_id, sims, ids, k=10):
    row = int(np.flatnonzero(ids == item_id)[0])
    scores = sims[row].astype(float)
    scores[row] = -np.inf
    order = np.argsort(-scores, kind="stable")[:k]
    return ids[order], scores[order]


def most_similar_keeps_itself(item_id, sims, ids, k=10):
    row = int(np.flatnonzero(ids == item_id)[0])
    order = np.argsort(-sims[row])[:k]
    return ids[order], sims[row][order]


def most_similar_positions(item_id, sims, ids, k=10):
    row = int(np.flatnonzero(ids == item_id)[0])
    scores = sims[row].astype(float)
    scores[row] = -np.inf
    order = np.argsort(-scores)[:k]
    return order, scores[order]


def most_similar_ascending(item_id, sims, ids, k=10):
    row = int(np.flatnonzero(ids == item_id)[0])
    scores = sims[row].astype(float)
    scores[row] = np.inf
    order = np.argsort(scores)[:k]
    return ids[order], scores[order]


def most_similar_ascending_self_first(item_id, sims, ids, k=10):
    row = int(np.flatnonzero(ids == item_id)[0])
    scores = sims[row].astype(float)
    scores[row] = -np.inf
    order = np.argsort(scores)[:k]
    return ids[order], scores[order]


def most_similar_ascending_tail(item_id, sims, ids, k=10):
    row = int(np.flatnonzero(ids == item_id)[0])
    scores = sims[row].astype(float)
    scores[row] = -np.inf
    order = np.argsort(scores)[-k:]          # the k best, but the best last
    return ids[order], scores[order]


def most_similar_in_place(item_id, sims, ids, k=10):
    row = int(np.flatnonzero(ids == item_id)[0])
    scores = sims[row]                       # a view: the next line writes into sims
    scores[row] = -np.inf
    order = np.argsort(-scores)[:k]
    return ids[order], scores[order]


def most_similar_row_is_id(item_id, sims, ids, k=10):
    scores = sims[item_id].astype(float)
    order = np.argsort(-scores)[1 : k + 1]
    return ids[order], scores[order]


def most_similar_drops_ones(item_id, sims, ids, k=10):
    row = int(np.flatnonzero(ids == item_id)[0])
    scores = np.where(np.isclose(sims[row], 1.0), -np.inf, sims[row])
    order = np.argsort(-scores)[:k]
    return ids[order], scores[order]


def most_similar_ids_only(item_id, sims, ids, k=10):
    return most_similar_right(item_id, sims, ids, k)[0]


def test_most_similar_right_answer_passes(capsys):
    check_most_similar(most_similar_right)
    assert "✓" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("fn", "words"),
    [
        (most_similar_keeps_itself, "itself"),
        (most_similar_positions, "positions, not item ids"),
        (most_similar_ascending, "LEAST similar"),
        (most_similar_ascending_self_first, "LEAST similar"),
        (most_similar_ascending_tail, "right items, in the wrong order"),
        (most_similar_in_place, "modified the matrix sims"),
        (most_similar_row_is_id, "item id was used as a row number"),
        (most_similar_drops_ones, "by its row position"),
        (most_similar_ids_only, "pair"),
    ],
)
def test_most_similar_wrong_answers_explained(fn, words):
    with pytest.raises(CheckFailed, match=words) as excinfo:
        check_most_similar(fn)
    assert_short_lines(excinfo)
    assert "flatnonzero" not in str(excinfo.value) or fn is most_similar_row_is_id


def most_similar_skips_first(item_id, sims, ids, k=10):
    """Walkthrough: sort, then skip the first entry, assuming it is the item itself."""
    row = np.flatnonzero(ids == item_id)[0]
    order = np.argsort(sims[row])[::-1][1:k + 1]
    return ids[order], sims[row][order]


def test_most_similar_skip_first_is_named_not_the_drop_ones_hint():
    with pytest.raises(CheckFailed, match="returned \\[8\\], expected \\[9\\]") as excinfo:
        check_most_similar(most_similar_skips_first)
    message = str(excinfo.value)
    assert "not by skipping the first of the sorted list: ties can put another item first" in (
        " ".join(message.split()))
    assert "dropping every similarity of 1" not in message
    assert_short_lines(excinfo)
    with pytest.raises(CheckFailed, match="dropping every similarity of 1") as excinfo:
        check_most_similar(most_similar_drops_ones)
    assert "skipping the first" not in str(excinfo.value)


def test_neighbours_hold():
    check_neighbours_hold([12, 181, 3], [172, 181])
    with pytest.raises(CheckFailed, match="none of"):
        check_neighbours_hold([1, 2, 3], [172, 181])


# --------------------------------------------------------------------------- recommend


def recommend_right(scores, seen_items, k=10):
    return scores.drop(seen_items).nlargest(k).index.to_numpy()


def recommend_keeps_seen(scores, seen_items, k=10):
    return scores.nlargest(k).index.to_numpy()


def recommend_series(scores, seen_items, k=10):
    return scores.drop(seen_items).nlargest(k)


def recommend_values(scores, seen_items, k=10):
    return scores.drop(seen_items).nlargest(k).to_numpy()


def recommend_worst(scores, seen_items, k=10):
    return scores.drop(seen_items).nsmallest(k).index.to_numpy()


def recommend_series_argsort(scores, seen_items, k=10):
    return scores.drop(seen_items).argsort()[::-1][:k].to_numpy()     # positions, not ids


def recommend_numpy_argsort(scores, seen_items, k=10):
    return np.argsort(-scores.drop(seen_items).to_numpy())[:k]


def recommend_ids_as_positions(scores, seen_items, k=10):
    """Walkthrough: treats the seen item ids as positions when dropping."""
    unseen = scores.drop(scores.index[seen_items])
    return unseen.nlargest(k).index.to_numpy()


def test_recommend_ids_as_positions_hint():
    with pytest.raises(CheckFailed, match="raised IndexError") as excinfo:
        check_recommend(recommend_ids_as_positions)
    message = str(excinfo.value)
    assert "seen_items holds item ids, not positions" in message
    assert "Hint: drop them by label: scores.drop(seen_items)." in message
    assert_short_lines(excinfo)


def recommend_masks_in_place(scores, seen_items, k=10):
    """Masks the seen items in the caller's Series (as drop(..., inplace=True) changes it)."""
    scores.loc[seen_items] = -np.inf
    return scores.nlargest(k).index.to_numpy()


def test_recommend_changing_the_callers_scores_is_named():
    with pytest.raises(CheckFailed, match="changed the Series scores it was given") as excinfo:
        check_recommend(recommend_masks_in_place)
    assert "scores.drop(seen_items) returns a new Series" in str(excinfo.value)
    assert_short_lines(excinfo)


def test_recommend_right_answer_passes(capsys):
    rng = np.random.default_rng(0)
    scores = pd.Series(rng.uniform(1, 5, 100), index=np.arange(1, 101))
    check_recommend(recommend_right, scores, seen=[5, 17, 42])
    assert capsys.readouterr().out.count("✓") == 2


@pytest.mark.parametrize(
    ("fn", "words"),
    [
        (recommend_keeps_seen, "already rated"),
        (recommend_series, "Series"),
        (recommend_values, "integer item ids"),
        (recommend_worst, "WORST"),
        (recommend_series_argsort, "positions in the Series, not item ids"),
        (recommend_numpy_argsort, "positions in the Series, not item ids"),
    ],
)
def test_recommend_wrong_answers_explained(fn, words):
    with pytest.raises(CheckFailed, match=words) as excinfo:
        check_recommend(fn)
    assert_short_lines(excinfo)


def test_mf_quality_bar():
    check_mf_quality(0.93)
    with pytest.raises(CheckFailed, match=r"dropout 0\.7 on both embeddings"):   # as 04 trains
        check_mf_quality(0.96)
    for bad in (0.99, float("nan")):
        with pytest.raises(CheckFailed, match="above the bar"):
            check_mf_quality(bad)
