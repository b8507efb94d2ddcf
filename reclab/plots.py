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
from matplotlib.ticker import MaxNLocator

__all__ = ["plot_history", "plot_predictions", "plot_validation_curves"]


def _history_dict(history: Any) -> Mapping[str, Sequence[float]]:
    """Accept a Keras ``History`` or a plain ``{metric: [values per epoch]}`` mapping."""
    return history.history if hasattr(history, "history") else history


def plot_history(
    history: Any,
    metric: str = "loss",
    title: str | None = None,
    ylabel: str | None = None,
    ax: Axes | None = None,
    first_epoch: int = 1,
) -> Axes:
    """Plot a metric per epoch for training and validation, and mark the best validation epoch.

    With ``first_epoch`` > 1 the axes start at that epoch and the y-range fits the curves from
    there (a zoom past the large errors of the first epochs).

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
    curves = [train]
    val_key = f"val_{metric}"
    if val_key in values:
        val = np.asarray(values[val_key], dtype=float)
        curves.append(val)
        best = int(np.nanargmin(val))
        ax.plot(epochs, val, marker="o", markersize=3, label=f"validation {metric}")
        ax.axvline(epochs[best], color="grey", linestyle=":", linewidth=1)
        late = best + 1 > 0.6 * len(val)      # label to the left, so it stays on the axes
        ax.annotate(
            f"best {val[best]:.4f} (epoch {epochs[best]})",
            xy=(epochs[best], val[best]),
            xytext=(-6 if late else 6, 12),
            textcoords="offset points",
            ha="right" if late else "left",
            fontsize=8,
        )
    ax.set_title(title or f"{metric} per epoch")
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel or metric)
    _view_from(ax, curves, first_epoch)
    ax.legend()
    return ax


def _view_from(ax: Axes, curves: Sequence[np.ndarray], first_epoch: int) -> None:
    """Integer epoch ticks and a grid; from ``first_epoch`` > 1 on, fit the view to the curves."""
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    if first_epoch > 1:
        shown = np.concatenate([curve[first_epoch - 1:] for curve in curves])
        pad = 0.05 * (np.nanmax(shown) - np.nanmin(shown)) + 1e-4
        ax.set(xlim=(first_epoch - 0.5, max(len(curve) for curve in curves) + 0.5),
               ylim=(np.nanmin(shown) - pad, np.nanmax(shown) + pad))


def plot_validation_curves(
    histories: Mapping[str, Any],
    metric: str = "rmse",
    title: str | None = None,
    ylabel: str | None = None,
    first_epoch: int = 1,
    zoom_from: int | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Compare runs: the validation ``metric`` per epoch of each, with its best epoch starred.

    ``histories`` maps a run's label to its Keras ``History`` (or ``{metric: [...]}``). The
    axes start at ``first_epoch`` and the y-range fits the curves from there, so the large
    errors of the first epochs do not flatten the differences; ``zoom_from`` adds an inset
    showing the curves from that epoch on.

    Example:
        >>> runs = {"lr 3e-3": {"val_rmse": [1.0, 0.93, 0.94]},
        ...         "lr 1e-3": {"val_rmse": [1.1, 0.95, 0.92]}}
        >>> plot_validation_curves(runs, title="Two learning rates").get_title()
        'Two learning rates'
    """
    ax = ax or plt.subplots(figsize=(6, 3.5))[1]
    curves = {}
    for label, history in histories.items():
        values = _history_dict(history)
        if f"val_{metric}" not in values:
            raise KeyError(f"the history of {label!r} has no 'val_{metric}'; it has "
                           f"{sorted(values)}")
        curves[label] = np.asarray(values[f"val_{metric}"], dtype=float)
    panels = [(ax, first_epoch)]
    if zoom_from is not None:
        panels.append((ax.inset_axes((0.35, 0.3, 0.62, 0.62)), zoom_from))
    for target, start in panels:
        for color, (label, curve) in enumerate(curves.items()):
            epochs = np.arange(1, len(curve) + 1)
            best = int(np.nanargmin(curve))
            target.plot(epochs, curve, marker="o", markersize=2, color=f"C{color}",
                        label=f"{label} (best {curve[best]:.4f}, epoch {best + 1})")
            target.plot(epochs[best], curve[best], "*", color=f"C{color}", markersize=10)
        _view_from(target, list(curves.values()), start)
    from_text = f" (from epoch {first_epoch})" if first_epoch > 1 else ""
    ax.set(title=title or f"Validation {metric} per epoch{from_text}", xlabel="epoch",
           ylabel=ylabel or f"validation {metric}")
    if zoom_from is None:
        ax.legend(fontsize=8)
    else:                            # the legend in the inset, above the flat tails
        zoom = panels[1][0]
        zoom.set_title(f"zoom: epoch {zoom_from} on", fontsize=8)
        zoom.tick_params(labelsize=7)
        zoom.legend(fontsize=7, loc="upper right")
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
    ax.legend(loc="lower right")  # low predictions of 5-star ratings: the emptiest corner
    return ax


