"""Tests of reclab.bench on small synthetic inputs: no notebook is executed, no peer is fitted.

The peer libraries (Surprise, implicit) are not needed: rescoring, collecting, the tables,
the ranking protocol, the rendering and the whole run (with injected peers and notebook
executor) are pure functions of plain data.
"""

from __future__ import annotations

import dataclasses
import json
import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from reclab import bench
from reclab.bench import (
    IMPLICIT_KEYS,
    BenchError,
    BenchReport,
    Environment,
    ModelResult,
    NotebookRun,
)
from reclab.metrics import rank_of_positive
from reclab.results import record_result

ENV = Environment("2025-01-01 12:00 UTC", "Test CPU 9000", 2, "3.11.9",
                  {"numpy": "2.4.6", "implicit": "0.7.3"})


# --------------------------------------------------------------------------------- fixtures


@pytest.fixture
def truth() -> pd.DataFrame:
    """A tiny 'u1.test': 3 users, 6 ratings."""
    return pd.DataFrame(
        {
            "user_id": [1, 1, 2, 2, 3, 3],
            "item_id": [10, 20, 10, 30, 20, 30],
            "rating": [5, 3, 4, 1, 2, 4],
            "timestamp": [1, 2, 3, 4, 5, 6],
        }
    )


def _predictions(truth: pd.DataFrame, offset: float = 0.5) -> pd.DataFrame:
    return truth[["user_id", "item_id"]].assign(prediction=truth["rating"] + offset)


@pytest.fixture
def results_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "results"
    monkeypatch.setenv("RECLAB_RESULTS", str(folder))
    return folder


def _implicit_metrics(hr: float) -> dict[str, float]:
    return {"hr@10_sampled": hr, "ndcg@10_sampled": hr / 2, "hr@10_full": hr / 5,
            "ndcg@10_full": hr / 10, "coverage@10": 0.3}


def _sample_results() -> list[ModelResult]:
    return [
        ModelResult("SVD++", "Surprise 1.1.5", "peer", "u1", {"rmse": 0.934, "mae": 0.73}, 20.0),
        ModelResult("SVD", "Surprise 1.1.5", "peer", "u1", {"rmse": 0.956, "mae": 0.75}, 0.8),
        ModelResult("dot", "01_regression_dot", "notebook", "u1",
                    {"rmse": 1.02, "mae": 0.80}, 11.0),
        ModelResult("AutoRec", "03_deep_recommender", "notebook", "u1",
                    {"rmse": 0.9153, "mae": 0.72}, None),
        ModelResult("ALS (32 factors)", "implicit 0.7.3", "peer", "loo",
                    _implicit_metrics(0.6), 0.5),
        ModelResult("popularity", "reclab (numpy)", "peer", "loo", _implicit_metrics(0.4), 0.0),
        ModelResult("NeuMF", "06_implicit_feedback", "notebook", "loo",
                    _implicit_metrics(0.66), 40.0, rescored=False),
    ]


def _sample_report(**kwargs: object) -> BenchReport:
    runs = [NotebookRun("01_regression_dot", 61.5, "ok"),
            NotebookRun("03_deep_recommender", 150.0, "ok"),
            NotebookRun("06_implicit_feedback", 12.0, "failed: ValueError: boom")]
    return BenchReport(ENV, _sample_results(), runs, problems=["something odd"], **kwargs)


def _synthetic_ratings(n_users: int = 30, n_items: int = 40, seed: int = 0) -> pd.DataFrame:
    """Each user rates 12 distinct items at distinct times, popular items more often."""
    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, n_items + 1)
    rows = []
    for user in range(1, n_users + 1):
        items = rng.choice(np.arange(101, 101 + n_items), size=12, replace=False,
                           p=weights / weights.sum())
        for t, item in enumerate(items):
            rows.append((user, int(item), int(rng.integers(1, 6)), 1000 * user + t))
    return pd.DataFrame(rows, columns=["user_id", "item_id", "rating", "timestamp"])


# --------------------------------------------------------------------------------- rescoring


