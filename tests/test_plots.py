"""reclab.plots: the training curves of 01-05 and the ranking plots of notebook 06."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

from reclab.plots import (
    plot_history,
    plot_sampled_vs_full_rank,
    plot_training,
    plot_validation_curves,
)

HISTORY = {"loss": [0.5, 0.4, 0.35, 0.33], "val_loss": [0.45, 0.41, 0.42, 0.44],
           "val_hr@10": [0.50, 0.58, 0.62, 0.61], "val_ndcg@10": [0.30, 0.33, 0.36, 0.35]}


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _kept_epoch(ax) -> float:
    (line,) = [line for line in ax.get_lines() if line.get_linestyle() == ":"]
    return line.get_xdata()[0]


def test_plot_training_marks_the_epoch_early_stopping_keeps_on_both_panels():
    left, right = plot_training(HISTORY, "GMF")
    assert _kept_epoch(left) == _kept_epoch(right) == 3          # best val NDCG@10, not best BCE
    star = [line for line in left.get_lines() if line.get_marker() == "*"]
    assert [line.get_xdata()[0] for line in star] == [2]         # lowest validation loss
    labels = left.get_legend_handles_labels()[1]
    assert "lowest validation loss: epoch 2" in labels
    assert "kept: epoch 3 (best validation NDCG@10)" in labels
    assert left.get_title() == "GMF: binary cross-entropy"
    assert left.get_ylabel() == "BCE (nats per pair)"
    assert right.get_ylabel() == "HR@10 / NDCG@10 vs 99 negatives"
    assert [ax.get_xlabel() for ax in (left, right)] == ["epoch", "epoch"]


def test_plot_training_draws_a_starting_point_as_epoch_0():
    _, right = plot_training(HISTORY, "NeuMF", start={"ndcg@10": 0.40, "hr@10": 0.65})
    curves = [line for line in right.get_lines() if line.get_marker() == "o"]
    assert [list(line.get_xdata()) for line in curves] == [[0, 1, 2, 3, 4]] * 2
    assert _kept_epoch(right) == 0                               # the start beats every epoch


def test_plot_training_without_a_validation_loss_and_with_other_labels():
    history = {key: values for key, values in HISTORY.items() if key != "val_loss"}
    left, right = plot_training(history, "two-tower", loss="training loss",
                                loss_label="softmax cross-entropy (nats)",
                                ranking_label="HR@10 / NDCG@10, full ranking")
    assert len([line for line in left.get_lines() if line.get_marker() == "o"]) == 1
    assert left.get_title() == "two-tower: training loss"
    assert left.get_ylabel() == "softmax cross-entropy (nats)"
    assert right.get_ylabel() == "HR@10 / NDCG@10, full ranking"


def test_plot_training_reads_a_keras_history_object():
    class History:
        history = HISTORY

    left, _ = plot_training(History(), "MLP")
    assert left.get_title() == "MLP: binary cross-entropy"


def test_plot_sampled_vs_full_rank_draws_one_point_per_user_on_log_axes():
    full, sampled = np.array([0, 40, 900, 15]), np.array([0, 3, 60, 1])
    ax = plot_sampled_vs_full_rank(full, sampled, n_unseen=1600, n_items=1682, title="GMF")
    offsets = ax.collections[0].get_offsets()
    assert np.array_equal(offsets, np.column_stack([full + 1, sampled + 1]))
    assert (ax.get_xscale(), ax.get_yscale()) == ("log", "log")
    assert ax.get_xlim() == pytest.approx((0.8, 1682))
    assert ax.get_title() == "GMF"
    expected = next(line for line in ax.get_lines() if line.get_linestyle() == "--")
    assert expected.get_ydata()[-1] == pytest.approx(1 + 1681 * 99 / 1599)


def test_plot_sampled_vs_full_rank_rejects_ranks_of_different_users():
    with pytest.raises(ValueError, match="same length"):
        plot_sampled_vs_full_rank([0, 1, 2], [0, 1], n_unseen=100, n_items=120)


RATING_RUNS = {"fast": {"rmse": [1.1, 0.95, 0.90, 0.86], "val_rmse": [1.2, 0.97, 0.93, 0.94]},
               "slow": {"rmse": [1.2, 1.0, 0.93, 0.91, 0.89, 0.88],
                        "val_rmse": [1.3, 1.02, 0.95, 0.935, 0.925, 0.928]}}


def test_plot_history_keeps_the_best_label_on_the_axes_when_the_best_epoch_is_late():
    ax = plot_history(RATING_RUNS["slow"], "rmse")
    (label,) = ax.texts
    assert label.get_text() == "best 0.9250 (epoch 5)"
    assert label.get_horizontalalignment() == "right"      # drawn to the left of the point
    early = plot_history({"rmse": [1.0, 0.9, 0.8, 0.7], "val_rmse": [0.9, 0.8, 0.85, 0.9]},
                         "rmse")
    assert early.texts[0].get_horizontalalignment() == "left"


def test_plot_history_from_a_later_epoch_fits_the_view_to_the_curves_from_there():
    ax = plot_history(RATING_RUNS["slow"], "rmse", first_epoch=3)
    low, high = ax.get_ylim()
    assert 0.87 < low < 0.88 and 0.95 < high < 0.96     # epochs 1-2 (1.0 and above) cut off
    assert ax.get_xlim() == (2.5, 6.5)
    with pytest.raises(KeyError, match="has no 'mae'"):
        plot_history(RATING_RUNS["slow"], "mae")


def test_plot_validation_curves_draws_each_run_and_stars_its_best_epoch():
    ax = plot_validation_curves(RATING_RUNS, ylabel="RMSE (stars)")
    labels = [text.get_text() for text in ax.get_legend().get_texts()]
    assert labels == ["fast (best 0.9300, epoch 3)", "slow (best 0.9250, epoch 5)"]
    stars = [line for line in ax.get_lines() if line.get_marker() == "*"]
    assert [(line.get_xdata()[0], line.get_ydata()[0]) for line in stars] == [(3, 0.93),
                                                                             (5, 0.925)]
    assert ax.get_ylabel() == "RMSE (stars)" and ax.get_title() == "Validation rmse per epoch"


def test_plot_validation_curves_zoom_inset_shows_the_tails_with_the_legend():
    ax = plot_validation_curves(RATING_RUNS, first_epoch=2, zoom_from=4)
    (zoom,) = ax.child_axes
    assert zoom.get_title() == "zoom: epoch 4 on" and zoom.get_legend() is not None
    assert ax.get_legend() is None                         # one legend, in the inset
    assert zoom.get_xlim()[0] == 3.5 and zoom.get_ylim()[1] < 0.95
    assert ax.get_title() == "Validation rmse per epoch (from epoch 2)"
    with pytest.raises(KeyError, match="'fast' has no 'val_mae'"):
        plot_validation_curves(RATING_RUNS, "mae")


def test_embedding_map_labels_stay_inside_the_axes_and_off_other_named_points():
    from reclab.plots import _place_labels

    xy = np.array([[0.0, 0.5], [10.0, 0.5], [5.0, 0.0], [5.2, 0.0], [5.0, 1.0]])
    _fig, ax = plt.subplots(figsize=(6, 4))
    placed = {text: offset for _, offset, text in _place_labels(
        xy, {0: "far left, a long title", 1: "far right, a long title", 2: "A", 3: "B"}, ax)}
    assert placed["far left, a long title"][0] > 0        # written to the right of its point
    assert placed["far right, a long title"][0] < 0       # written to the left
    # "A" would cover B's point on its right: it goes left (or up), never onto the neighbour
    assert placed["A"] != (5.0, 2.0)