# --------------------------------------------------------------------------------------------
# embedding maps (2-D projections such as t-SNE), static and interactive

__all__ += ["plot_embedding_map", "plotly_embedding_map"]


def plot_embedding_map(
    coords: Any,
    color: Sequence[Any] | np.ndarray | None = None,
    annotate: Mapping[int, str] | None = None,
    title: str = "Embedding map",
    xlabel: str = "dimension 1",
    ylabel: str = "dimension 2",
    color_label: str | None = None,
    max_groups: int = 10,
    ax: Axes | None = None,
    cmap: Any = "viridis",
    norm: Any = None,
) -> Axes:
    """Scatter 2-D coordinates (e.g. t-SNE of embeddings), coloured, with a few points named.

    ``color`` holds one value per point: strings are categories (the ``max_groups − 1`` most
    frequent get their own colour and a legend entry, the rest are drawn in grey as "other"),
    numbers go through ``cmap`` (and ``norm``, e.g. a ``BoundaryNorm`` per decade) with a
    colour bar. ``annotate`` maps point positions to
    the text written next to them.

    Example:
        >>> xy = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 0.5]])
        >>> plot_embedding_map(xy, color=["a", "b", "a"], annotate={1: "B"})  # doctest: +ELLIPSIS
        <Axes: ...>
    """
    xy = np.asarray(coords, dtype=float)
    if xy.ndim != 2 or xy.shape[1] != 2:
        raise ValueError(f"coords must have shape (n, 2), got {xy.shape}")
    ax = ax or plt.subplots(figsize=(9, 7))[1]
    style = {"s": 14, "alpha": 0.75, "linewidths": 0}
    if color is None:
        ax.scatter(xy[:, 0], xy[:, 1], color="C0", **style)
    else:
        values = np.asarray(color)
        if values.shape != (len(xy),):
            raise ValueError(f"color must hold one value per point ({len(xy)}), got {values.shape}")
        if values.dtype.kind in "iuf":
            points = ax.scatter(xy[:, 0], xy[:, 1], c=values.astype(float), cmap=cmap, norm=norm,
                                **style)
            plt.colorbar(points, ax=ax, label=color_label or "")
        else:
            labels = values.astype(str)
            names, counts = np.unique(labels, return_counts=True)
            order = names[np.argsort(-counts, kind="stable")]
            shown = list(order[: max_groups - 1]) if len(order) > max_groups else list(order)
            rest = ~np.isin(labels, shown)
            if rest.any():
                ax.scatter(xy[rest, 0], xy[rest, 1], color="lightgrey", label="other", **style)
            for i, name in enumerate(shown):
                mask = labels == name
                ax.scatter(xy[mask, 0], xy[mask, 1], color=f"C{i % 10}", label=name, **style)
            ax.legend(title=color_label, fontsize=8, title_fontsize=9, markerscale=1.5,
                      loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    for (x, y), (dx, dy), text in _place_labels(xy, annotate or {}, ax):
        ax.scatter([x], [y], s=40, facecolors="none", edgecolors="black", linewidths=1)
        ax.annotate(text, (x, y), xytext=(dx, dy), textcoords="offset points", fontsize=8,
                    bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none",
                          "alpha": 0.7},
                    arrowprops={"arrowstyle": "-", "lw": 0.5, "color": "grey"}
                    if abs(dy) > 2 else None)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_xticks([])
    ax.set_yticks([])
    return ax


