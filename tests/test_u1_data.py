"""reclab.models.u1_data: the u1 split, 02's validation slice and the codes, for 01-05 and 08.

Needs the MovieLens data (``reclab data fetch``), like tests/test_data.py.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from reclab.models import u1_data


@pytest.fixture(scope="module")
def by_train() -> object:
    return u1_data()


def test_codes_from_u1_base_leave_the_movies_only_u1_test_holds_at_minus_one(by_train) -> None:
    assert (by_train.n_users, by_train.n_items) == (943, 1650)
    assert (len(by_train.fit), len(by_train.valid), len(by_train.test)) == (72_000, 8_000, 20_000)
    unseen = by_train.test_coded[~by_train.test_known]
    assert len(unseen) == 32 and (unseen["item_idx"] == -1).all()
    pd.testing.assert_frame_equal(pd.concat([by_train.fit, by_train.valid]).sort_index(),
                                  by_train.train.sort_index())
    assert by_train.global_mean == pytest.approx(by_train.fit["rating"].mean())


def test_codes_from_all_ratings_give_every_movie_a_row_and_keep_the_same_slices(by_train) -> None:
    every = u1_data(codes="all")
    assert (every.n_users, every.n_items) == (943, 1682) and every.test_known.all()
    for part in ("fit", "valid", "test"):       # the same rows, in the same order
        pd.testing.assert_frame_equal(getattr(every, part), getattr(by_train, part))
    assert every.global_mean == by_train.global_mean
    raw_ids = every.encoder.inverse_items(every.train_coded["item_idx"].to_numpy())
    np.testing.assert_array_equal(raw_ids, every.train["item_id"].to_numpy())


def test_an_unknown_codes_value_names_the_two_choices() -> None:
    with pytest.raises(ValueError, match=r"'train' .* or 'all'"):
        u1_data(codes="test")