def test_rescore_matches_hand_computation_in_any_row_order(truth: pd.DataFrame) -> None:
    preds = _predictions(truth, 0.5).sample(frac=1.0, random_state=1)
    preds.loc[preds.index[0], "prediction"] += 1.5  # one error of 2.0, five of 0.5
    scores = bench.rescore_predictions(preds, truth)
    assert scores["mae"] == pytest.approx((2.0 + 5 * 0.5) / 6)
    assert scores["rmse"] == pytest.approx(math.sqrt((4.0 + 5 * 0.25) / 6))


def test_rescore_names_missing_test_rows(truth: pd.DataFrame) -> None:
    preds = _predictions(truth).iloc[:4]
    with pytest.raises(BenchError, match=r"MF: 2 of 6 test rows have no prediction.*\(3, 20\)"):
        bench.rescore_predictions(preds, truth, label="MF")


def test_rescore_rejects_duplicates_extra_pairs_nan_and_bad_columns(truth: pd.DataFrame) -> None:
    preds = _predictions(truth)
    with pytest.raises(BenchError, match="repeat a"):
        bench.rescore_predictions(pd.concat([preds, preds.iloc[:1]]), truth)
    extra = pd.concat([preds, pd.DataFrame({"user_id": [9], "item_id": [99],
                                            "prediction": [3.0]})])
    with pytest.raises(BenchError, match="not in the test set"):
        bench.rescore_predictions(extra, truth)
    with pytest.raises(BenchError, match="1 predictions are missing, NaN or infinite"):
        bench.rescore_predictions(preds.assign(prediction=[1, 2, 3, np.nan, 4, 5]), truth)
    with pytest.raises(BenchError, match=r"lacks column\(s\) \['prediction'\]"):
        bench.rescore_predictions(preds.rename(columns={"prediction": "score"}), truth)


# --------------------------------------------------------------------------------- collecting


def test_collect_rescores_u1_models_and_keeps_loo_as_recorded(
    truth: pd.DataFrame, results_dir: Path
) -> None:
    good = bench.rescore_predictions(_predictions(truth, 0.25), truth)
    record_result("02_biased_mf", "MF", good, train_seconds=3.2,
                  predictions=_predictions(truth, 0.25))
    record_result("02_biased_mf", "MF cold", {"rmse": 1.0}, split="cold")  # not comparable
    record_result("06_implicit_feedback", "GMF", _implicit_metrics(0.55), split="loo",
                  train_seconds=9.0)
    results, problems = bench.collect_notebook_results(
        results_dir, truth, ["02_biased_mf", "06_implicit_feedback"]
    )
    assert problems == []
    assert [(r.model, r.split, r.rescored) for r in results] == [
        ("MF", "u1", True), ("GMF", "loo", False)]
    assert results[0].metrics["rmse"] == pytest.approx(0.25)
    assert results[0].train_seconds == pytest.approx(3.2)
    assert results[1].metrics == _implicit_metrics(0.55)


def test_collect_reports_every_kind_of_problem(truth: pd.DataFrame, results_dir: Path) -> None:
    record_result("01_regression_dot", "liar", {"rmse": 0.5, "mae": 0.5},
                  predictions=_predictions(truth, 0.25))            # rescores to 0.25
    record_result("01_regression_dot", "no file", {"rmse": 0.9})   # no predictions
    record_result("01_regression_dot", "short", {"rmse": 0.25},
                  predictions=_predictions(truth, 0.25).iloc[:5])   # a test row missing
    record_result("06_implicit_feedback", "half", {"hr@10_sampled": 0.5}, split="loo")
    results, problems = bench.collect_notebook_results(
        results_dir, truth, ["01_regression_dot", "04_embeddings", "06_implicit_feedback"]
    )
    text = "\n".join(problems)
    assert "liar: the notebook recorded rmse 0.5000 but its predictions rescore to 0.2500" in text
    assert "no file: recorded on u1 without predictions" in text
    assert "short: 1 of 6 test rows have no prediction" in text
    assert "no results for 04_embeddings" in text
    assert "Run `reclab bench` without --skip-notebooks" in text
    assert "half: recorded on split 'loo' without ndcg@10_sampled" in text
    assert [r.model for r in results] == ["liar", "half"]  # rescored value, partial metrics