def _place_labels(
    xy: np.ndarray, annotate: Mapping[int, str], ax: Axes
) -> list[tuple[tuple[float, float], tuple[float, float], str]]:
    """Offsets (in points) that keep the labels of nearby points from overlapping.

    Greedy, from the top of the map down: each label takes the first free spot among
    right/left of its point, then further up or down, that stays inside the axes and covers
    neither another label nor another named point.
    """
    box = ax.get_position()
    size = ax.figure.get_size_inches() * 72 * np.array([box.width, box.height])
    low, span = xy.min(axis=0), np.ptp(xy, axis=0)
    span[span == 0] = 1.0
    points = (xy - low) / span * size                       # data -> points
    placed = [(px - 4, py - 4, px + 4, py + 4)              # boxes to keep clear: x0, y0, x1, y1
              for px, py in points[[int(i) for i in annotate]]]
    out = []
    for position in sorted(annotate, key=lambda i: -xy[int(i), 1]):
        text = str(annotate[position])
        px, py = points[int(position)]
        w, h = 4.6 * len(text) + 4, 11.0
        spots = [(dx, dy) for level in range(12)
                 for dy in ((2.0,) if level == 0 else (2.0 + 12 * level, 2.0 - 12 * level))
                 for dx in (5.0, -w - 5.0)]
        for dx, dy in spots:
            x0, y0 = px + dx, py + dy
            inside = 0 <= x0 and x0 + w <= size[0] and 0 <= y0 and y0 + h <= size[1]
            if inside and not any(x0 < b[2] and b[0] < x0 + w and y0 < b[3] and b[1] < y0 + h
                                  for b in placed):
                break
        placed.append((x0, y0, x0 + w, y0 + h))
        out.append(((float(xy[int(position), 0]), float(xy[int(position), 1])), (dx, dy), text))
    return out


def plotly_embedding_map(
    frame: Any,
    x: str = "x",
    y: str = "y",
    color: str | None = None,
    hover_name: str | None = None,
    hover_data: Sequence[str] | Mapping[str, bool | str] | None = None,
    title: str = "Embedding map",
    xlabel: str = "dimension 1",
    ylabel: str = "dimension 2",
    labels: Mapping[str, str] | None = None,
) -> Any:
    """An interactive scatter of a 2-D map (plotly): hover a point to read its row's details.

    ``frame`` is a DataFrame with one row per point; ``hover_name`` is the column shown in
    bold on hover, ``hover_data`` the other columns listed (a list, or a mapping to plotly
    formats such as ``{"bias": ":.3f"}``), ``labels`` readable names for columns. Categories
    of ``color`` get the colours of :func:`plot_embedding_map` (most frequent first, tab10).
    Returns a ``plotly`` Figure: call ``.show()`` (JupyterLab renders it natively) or
    ``.write_html(path)``.

    Example:
        >>> import pandas as pd
        >>> df = pd.DataFrame({"x": [0, 1], "y": [1, 0], "title": ["A", "B"]})
        >>> fig = plotly_embedding_map(df, hover_name="title")
        >>> fig.layout.title.text
        'Embedding map'
    """
    import plotly.express as px

    hover = dict(hover_data) if isinstance(hover_data, Mapping) else dict.fromkeys(
        hover_data or [], True)
    columns = [x, y, *(c for c in (color, hover_name) if c), *hover]
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise KeyError(f"frame lacks column(s) {missing}; it has {list(frame.columns)}")
    orders = {}
    if color is not None and frame[color].dtype.kind not in "iuf":
        names, counts = np.unique(frame[color].astype(str).to_numpy(), return_counts=True)
        orders[color] = names[np.argsort(-counts, kind="stable")].tolist()   # as in the static map
    fig = px.scatter(
        frame,
        x=x,
        y=y,
        color=color,
        hover_name=hover_name,
        hover_data={**hover, x: False, y: False},
        title=title,
        labels={**(labels or {}), x: xlabel, y: ylabel},
        category_orders=orders,
        color_discrete_sequence=px.colors.qualitative.D3,     # = matplotlib's tab10
        template="plotly_white",
        height=600,
    )
    fig.update_traces(marker={"size": 7, "opacity": 0.8})
    fig.update_layout(xaxis_showticklabels=False, yaxis_showticklabels=False)
    if color is not None:
        fig.update_layout(legend_title_text=(labels or {}).get(color, color))
    return fig


