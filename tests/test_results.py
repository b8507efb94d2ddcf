"""reclab.results: where the shared table lives, file names of models."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from reclab import results


def test_labs_in_my_labs_share_the_checkout_table(tmp_path, monkeypatch):
    monkeypatch.delenv("RECLAB_RESULTS", raising=False)
    checkout = tmp_path / "course"
    (checkout / "reclab").mkdir(parents=True)
    (checkout / "pyproject.toml").write_text("[project]\nname='reclab'\n")
    for folder in ("solutions", "labs", "my-labs"):
        (checkout / folder).mkdir()
        monkeypatch.chdir(checkout / folder)
        assert results.results_dir() == (checkout / "results").resolve()


def test_a_folder_outside_any_checkout_uses_the_imported_packages_checkout(tmp_path,
                                                                           monkeypatch):
    monkeypatch.delenv("RECLAB_RESULTS", raising=False)
    monkeypatch.chdir(tmp_path)
    package_checkout = Path(results.__file__).resolve().parents[1]
    assert results.results_dir() == package_checkout / "results"


def test_table_written_from_one_lab_folder_is_read_from_another(tmp_path, monkeypatch):
    monkeypatch.delenv("RECLAB_RESULTS", raising=False)
    checkout = tmp_path / "course"
    (checkout / "reclab").mkdir(parents=True)
    (checkout / "pyproject.toml").write_text("")
    (checkout / "my-labs").mkdir()
    monkeypatch.chdir(checkout)                # e.g. solutions run from the top
    results.record_result("00_movielens_tour", "global mean", {"rmse": 1.15})
    monkeypatch.chdir(checkout / "my-labs")    # the student's lab 04
    results.record_result("04_embeddings", "biased MF", {"rmse": 0.93})
    table = results.results_table()
    assert set(table["notebook"]) == {"00_movielens_tour", "04_embeddings"}


@pytest.mark.parametrize(("a", "b"), [("SVD", "SVD++"), ("MF (a)", "MF (a)+")])
def test_distinct_model_names_keep_distinct_files(a, b):
    assert results._slug(a) != results._slug(b)


def test_svdpp_file_name():
    assert results._slug("SVD++") == "SVDpp"
    assert isinstance(results.results_table(notebooks=["no such notebook"]), pd.DataFrame)


def test_the_bias_baseline_file_is_where_notebook_01_reads_it():
    # notebook 01 reads 00_movielens_tour/user_item_bias.csv (the "user + item bias" model)
    assert results._slug("user + item bias") == "user_item_bias"