def test_collect_detects_two_models_sharing_one_prediction_file(
    truth: pd.DataFrame, results_dir: Path
) -> None:
    for name in ("MF+", "MF"):  # both become MF.csv in reclab.results
        record_result("02_biased_mf", name, {"rmse": 0.25},
                      predictions=_predictions(truth, 0.25))
    _, problems = bench.collect_notebook_results(results_dir, truth, ["02_biased_mf"])
    assert any("'MF+', 'MF' share the prediction file MF.csv" in p for p in problems)


def test_protocol_agreement_compares_same_named_loo_models_only() -> None:
    peer = ModelResult("popularity", "reclab (numpy)", "peer", "loo", _implicit_metrics(0.41))
    same = ModelResult("popularity", "06_implicit_feedback", "notebook", "loo",
                       _implicit_metrics(0.41), 0.0, rescored=False)
    assert bench.check_protocol_agreement([peer, same]) == []
    other = ModelResult("popularity", "06_implicit_feedback", "notebook", "loo",
                        {**_implicit_metrics(0.41), "hr@10_full": 0.05}, 0.0, rescored=False)
    (problem,) = bench.check_protocol_agreement([peer, other])
    assert problem.startswith("06_implicit_feedback / popularity: hr@10_full 0.0500 recorded")
    assert "not comparable" in problem
    assert bench.check_protocol_agreement(_sample_results()) == []  # NeuMF has no peer twin
    assert bench.protocol_twins([peer, same, other]) == ["06_implicit_feedback / popularity"]
    text = bench.render_markdown(BenchReport(ENV, [peer, same], []))
    assert "Protocol check: 06_implicit_feedback / popularity recorded by the notebook" in text


# --------------------------------------------------------------------------------- tables


def test_explicit_table_sorts_by_rmse_and_divides_by_the_best_peer() -> None:
    table = bench.explicit_table(_sample_results())
    assert table["model"].tolist() == ["AutoRec", "SVD++", "SVD", "dot"]
    assert table["rmse_vs_best_peer"].tolist() == pytest.approx(
        [0.9153 / 0.934, 1.0, 0.956 / 0.934, 1.02 / 0.934])
    assert math.isnan(table.loc[0, "train_seconds"])


def test_explicit_table_without_peers_has_no_ratio_and_empty_input_gives_columns() -> None:
    only_notebooks = [r for r in _sample_results() if r.kind == "notebook"]
    assert bench.explicit_table(only_notebooks)["rmse_vs_best_peer"].isna().all()
    assert "rmse_vs_best_peer" in bench.explicit_table([]).columns


def test_implicit_table_ratios_per_metric() -> None:
    table = bench.implicit_table(_sample_results())
    assert table["model"].tolist() == ["NeuMF", "ALS (32 factors)", "popularity"]
    for key in bench.IMPLICIT_HEADLINE:
        assert table[f"{key}/best_peer"].tolist() == pytest.approx([1.1, 1.0, 0.4 / 0.6])
    assert bench.implicit_table([]).empty


# --------------------------------------------------------------------------------- environment


def test_cpu_model_and_environment_info() -> None:
    text = "processor\t: 0\nvendor_id\t: X\nmodel name\t: Fancy CPU @ 3 GHz\n\nprocessor\t: 1\n"
    assert bench.cpu_model(text) == "Fancy CPU @ 3 GHz"
    assert bench.cpu_model("no such line") == "unknown"
    env = bench.environment_info()
    assert env.cores >= 1
    assert env.date.endswith("UTC")
    assert set(env.versions) >= {"tensorflow", "keras", "scikit-surprise", "implicit",
                                 "numpy", "pandas"}
    assert env.versions["numpy"] == np.__version__
    assert env.load_average is None or env.load_average >= 0


# --------------------------------------------------------------------------------- rendering