# --------------------------------------------------------------------------------------------
# ranking: hit rate as a function of the list length

__all__ += ["plot_hit_rate_at_k"]


def plot_hit_rate_at_k(
    ranks: Mapping[str, Sequence[int] | np.ndarray],
    max_k: int = 50,
    title: str = "Hit rate at k",
    ax: Axes | None = None,
) -> Axes:
    """Plot HR@k for k = 1…``max_k`` from each user's 0-based rank of the held-out item.

    ``ranks`` maps a curve's label to one rank per user (e.g. from
    ``reclab.metrics.rank_of_positive``); HR@k is the share of users with rank < k. Labels
    ending in "full" are drawn dashed, so "model, sampled" / "model, full" pairs share a
    colour and differ by line style.

    Example:
        >>> plot_hit_rate_at_k({"model, sampled": [0, 3, 20], "model, full": [5, 40, 90]},
        ...                    max_k=10)  # doctest: +ELLIPSIS
        <Axes: ...>
    """
    if int(max_k) != max_k or max_k < 1:
        raise ValueError(f"max_k must be a positive integer, got {max_k}")
    ax = ax or plt.subplots(figsize=(6, 4))[1]
    ks = np.arange(1, int(max_k) + 1)
    colours: dict[str, str] = {}
    for label, values in ranks.items():
        rank = np.asarray(values)
        if rank.ndim != 1 or rank.size == 0:
            raise ValueError(f"ranks[{label!r}] must be a non-empty 1-d array, got {rank.shape}")
        stem = label.rsplit(",", 1)[0]
        colour = colours.setdefault(stem, f"C{len(colours) % 10}")
        hit_rate = (rank[None, :] < ks[:, None]).mean(axis=1)
        style = "--" if label.rstrip().endswith("full") else "-"
        ax.plot(ks, hit_rate, style, color=colour, label=label)
    ax.set_title(title)
    ax.set_xlabel("k (length of the recommendation list)")
    ax.set_ylabel("HR@k (share of users, 0–1)")
    ax.set_xlim(1, int(max_k))
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return ax


# --------------------------------------------------------------------------------------------
# ranking models: training curves with the epoch early stopping kept, and the two protocols

__all__ += ["plot_sampled_vs_full_rank", "plot_training"]


