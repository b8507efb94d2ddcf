"""Plots every lab needs: training curves and how predictions compare with true ratings.

Each function draws on a matplotlib ``Axes`` (made for you when not given), sets a title and
labelled axes, and returns the ``Axes`` so a notebook can add to it.

Example:
    >>> history = model.fit(...)                         # doctest: +SKIP
    >>> plot_history(history, title="Dot model, MSE")    # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes

__all__ = ["plot_history", "plot_predictions"]


def _history_dict(history: Any) -> Mapping[str, Sequence[float]]:
    """Accept a Keras ``History`` or a plain ``{metric: [values per epoch]}`` mapping."""
    return history.history if hasattr(history, "history") else history


def plot_history(
    history: Any,
    metric: str = "loss",
    title: str | None = None,
    ylabel: str | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Plot a metric per epoch for training and validation, and mark the best validation epoch.

    Example:
        >>> plot_history({"loss": [1.2, 0.9], "val_loss": [1.1, 1.0]})  # doctest: +ELLIPSIS
        <Axes: ...>
    """
    values = _history_dict(history)
    if metric not in values:
        raise KeyError(f"history has no {metric!r}; it has {sorted(values)}")
    ax = ax or plt.subplots(figsize=(6, 3.5))[1]
    train = np.asarray(values[metric], dtype=float)
    epochs = np.arange(1, len(train) + 1)
    ax.plot(epochs, train, marker="o", markersize=3, label=f"train {metric}")
    val_key = f"val_{metric}"
    if val_key in values:
        val = np.asarray(values[val_key], dtype=float)
        best = int(np.nanargmin(val))
        ax.plot(epochs, val, marker="o", markersize=3, label=f"validation {metric}")
        ax.axvline(epochs[best], color="grey", linestyle=":", linewidth=1)
        ax.annotate(
            f"best {val[best]:.4f} (epoch {epochs[best]})",
            xy=(epochs[best], val[best]),
            xytext=(6, 12),
            textcoords="offset points",
            fontsize=8,
        )
    ax.set_title(title or f"{metric} per epoch")
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel or metric)
    ax.grid(alpha=0.3)
    ax.legend()
    return ax


def plot_predictions(
    y_true: Sequence[float] | np.ndarray,
    y_pred: Sequence[float] | np.ndarray,
    title: str = "Predicted vs true rating",
    ax: Axes | None = None,
) -> Axes:
    """Show the distribution of predictions for each true rating (violins) and their means.

    A perfect model puts each violin on the diagonal; a model that only learned the
    average puts them all at the same height.

    Example:
        >>> plot_predictions([1, 5, 3], [2.1, 4.2, 3.3])  # doctest: +ELLIPSIS
        <Axes: ...>
    """
    y_true = np.asarray(y_true, dtype=float)
    y_pred = np.asarray(y_pred, dtype=float)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true has shape {y_true.shape} but y_pred has shape {y_pred.shape}")
    ax = ax or plt.subplots(figsize=(6, 4))[1]
    levels = np.unique(y_true)
    groups = [y_pred[y_true == level] for level in levels]
    parts = ax.violinplot(groups, positions=levels, widths=0.8, showextrema=False)
    for body in parts["bodies"]:
        body.set_alpha(0.4)
    means = [g.mean() for g in groups]
    ax.plot(levels, means, "o-", color="C3", label="mean prediction")
    ax.plot([levels.min(), levels.max()], [levels.min(), levels.max()], "k--", lw=1,
            label="perfect")
    ax.set_title(title)
    ax.set_xlabel("true rating (stars)")
    ax.set_ylabel("predicted rating (stars)")
    ax.set_xticks(levels)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left")
    return ax
