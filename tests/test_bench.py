"""The benchmark (benchmarks/): peers tuned on validation only, rescoring, tables, files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from benchmarks import peers, report, run
from reclab import protocols, results


def _interactions(n_users: int = 25, n_items: int = 30, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for user in range(1, n_users + 1):
        items = rng.choice(np.arange(1, n_items + 1), size=rng.integers(6, 14), replace=False)
        rows += [(user, int(item), int(rng.integers(1, 5)), t) for t, item in enumerate(items)]
    return pd.DataFrame(rows, columns=["user_id", "item_id", "rating", "timestamp"])


@pytest.fixture(scope="module")
def data() -> protocols.LeaveOneOut:
    return protocols.leave_one_out_data(_interactions(), n_neg=9)


@pytest.fixture
def results_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("RECLAB_RESULTS", str(tmp_path / "results"))
    return tmp_path / "results"


def _loo_row(model: str, kind: str, value: float, val: float | None = None) -> dict:
    row = {"model": model, "source": "x", "kind": kind, "split": "loo",
           **dict.fromkeys(protocols.METRIC_KEYS, value)}
    return row | ({"val_ndcg@10_full": val} if val is not None else {})


# ------------------------------------------------------------------------------------ peers


def test_ease_is_the_closed_form_ridge_regression_with_a_zero_diagonal() -> None:
    x = sp.csr_matrix(np.random.default_rng(0).integers(0, 2, size=(20, 6)).astype(float))
    dense, l2 = x.toarray(), 3.0
    scores = peers.ease_scores(x, l2)
    for j in range(6):  # column j: ridge regression of item j on the other items
        others = [i for i in range(6) if i != j]
        a = dense[:, others]
        w = np.linalg.solve(a.T @ a + l2 * np.eye(5), a.T @ dense[:, j])
        # EASE's constraint diag(B) = 0 is exactly "regress on the other items"
        assert np.allclose(scores[:, j], a @ w, atol=1e-8)


def test_recency_weights_favour_the_latest_row_and_break_ties_by_file_order() -> None:
    history = pd.DataFrame({"user_idx": [0, 0, 0, 1], "item_idx": [2, 0, 1, 1],
                            "timestamp": [5, 9, 9, 3]})
    weights = peers.recency_weights(history, 2, 3, tau=2.0).toarray()
    # user 0: item 1 (the later row of the two at t=9) is the latest, then item 0, then 2
    assert np.allclose(weights[0], [np.exp(-0.5), 1.0, np.exp(-1.0)])
    assert np.allclose(weights[1], [0.0, 1.0, 0.0])


def test_the_registry_has_one_shape_per_protocol() -> None:
    names = [peer.name for peer in peers.PEERS]
    assert len(names) == len(set(names))
    loo = [peer for peer in peers.PEERS if peer.split == "loo"]
    assert {peer.name for peer in loo} == {"EASE", "EASE, recency-weighted", "ALS", "BPR"}
    assert all(peer.grid for peer in loo), "every implicit peer is tuned"
    assert {peer.split for peer in peers.PEERS} == {"u1", "loo"}


def test_a_tuned_peer_is_chosen_on_validation_and_scored_once_on_test(data) -> None:
    calls = []

    def fit(data: protocols.LeaveOneOut, on: str, strength: float) -> np.ndarray:
        calls.append((on, strength))
        target = data.positives("val") if strength == 2.0 else data.positives("test")
        scores = np.random.default_rng(0).random((data.n_users, data.n_items))
        scores[np.arange(data.n_users), target] += 10.0
        return scores

    peer = peers.Peer("fake", "numpy", "loo", fit, {"strength": [1.0, 2.0, 3.0]})
    result = peers.run_peer(peer, data=data, log=lambda line: None)
    assert result.chosen == {"strength": 2.0}  # the setting that wins on validation
    assert calls == [("val", 1.0), ("val", 2.0), ("val", 3.0), ("test", 2.0)]
    assert result.metrics["val_ndcg@10_full"] == 1.0
    assert len(result.tuning) == 3 and "val_hr@10_full" in result.tuning
    assert set(protocols.METRIC_KEYS) <= set(result.metrics)
    assert len(result.predictions) == data.test_candidates.size


def test_a_u1_peer_predicts_every_test_row() -> None:
    train, test = _interactions(seed=1), _interactions(seed=2).head(20)
    mean = float(train["rating"].mean())
    peer = peers.Peer("mean", "numpy", "u1", lambda tr: lambda pairs: np.full(len(pairs), mean))
    result = peers.run_peer(peer, u1=(train, test))
    assert result.metrics["rmse"] == pytest.approx(
        float(np.sqrt(np.mean((test["rating"] - mean) ** 2))))


def test_a_missing_peer_library_says_how_to_install_it() -> None:
    with pytest.raises(peers.PeerMissing, match=r"pip install -e '\.\[bench\]'"):
        peers._library("no_such_module_here", "no-such-package")


# ----------------------------------------------------------------------------------- tables


def test_explicit_table_sorts_by_rmse_and_divides_by_the_best_peer() -> None:
    rows = pd.DataFrame({"model": ["SVD", "MF", "mean"], "source": "x",
                         "kind": ["peer", "notebook", "notebook"], "split": "u1",
                         "rmse": [0.95, 0.931, 1.15], "mae": [0.75, 0.73, 0.9]})
    table = report.explicit_table(rows)
    assert table["model"].tolist() == ["MF", "SVD", "mean"]
    assert table["rmse ÷ best peer"].round(3).tolist() == [0.98, 1.0, 1.211]


def test_implicit_table_and_headline_compare_with_the_best_peer_chosen_on_validation() -> None:
    rows = pd.DataFrame([_loo_row("ALS", "peer", 0.4, val=0.08),
                         _loo_row("EASE", "peer", 0.5, val=0.07),   # better on test only
                         _loo_row("GMF", "notebook", 0.45, val=0.09),
                         _loo_row("MLP", "notebook", 0.6, val=0.01),
                         _loo_row("popularity", "notebook", 0.1, val=0.5)])  # not a model
    table = report.implicit_table(rows)
    assert table["model"].tolist() == ["MLP", "EASE", "GMF", "ALS", "popularity"]
    assert table.loc[table["model"] == "GMF", "hr@10_full ÷ best peer"].item() == 0.9
    best = report.headline(rows)
    assert list(best.columns)[1:3] == ["neural: GMF (x)", "peer: ALS"]
    assert best["neural ÷ peer"].round(4).tolist() == [1.125] * 4


def test_markdown_json_and_png(tmp_path: Path) -> None:
    tuning = {"EASE": {"grid": {"l2": [1.0, 2.0]}, "chosen": {"l2": 2.0},
                       "table": pd.DataFrame({"l2": [1.0, 2.0],
                                              "val_ndcg@10_full": [0.1, np.nan]})}}
    rows = pd.DataFrame([_loo_row("EASE", "peer", 0.5, 0.1), _loo_row("GMF", "notebook", 0.4,
                                                                      0.2)])
    rep = report.Report({"date": "2026-01-01 00:00 UTC"}, {"loo": "LOO."}, rows,
                        pd.DataFrame({"notebook": ["06"], "status": ["ok"]}), tuning,
                        ["something broke"])
    text = report.render_markdown(rep)
    for needle in ("## Explicit feedback", "## Implicit feedback", "LOO.", "neural ÷ peer",
                   "l2 ∈ [1.0, 2.0]", "chosen **{'l2': 2.0}**", "- something broke"):
        assert needle in text, needle
    files = report.write_report(rep, tmp_path)
    assert [f.name for f in files] == ["results.md", "results.json", "results.png"]
    loaded = json.loads((tmp_path / "results.json").read_text())
    assert loaded["tuning"]["EASE"]["tried"][1]["val_ndcg@10_full"] is None
    assert loaded["headline"][0]["neural ÷ peer"] == pytest.approx(0.8)


def test_an_empty_report_renders() -> None:
    rep = report.Report({}, {}, pd.DataFrame(), pd.DataFrame())
    text = report.render_markdown(rep)
    assert "None." in text and json.dumps(report.report_to_json(rep))


# --------------------------------------------------------------------------- collect / run


def test_collect_rescores_u1_rows_and_reports_every_problem(results_dir: Path) -> None:
    truth = pd.DataFrame({"user_id": [1, 2], "item_id": [5, 5], "rating": [4, 2]})
    good = truth[["user_id", "item_id"]].assign(prediction=[3.0, 3.0])
    results.record_result("01_x", "dot", {"rmse": 1.0, "mae": 1.0}, predictions=good)
    results.record_result("01_x", "liar", {"rmse": 0.5, "mae": 0.5}, predictions=good)
    results.record_result("01_x", "no file", {"rmse": 0.5, "mae": 0.5})
    results.record_result("01_x", "short", {"rmse": 0.5}, predictions=good.head(1))
    results.record_result("06_x", "GMF", dict.fromkeys(protocols.METRIC_KEYS, 0.5),
                          split="loo")
    results.record_result("06_x", "half", {"hr@10_sampled": 0.5}, split="loo")
    rows, problems = run.collect(results_dir, truth)
    assert sorted(rows["model"]) == ["GMF", "dot", "liar"]
    assert rows.loc[rows["model"] == "liar", "rmse"].item() == 1.0  # rescored, not trusted
    text = "\n".join(problems)
    assert "liar: recorded rmse 0.5000, but its predictions rescore to 1.0000" in text
    assert "no file: no prediction file" in text
    assert "short: 1 of 2 test rows have no prediction" in text
    assert "half: recorded on 'loo' without ndcg@10_sampled" in text
    assert "GMF: recorded on 'loo' without val_ndcg@10_full, so it cannot be chosen" in text


def test_run_end_to_end_with_fake_notebooks_and_peers(
    tmp_path: Path, results_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ratings = _interactions(n_items=130)  # 99 sampled negatives need enough unseen items
    monkeypatch.setattr("reclab.data.load_split", lambda name: (ratings, ratings.head(30)))
    monkeypatch.setattr("reclab.data.load_movielens_100k",
                        lambda: type("Data", (), {"ratings": ratings})())
    solutions = tmp_path / "solutions"
    solutions.mkdir()
    (solutions / "06_implicit_feedback.ipynb").write_text("{}")

    def notebook(path: Path, cwd: Path) -> None:
        data = protocols.leave_one_out_data(ratings)
        scores = protocols.popularity_scores(data)
        values = protocols.evaluate_ranking(scores, data)
        values |= {f"val_{k}": v for k, v in protocols.evaluate_ranking(
            protocols.popularity_scores(data, "val"), data, "val").items()}
        results.record_result(path.stem, "popularity", values, split="loo")

    fake = [peers.Peer("mean", "numpy", "u1", lambda tr: lambda p: np.full(len(p), 3.0)),
            peers.Peer("pop", "numpy", "loo", lambda d, on, w: w * protocols.popularity_scores(
                d, on), {"w": [1.0, 2.0]})]
    rep = run.run(tmp_path / "out", solutions=solutions, executor=notebook, peers=fake,
                  log=lambda line: None)
    status = rep.notebooks.set_index("notebook")["status"]
    assert status["06_implicit_feedback"] == "ok" and status["02_biased_mf"] == "missing"
    assert set(rep.rows["model"]) == {"mean", "pop", "popularity"}
    assert rep.tuning["pop"]["chosen"] == {"w": 1.0}  # ties keep the first setting
    assert (tmp_path / "out" / "results.md").is_file()
    assert not any("rescore" in p for p in rep.problems), rep.problems


def test_collect_reports_two_models_that_share_one_prediction_file(results_dir: Path) -> None:
    truth = pd.DataFrame({"user_id": [1], "item_id": [5], "rating": [4]})
    good = truth[["user_id", "item_id"]].assign(prediction=[4.0])
    for name in ("MF a", "MF_a"):  # two names, one file name
        results.record_result("02_x", name, {"rmse": 0.0, "mae": 0.0}, predictions=good)
    rows, problems = run.collect(results_dir, truth)
    assert any("'MF a', 'MF_a' share the prediction file MF_a.csv" in p for p in problems)
    assert rows.empty  # neither is shown with the other's numbers


def test_only_the_named_notebooks_are_executed_and_the_others_reused(tmp_path: Path) -> None:
    solutions = tmp_path / "solutions"
    solutions.mkdir()
    for stem in ("06_implicit_feedback", "07_two_tower_retrieval"):
        (solutions / f"{stem}.ipynb").write_text("{}")
    executed: list[str] = []
    runs = run.execute_notebooks(solutions, tmp_path / "results",
                                 executor=lambda path, cwd: executed.append(path.stem),
                                 log=lambda line: None, only=["07_two_tower_retrieval"])
    status = runs.set_index("notebook")["status"]
    assert executed == ["07_two_tower_retrieval"]
    assert status["07_two_tower_retrieval"] == "ok"
    assert status["06_implicit_feedback"] == "not run (recorded results reused)"


def test_skipping_the_notebooks_is_running_none_of_them(tmp_path: Path) -> None:
    executed: list[str] = []
    runs = run.execute_notebooks(tmp_path, tmp_path / "results", only=(),
                                 executor=lambda path, cwd: executed.append(path.stem),
                                 log=lambda line: None)
    assert executed == []
    assert set(runs["status"]) == {"not run (recorded results reused)"}