def test_markdown_has_every_section_and_marks_the_published_results() -> None:
    text = bench.render_markdown(_sample_report())
    for needle in (
        "- date: 2025-01-01 12:00 UTC",
        "- machine: Test CPU 9000, 2 core(s); Python 3.11.9",
        "numpy 2.4.6, implicit 0.7.3",
        "| model | source | u1 RMSE | MAE | train time (s) | RMSE ÷ best peer |",
        "| AutoRec | 03_deep_recommender | 0.9153 | 0.7200 | – | 0.980 |",
        "| **SVD++** | Surprise 1.1.5 | 0.9340 | 0.7300 | 20.0 | 1.000 |",
        "### Published u1 results (published, not rerun here)",
        "| GLocal-K | 0.889 |",
        "| NeuMF | 06_implicit_feedback | 0.660 (1.10×) |",
        "| 03_deep_recommender | 150.0 | 120 | ok — over budget |",
        "| 06_implicit_feedback | 12.0 | 180 | failed: ValueError: boom |",
        "- something odd",
        "![u1 RMSE and leave-one-out HR@10](results.png)",
    ):
        assert needle in text, needle
    assert "--skip-notebooks" not in text
    assert "--skip-notebooks" in bench.render_markdown(_sample_report(skipped_notebooks=True))
    assert "load average" not in text
    busy = dataclasses.replace(ENV, load_average=7.5)
    assert "load average 7.5 when the run started (the machine was busy" in bench.render_markdown(
        BenchReport(busy, [], []))


def test_markdown_of_an_empty_report_says_so() -> None:
    text = bench.render_markdown(BenchReport(ENV, [], []))
    assert "No u1 results." in text
    assert "No leave-one-out results." in text
    assert "No solution notebooks found." in text
    assert text.rstrip().endswith("None.")


def test_json_is_strict_json_with_nan_as_null() -> None:
    data = bench.report_to_json(_sample_report())
    text = json.dumps(data, allow_nan=False)  # raises on NaN/inf
    back = json.loads(text)
    autorec = next(row for row in back["explicit"] if row["model"] == "AutoRec")
    assert autorec["train_seconds"] is None
    assert back["protocol"]["candidate_seed"] == bench.CANDIDATE_SEED
    assert back["notebooks"][1]["within_budget"] is False
    assert [p["model"] for p in back["published_not_rerun"]] == [
        "GC-MC", "IGMC", "Sparse FC", "GLocal-K"]
    assert set(IMPLICIT_KEYS) <= set(back["implicit"][0])
    assert [row["rescored"] for row in back["implicit"]] == [False, True, True]


def test_write_report_writes_markdown_json_and_a_png(tmp_path: Path) -> None:
    paths = bench.write_report(_sample_report(), tmp_path / "out")
    assert [p.name for p in paths] == ["results.md", "results.json", "results.png"]
    assert paths[2].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # an empty report still draws (with a note in each panel)
    empty = bench.plot_report(BenchReport(ENV, [], []), tmp_path / "empty.png")
    assert empty.stat().st_size > 0


# --------------------------------------------------------------------------------- protocol


def test_prepare_loo_holds_out_each_users_latest_rating_with_sampled_candidates() -> None:
    ratings = _synthetic_ratings()
    loo = bench.prepare_loo(ratings, seed=3, n_neg=5)
    latest = ratings.loc[ratings.groupby("user_id")["timestamp"].idxmax()]
    assert sorted(loo.encoder.inverse_items(loo.test["item_idx"].to_numpy())) == sorted(
        latest["item_id"])
    assert loo.candidates.items.shape == (30, 6)
    assert loo.train_seen.sum() == len(ratings) - 30
    # negatives: never an item the user rated (train or test)
    rated = np.zeros_like(loo.train_seen)
    rated[loo.test["user_idx"], loo.test["item_idx"]] = True
    rated |= loo.train_seen
    users = loo.candidates.users
    assert not rated[users[:, None], loo.candidates.items[:, 1:]].any()
    # same seed, same candidates (so the peers and notebook 06 score the same lists)
    again = bench.prepare_loo(ratings, seed=3, n_neg=5)
    assert np.array_equal(again.candidates.items, loo.candidates.items)