def plot_training(
    history: Any,
    name: str,
    loss: str = "binary cross-entropy",
    loss_label: str = "BCE (nats per pair)",
    ranking_label: str = "HR@10 / NDCG@10 vs 99 negatives",
    start: Mapping[str, float] | None = None,
) -> tuple[Axes, Axes]:
    """Loss per epoch (left) and validation HR@10 / NDCG@10 (right); the kept epoch on both.

    Taught in notebook 06_implicit_feedback, section 5 (early stopping on a ranking metric):
    the history holds ``loss`` (and ``val_loss`` if there is a validation loss, whose lowest
    epoch gets a star) and ``val_hr@10``, ``val_ndcg@10``; the dotted line is the epoch with
    the best validation NDCG@10, the one early stopping keeps. ``start`` (``{"ndcg@10": …,
    "hr@10": …}``) is drawn as epoch 0, e.g. a model before fine-tuning.

    Example:
        >>> history = {"loss": [0.5, 0.4, 0.35], "val_loss": [0.45, 0.42, 0.43],
        ...            "val_hr@10": [0.5, 0.6, 0.62], "val_ndcg@10": [0.3, 0.34, 0.35]}
        >>> left, right = plot_training(history, "GMF")
        >>> right.get_title()
        'GMF: validation ranking'
    """
    values = _history_dict(history)
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.5))
    train = list(values["loss"])
    left.plot(range(1, len(train) + 1), train, marker="o", markersize=3, label="train")
    if "val_loss" in values:
        val_loss = list(values["val_loss"])
        left.plot(range(1, len(val_loss) + 1), val_loss, marker="o", markersize=3,
                  label="validation")
        lowest = int(np.argmin(val_loss))
        left.plot(lowest + 1, val_loss[lowest], "k*", markersize=10,
                  label=f"lowest validation loss: epoch {lowest + 1}")
    curves = {key: list(values[f"val_{key}"]) for key in ("ndcg@10", "hr@10")}
    epochs = list(range(1, len(curves["ndcg@10"]) + 1))
    if start is not None:
        epochs = [0, *epochs]
        curves = {key: [start[key], *curve] for key, curve in curves.items()}
    for (key, curve), color in zip(curves.items(), ("C2", "C3"), strict=True):  # not the losses'
        right.plot(epochs, curve, marker="o", markersize=3, color=color,
                   label=f"validation {key.upper()}")
    kept = epochs[int(np.argmax(curves["ndcg@10"]))]
    left.set(title=f"{name}: {loss}", xlabel="epoch", ylabel=loss_label)
    right.set(title=f"{name}: validation ranking", xlabel="epoch", ylabel=ranking_label)
    for ax in (left, right):
        ax.axvline(kept, color="grey", linestyle=":", linewidth=1,
                   label=f"kept: epoch {kept} (best validation NDCG@10)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.margins(y=0.15)
    fig.tight_layout()
    return left, right


def plot_sampled_vs_full_rank(
    full_rank: Sequence[int] | np.ndarray,
    sampled_rank: Sequence[int] | np.ndarray,
    n_unseen: float,
    n_items: int,
    n_candidates: int = 100,
    title: str = "Rank of each held-out item (1 = top)",
    ax: Axes | None = None,
) -> Axes:
    """Scatter each user's held-out item: rank among all unseen items vs among the candidates.

    Taught in notebook 06_implicit_feedback, section 9 (why the two protocols disagree).
    Ranks are 0-based (as ``reclab.metrics.rank_of_positive`` returns them) and drawn 1-based
    on log axes; the dashed line is what random candidates give on average, full rank ×
    (n_candidates − 1) / (n_unseen − 1), for ``n_unseen`` unseen items per user on average
    out of a catalogue of ``n_items`` (the x-axis); the two top-10 boundaries are marked.

    Example:
        >>> plot_sampled_vs_full_rank([0, 40, 900], [0, 3, 60], 1600, 1682)  # doctest: +ELLIPSIS
        <Axes: ...>
    """
    full = np.asarray(full_rank)
    sampled = np.asarray(sampled_rank)
    if full.shape != sampled.shape or full.ndim != 1:
        raise ValueError(f"full_rank {full.shape} and sampled_rank {sampled.shape} must be "
                         "1-d arrays of the same length (one rank per user)")
    ax = ax or plt.subplots(figsize=(6, 4.2))[1]
    ax.scatter(full + 1, sampled + 1, s=8, alpha=0.4, label="one test user")
    grid = np.arange(1, n_items + 1)
    ax.plot(grid, 1 + (grid - 1) * (n_candidates - 1) / (n_unseen - 1), "k--", lw=1,
            label=f"expected: full rank × {n_candidates - 1} / unseen items")
    ax.axhline(10.5, color="C3", lw=1, label="sampled top 10")
    ax.axvline(10.5, color="C2", lw=1, label="full top 10")
    ax.set(xscale="log", yscale="log", xlim=(0.8, n_items), ylim=(0.8, n_candidates * 1.1),
           title=title, xlabel="rank among all unseen items (log scale)",
           ylabel=f"rank among {n_candidates} candidates (log scale)")
    ax.legend(fontsize=8, loc="upper left")
    return ax
