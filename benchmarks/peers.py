"""The peers of the benchmark: one registry, one shape per protocol.

A u1 peer is ``fit(train) -> predict(pairs)``: fitted on u1.base, it returns one rating per
row of u1.test. A leave-one-out peer is ``fit(data, on, **params) -> scores``: fitted on
``data.history(on)`` (``reclab.protocols``), it returns the (n_users × n_items) score
matrix that :func:`reclab.protocols.evaluate_ranking` scores, exactly as notebook 06 scores
its own models. A peer with a ``grid`` is tuned: every combination is fitted on ``fit`` and
scored on the validation items, the one with the best validation full-ranking NDCG@10 is
refitted on ``train`` (fit + validation) and scored once on the test items.

Example:
    >>> [peer.name for peer in PEERS if peer.split == "loo"]
    ['EASE', 'EASE, recency-weighted', 'ALS', 'BPR']
"""

from __future__ import annotations

import contextlib
import importlib
import itertools
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp

from reclab import protocols
from reclab.errors import ReclabError

__all__ = ["PEERS", "SEED", "SELECT_ON", "Peer", "PeerResult", "ease_scores", "ease_weights",
           "recency_weights", "run_peer"]

#: Seed of every peer's own randomness (Surprise SVD/SVD++, implicit ALS/BPR, row shuffling).
SEED = 42
#: The validation metric a tuned peer is chosen on.
SELECT_ON = "ndcg@10_full"


class PeerMissing(ReclabError):
    """A peer library is not installed."""