def test_ranking_metrics_for_an_oracle_an_anti_oracle_and_random_scores() -> None:
    loo = bench.prepare_loo(_synthetic_ratings(), seed=0, n_neg=5)
    users = loo.test["user_idx"].to_numpy()
    items = loo.test["item_idx"].to_numpy()
    oracle = np.zeros((loo.n_users, loo.n_items))
    oracle[users, items] = 1.0
    best = bench.ranking_metrics(oracle, loo)
    assert {key: best[key] for key in bench.IMPLICIT_HEADLINE} == dict.fromkeys(
        bench.IMPLICIT_HEADLINE, 1.0)
    assert best["coverage@10"] >= len(np.unique(items)) / loo.n_items
    worst = bench.ranking_metrics(-oracle, loo)
    assert worst["hr@10_full"] == 0.0
    assert worst["hr@10_sampled"] == 1.0  # only 6 candidates: all are in the top 10

    scores = np.random.default_rng(1).normal(size=(loo.n_users, loo.n_items))
    got = bench.ranking_metrics(scores, loo)
    rank = rank_of_positive(scores[users], items, exclude=loo.train_seen[users])
    assert got["hr@10_full"] == pytest.approx(np.mean(rank < 10))
    assert got["ndcg@10_full"] == pytest.approx(np.mean(np.where(rank < 10,
                                                                 1 / np.log2(rank + 2), 0)))
    with pytest.raises(ValueError, match="users × items"):
        bench.ranking_metrics(scores[:, :-1], loo)


def test_popularity_scores_count_training_interactions() -> None:
    loo = bench.prepare_loo(_synthetic_ratings(), n_neg=5)
    pop = bench.popularity_scores(loo)
    assert pop.shape == (loo.n_users, loo.n_items)
    assert np.array_equal(pop[0], loo.train_seen.sum(axis=0))
    assert np.array_equal(pop[0], pop[-1])


def test_saved_ranking_predictions_rescore_to_the_same_metrics(tmp_path: Path) -> None:
    loo = bench.prepare_loo(_synthetic_ratings(), n_neg=5)
    scores = np.random.default_rng(2).normal(size=(loo.n_users, loo.n_items))
    fit = bench.RankingFit("ALS (32 factors)", scores, 0.1)
    bench.save_ranking_predictions(fit, loo, tmp_path)
    expected = bench.ranking_metrics(scores, loo)

    cand = pd.read_csv(tmp_path / "ALS_32_factors.csv")
    matrix = cand["prediction"].to_numpy().reshape(len(loo.test), -1)
    hit = (matrix[:, 1:] >= matrix[:, :1]).sum(axis=1) < 10
    assert np.mean(hit) == pytest.approx(expected["hr@10_sampled"])

    top = pd.read_csv(tmp_path / "ALS_32_factors.top10.csv")
    held_out = pd.DataFrame({
        "user_id": loo.encoder.inverse_users(loo.test["user_idx"].to_numpy()),
        "item_id": loo.encoder.inverse_items(loo.test["item_idx"].to_numpy())})
    hits = top.merge(held_out, on=["user_id", "item_id"])
    assert len(hits) / len(held_out) == pytest.approx(expected["hr@10_full"])
    assert top["item_id"].nunique() / loo.n_items == pytest.approx(expected["coverage@10"])


# --------------------------------------------------------------------------------- peers, notebooks


def test_a_missing_peer_library_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "surprise", None)  # makes `import surprise` fail
    with pytest.raises(BenchError, match=r"scikit-surprise is not installed.*\.\[bench\]"):
        bench.check_peers_installed()


def test_execute_notebooks_times_each_clears_stale_results_and_survives_failures(
    tmp_path: Path,
) -> None:
    results = tmp_path / "results"
    (results / "00_a").mkdir(parents=True)
    (results / "00_a" / "old_model.csv").write_text("stale")
    (results / "peers").mkdir()
    calls: list[tuple[str, Path]] = []

    def fake(notebook: Path, cwd: Path) -> None:
        calls.append((notebook.name, cwd))
        if notebook.stem == "01_b":
            raise RuntimeError("cell 3 raised\n\x1b[0;31mValueError\x1b[0m: the loss is NaN")

    runs = bench.execute_notebooks(tmp_path / "solutions", results, ["00_a", "01_b", "02_c"],
                                   executor=fake, log=lambda _: None)
    assert [c[0] for c in calls] == ["00_a.ipynb", "01_b.ipynb", "02_c.ipynb"]
    assert all(cwd == tmp_path / "solutions" for _, cwd in calls)
    assert [r.status for r in runs] == ["ok", "failed: ValueError: the loss is NaN", "ok"]
    assert all(r.wall_seconds is not None and r.wall_seconds >= 0 for r in runs)
    assert not (results / "00_a").exists()
    assert (results / "peers").exists()


def _fake_peers(train: pd.DataFrame, test: pd.DataFrame, ratings: pd.DataFrame,
                peers_dir: Path, **_: object) -> list[ModelResult]:
    peers_dir.mkdir(parents=True, exist_ok=True)
    return [ModelResult("SVD", "Surprise 1.1.5", "peer", "u1",
                        bench.rescore_predictions(_predictions(test, 0.5), test), 0.1)]


def test_run_bench_end_to_end_with_injected_peers_and_notebooks(
    tmp_path: Path, truth: pd.DataFrame, results_dir: Path
) -> None:
    solutions = tmp_path / "solutions"
    solutions.mkdir()
    for name in ("01_regression_dot", "02_biased_mf"):
        (solutions / f"{name}.ipynb").write_text("{}")

    def fake_notebook(notebook: Path, cwd: Path) -> None:
        if notebook.stem == "01_regression_dot":  # 02 "forgets" to record anything
            record_result(notebook.stem, "dot", {"rmse": 0.25, "mae": 0.25},
                          train_seconds=1.0, predictions=_predictions(truth, 0.25))

    report = bench.run_bench(
        tmp_path / "out", solutions_dir=solutions, results_dir=results_dir,
        data=(truth, truth, truth), peers=_fake_peers, executor=fake_notebook,
        log=lambda _: None,
    )
    assert [(r.model, r.kind) for r in report.results] == [("dot", "notebook"), ("SVD", "peer")]
    assert [r.status for r in report.notebooks] == ["ok", "ok"]
    assert len(report.problems) == 1 and "no results for 02_biased_mf" in report.problems[0]
    md = (tmp_path / "out" / "results.md").read_text()
    assert "| dot | 01_regression_dot | 0.2500 | 0.2500 | 1.0 | 0.500 |" in md
    assert json.loads((tmp_path / "out" / "results.json").read_text())["explicit"][0]["model"] \
        == "dot"

    skipped = bench.run_bench(
        tmp_path / "out2", True, solutions_dir=solutions, results_dir=results_dir,
        data=(truth, truth, truth), peers=_fake_peers,
        executor=lambda nb, cwd: pytest.fail("--skip-notebooks must not execute notebooks"),
        log=lambda _: None,
    )
    assert [r.status for r in skipped.notebooks] == ["not run (--skip-notebooks)"] * 2
    assert [r.model for r in skipped.results] == ["dot", "SVD"]  # reused from results/


def test_run_cli_exit_code_reflects_problems(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    report = BenchReport(ENV, [], [], problems=["no results for 05_side_information"])
    monkeypatch.setattr(bench, "run_bench", lambda out, skip: report)
    assert bench.run_cli(Path("unused"), skip_notebooks=True) == 1
    assert "problem: no results for 05_side_information" in capsys.readouterr().err
    monkeypatch.setattr(bench, "run_bench", lambda out, skip: BenchReport(ENV, [], []))
    assert bench.run_cli(Path("unused"), skip_notebooks=False) == 0


def test_the_cli_routes_bench_to_run_cli(monkeypatch: pytest.MonkeyPatch) -> None:
    from reclab import cli

    seen: list[tuple[Path, bool]] = []
    monkeypatch.setattr(bench, "run_cli",
                        lambda out_dir, skip_notebooks: seen.append((out_dir, skip_notebooks)) or 0)
    assert cli.main(["bench", "--out", "somewhere", "--skip-notebooks"]) == 0
    assert seen == [(Path("somewhere"), True)]