def _library(module: str, package: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise PeerMissing(
            f"the benchmark peer {package} is not installed ({exc}); install the peers with "
            "`pip install -e '.[bench]'` (`make bench` does it for you)"
        ) from exc


@dataclass(frozen=True)
class Peer:
    """A library model the labs' models are compared with.

    ``fit`` is ``fit(u1_train) -> predict(pairs) -> ratings`` on ``"u1"``, and
    ``fit(data, on, **params) -> scores`` on ``"loo"``; ``grid`` (loo only) lists the
    hyper-parameter values tried on the validation items.
    """

    name: str
    package: str
    split: Literal["u1", "loo"]
    fit: Callable[..., Any]
    grid: Mapping[str, Sequence[Any]] = field(default_factory=dict)


@dataclass
class PeerResult:
    """One fitted peer: test metrics, fitting time, chosen values and the tuning table."""

    peer: Peer
    metrics: dict[str, float]
    train_seconds: float
    predictions: pd.DataFrame
    chosen: dict[str, Any] = field(default_factory=dict)
    tuning: pd.DataFrame | None = None


# --------------------------------------------------------------------------------------------
# u1 peers (Surprise, library defaults)


def _surprise(algorithm: str, **options: Any) -> Callable[[pd.DataFrame], Callable]:
    def fit(train: pd.DataFrame) -> Callable[[pd.DataFrame], np.ndarray]:
        surprise = _library("surprise", "scikit-surprise")
        # Surprise's SGD never shuffles: give it the rows in a seeded random order, not
        # u1.base's sort by user (SVD++ is 0.934 sorted, 0.925 shuffled).
        rows = train[["user_id", "item_id", "rating"]].sample(frac=1.0, random_state=SEED)
        trainset = surprise.Dataset.load_from_df(
            rows, surprise.Reader(rating_scale=(1, 5))).build_full_trainset()
        model = getattr(surprise, algorithm)(**options)
        model.fit(trainset)
        return lambda pairs: np.array([model.predict(u, i).est for u, i in
                                       pairs[["user_id", "item_id"]].itertuples(index=False)])
    return fit


# --------------------------------------------------------------------------------------------
# leave-one-out peers


def _history(data: protocols.LeaveOneOut, on: str) -> sp.csr_matrix:
    return {"val": data.seen_fit, "test": data.seen_train}[on].astype(np.float32).tocsr()


def ease_weights(user_items: sp.spmatrix, l2: float) -> np.ndarray:
    """EASE (Steck, WWW 2019): item weights ``B = I − P / diag(P)``, ``P = (XᵀX + λI)⁻¹``.

    Column j is the ridge regression of item j on the other items (``diag(B) = 0``).
    """
    gram = (user_items.T @ user_items).toarray().astype(np.float64)
    gram[np.diag_indices_from(gram)] += l2
    inverse = np.linalg.inv(gram)
    weights = -inverse / np.diag(inverse)
    np.fill_diagonal(weights, 0.0)
    return weights


def ease_scores(user_items: sp.spmatrix, l2: float) -> np.ndarray:
    """EASE's scores ``X B`` for every user and item (see :func:`ease_weights`).

    Example:
        >>> import scipy.sparse as sp
        >>> x = sp.csr_matrix(np.array([[1, 1, 0], [1, 0, 0]], dtype=float))
        >>> ease_scores(x, l2=1.0).round(3).tolist()
        [[0.5, 0.333, 0.0], [0.0, 0.333, 0.0]]
    """
    return np.asarray(user_items @ ease_weights(user_items, l2))


def _ease(data: protocols.LeaveOneOut, on: str, l2: float) -> np.ndarray:
    return ease_scores(_history(data, on), l2)


def recency_weights(history: pd.DataFrame, n_users: int, n_items: int,
                    tau: float) -> sp.csr_matrix:
    """Each user's row with weight exp(−k/τ) on their k-th most recent item (k = 0 latest).

    Timestamp ties go to the row further down the table, as in ``reclab.splits.leave_one_out``.

    Example:
        >>> h = pd.DataFrame({"user_idx": [0, 0], "item_idx": [1, 0], "timestamp": [1, 2]})
        >>> recency_weights(h, 1, 2, tau=1.0).toarray().round(3).tolist()
        [[1.0, 0.368]]
    """
    latest_first = history.iloc[::-1].sort_values("timestamp", ascending=False, kind="stable")
    k = latest_first.groupby("user_idx").cumcount().to_numpy()
    return sp.csr_matrix((np.exp(-k / tau), (latest_first["user_idx"].to_numpy(),
                                              latest_first["item_idx"].to_numpy())),
                         shape=(n_users, n_items))


def _ease_recent(data: protocols.LeaveOneOut, on: str, l2: float, tau: float) -> np.ndarray:
    """EASE's item weights (fitted on the binary history) applied to a recency-weighted row."""
    recent = recency_weights(data.history(on), data.n_users, data.n_items, tau)
    return np.asarray(recent @ ease_weights(_history(data, on), l2))


@contextlib.contextmanager
def _one_blas_thread() -> Iterator[None]:
    """One BLAS thread: implicit warns otherwise, and its results vary with thread counts."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield


def _implicit(kind: str) -> Callable[..., np.ndarray]:
    def fit(data: protocols.LeaveOneOut, on: str, **params: Any) -> np.ndarray:
        module = _library(f"implicit.{kind}", "implicit")
        cls = {"als": "AlternatingLeastSquares", "bpr": "BayesianPersonalizedRanking"}[kind]
        with _one_blas_thread():
            model = getattr(module, cls)(random_state=SEED, num_threads=1, **params)
            model.fit(_history(data, on), show_progress=False)
        return np.asarray(model.user_factors) @ np.asarray(model.item_factors).T
    return fit


#: Every peer of the benchmark, in the order of the tables.
PEERS: tuple[Peer, ...] = (
    Peer("BaselineOnly", "scikit-surprise", "u1", _surprise("BaselineOnly", verbose=False)),
    Peer("SVD", "scikit-surprise", "u1", _surprise("SVD", random_state=SEED)),
    Peer("SVD++", "scikit-surprise", "u1",
         _surprise("SVDpp", random_state=SEED, cache_ratings=True)),
    Peer("KNNBaseline", "scikit-surprise", "u1", _surprise(
        "KNNBaseline", sim_options={"name": "pearson_baseline", "user_based": False},
        verbose=False)),
    Peer("EASE", "numpy", "loo", _ease, {"l2": [50.0, 100.0, 200.0, 400.0, 800.0]}),
    # the same weights scoring a row that favours what the user did last (DESIGN.md, 07's bar)
    Peer("EASE, recency-weighted", "numpy", "loo", _ease_recent,
         {"l2": [100.0, 300.0, 1000.0], "tau": [5.0, 10.0, 30.0]}),
    # ALS: confidence alpha left at implicit's default (1.0); BPR: regularization 0.01.
    Peer("ALS", "implicit", "loo", _implicit("als"), {
        "factors": [32, 64, 128], "regularization": [0.01, 0.1, 1.0], "iterations": [15, 30]}),
    Peer("BPR", "implicit", "loo", _implicit("bpr"), {
        "factors": [32, 64, 128], "learning_rate": [0.01, 0.05], "iterations": [100, 200]}),
)


# --------------------------------------------------------------------------------------------
# running one peer


def _combinations(grid: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    return [dict(zip(grid, values, strict=True)) for values in itertools.product(*grid.values())]


def _timed(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, float]:
    start = time.perf_counter()
    value = fn(*args, **kwargs)
    return value, time.perf_counter() - start


def _sampled_predictions(scores: np.ndarray, data: protocols.LeaveOneOut) -> pd.DataFrame:
    """``user_id, item_id, prediction`` of every test candidate (enough to rescore sampled)."""
    users, items = data.candidate_inputs("test")
    return pd.DataFrame({"user_id": data.encoder.inverse_users(users),
                         "item_id": data.encoder.inverse_items(items),
                         "prediction": scores[users, items]})


def run_peer(peer: Peer, *, u1: tuple[pd.DataFrame, pd.DataFrame] | None = None,
             data: protocols.LeaveOneOut | None = None,
             log: Callable[[str], None] = print) -> PeerResult:
    """Fit ``peer`` (tuning it on validation first when it has a grid) and score it on test.

    Example (needs the peer libraries and the data, so it is not run as a doctest)::

        result = run_peer(PEERS[-1], data=protocols.leave_one_out_data(interactions))
    """
    from reclab.metrics import rating_metrics

    if peer.split == "u1":
        train, test = u1
        predict, seconds = _timed(peer.fit, train)
        predictions = test[["user_id", "item_id"]].assign(prediction=predict(test))
        return PeerResult(peer, rating_metrics(test, predictions, label=peer.name), seconds,
                          predictions)
    settings, rows = (_combinations(peer.grid) if peer.grid else []), []
    for params in settings:
        scores, seconds = _timed(peer.fit, data, "val", **params)
        val = protocols.evaluate_ranking(scores, data, "val")
        rows.append({**params, **{f"val_{k}": v for k, v in val.items()}, "seconds": seconds})
    tuning = pd.DataFrame(rows) if peer.grid else None
    chosen: dict[str, Any] = {}
    val_metrics: dict[str, float] = {}
    if tuning is not None:
        best = int(tuning[f"val_{SELECT_ON}"].to_numpy().argmax())
        chosen = settings[best]
        val_metrics = {k: v for k, v in rows[best].items() if k.startswith("val_")}
        log(f"bench:   {peer.name}: {len(rows)} settings tried, chosen {chosen} "
            f"(val {SELECT_ON} {val_metrics[f'val_{SELECT_ON}']:.4f})")
    scores, seconds = _timed(peer.fit, data, "test", **chosen)
    metrics = protocols.evaluate_ranking(scores, data, "test") | val_metrics
    return PeerResult(peer, metrics, seconds, _sampled_predictions(scores, data), chosen,
                      tuning)
