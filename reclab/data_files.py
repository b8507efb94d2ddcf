"""The ml-100k folder: where it lives, what its files hold, and how a copy is judged correct.

The lowest layer of :mod:`reclab.data` (which notebooks use; :mod:`reclab.data_cache` builds
the cache on top of this module):

- the official text layout — ``u.data`` (tab-separated ratings), ``u.item`` / ``u.user``
  (``|``-separated, latin-1), ``u.genre``, ``u.occupation`` and the ``u1..u5`` splits of
  ``mku.sh`` — parsed into typed DataFrames (:func:`parse_folder`) and written back
  (:func:`write_text_files`, for the offline mirror);
- the :class:`Fingerprint` of a correct MovieLens 100k (``EXPECTED``) and the checks against
  it (:func:`problems`, :func:`verify`), every problem naming its file;
- the fix to suggest when a folder is wrong (:func:`fix_hint`, :func:`require_files`), which
  depends on whether the folder is the cache (:func:`cache_dir`).

Every caller reads ``data_files.EXPECTED`` at call time, so tests swap that one name for the
fingerprint of small synthetic data (``monkeypatch.setattr(data_files, "EXPECTED", ...)``).

Example:
    >>> tables = verify(cache_dir() / "ml-100k", EXPECTED)          # doctest: +SKIP
    >>> len(tables.ratings), len(tables.items), len(tables.users)  # doctest: +SKIP
    (100000, 1682, 943)
"""

from __future__ import annotations

import csv
import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import platformdirs
import pyarrow as pa
import pyarrow.csv as pa_csv

from reclab.errors import DataError

__all__ = [
    "CORE_FILES",
    "EXPECTED",
    "GENRES",
    "OCCUPATIONS",
    "RATING_COLUMNS",
    "SPLITS",
    "SPLIT_FILES",
    "TEMP_PREFIXES",
    "USER_COLUMNS",
    "Fingerprint",
    "Tables",
    "cache_dir",
    "fix_hint",
    "parse_folder",
    "problems",
    "read_ratings",
    "require_files",
    "typed_items",
    "typed_users",
    "verify",
    "write_text_files",
]

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

RATING_COLUMNS = ["user_id", "item_id", "rating", "timestamp"]
USER_COLUMNS = ["user_id", "age", "gender", "occupation", "zip_code"]
_ITEM_COLUMNS = ["item_id", "title", "release_date", "video_release_date", "imdb_url", *GENRES]
CORE_FILES = ("u.data", "u.item", "u.user", "u.genre", "u.occupation")
SPLIT_FILES = tuple(f"{name}.{part}" for name in SPLITS for part in ("base", "test"))
#: Name prefixes of the cache's temporary folders (staging, replaced copy, download).
TEMP_PREFIXES = (".ml-100k.tmp-", ".ml-100k.old-", ".ml-100k.download-")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


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


@dataclass(frozen=True)
class Tables:
    """The three typed tables of a folder (the columns :func:`reclab.data.load_movielens_100k`
    documents), as parsed from its text files or read from the cache's fast copy.

    Example:
        >>> Tables(pd.DataFrame(), pd.DataFrame(), pd.DataFrame()).ratings.empty
        True
    """

    ratings: pd.DataFrame
    items: pd.DataFrame
    users: pd.DataFrame


# --------------------------------------------------------------------------- where, and the fix


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


def require_files(folder: Path, names: tuple[str, ...], origin: str) -> None:
    """Raise DataError naming the files of ``names`` missing from ``folder``, with the fix.

    ``origin`` says where the folder came from: ``"the cache"``, ``"data_dir"`` or
    ``"RECLAB_DATA"`` (the fix differs).

    Example:
        >>> require_files(Path("/nowhere/ml-100k"), ("u.data",), "data_dir")
        Traceback (most recent call last):
        ...
        reclab.errors.DataError: /nowhere/ml-100k (data_dir) does not hold MovieLens 100k: \
missing u.data. Unzip ml-100k.zip into /nowhere (so that /nowhere/ml-100k/u.data exists), \
or drop data_dir to use the cache (`reclab data fetch`).
    """
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


def fix_hint(folder: Path) -> str:
    """What to do about a wrong file in ``folder``: rebuild the cache, or replace the files.

    A download still being checked (a temporary folder) gets ``""``: its caller explains.

    Example:
        >>> fix_hint(Path("/cache/.ml-100k.tmp-1a2b"))
        ''
        >>> fix_hint(Path("/mine/ml-100k"))[:40]
        'Replace the files in /mine/ml-100k with '
    """
    if folder.name.startswith(TEMP_PREFIXES):
        return ""
    if folder == cache_dir() / "ml-100k":
        return "Run `reclab data fetch --force` to rebuild the cache."
    return (
        f"Replace the files in {folder} with a fresh copy from ml-100k.zip, or unset "
        "RECLAB_DATA / drop data_dir and run `reclab data fetch --force` to use the cache."
    )


# --------------------------------------------------------------------------- writing


def write_text_files(
    folder: Path, ratings: pd.DataFrame, item_text: pd.DataFrame, users: pd.DataFrame
) -> None:
    """Write the official text layout: u.data/item/user/genre/occupation/info, u1..u5.

    ``item_text`` holds the ``u.item`` fields as text (dates as ``01-Jan-1995``, ``""`` where
    missing); ``u1..u5`` are made by the official ``mku.sh`` recipe.

    Example:
        >>> import tempfile
        >>> ratings = pd.DataFrame({"user_id": [1, 1, 2, 2, 3], "item_id": [1, 2, 1, 2, 1],
        ...                         "rating": [4, 3, 5, 1, 2], "timestamp": range(5)})
        >>> items = pd.DataFrame({"item_id": [1, 2], "title": ["A (1990)", "B (1991)"],
        ...                       "release_date": ["01-Jan-1990", ""],
        ...                       "video_release_date": "", "imdb_url": "",
        ...                       **{g: 0 for g in GENRES}})
        >>> users = pd.DataFrame({"user_id": [1, 2, 3], "age": [20, 30, 40],
        ...                       "gender": ["M", "F", "M"], "occupation": "other",
        ...                       "zip_code": ["10001", "T8H1N", "94110"]})
        >>> folder = Path(tempfile.mkdtemp())
        >>> write_text_files(folder, ratings, items, users)
        >>> (folder / "u1.test").read_text()
        '1\\t1\\t4\\t0\\n'
        >>> parse_folder(folder).items["release_date"].tolist()
        [Timestamp('1990-01-01 00:00:00'), NaT]
    """
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
    table = pa.Table.from_pandas(ratings[RATING_COLUMNS], preserve_index=False)
    out = pa.BufferOutputStream()
    options = pa_csv.WriteOptions(include_header=False, delimiter="\t", quoting_style="none")
    pa_csv.write_csv(table, out, options)
    return out.getvalue().to_pybytes()


def _pipe_lines(frame: pd.DataFrame) -> str:
    columns = [frame[c].astype(str) for c in frame.columns]
    lines = columns[0].str.cat(columns[1:], sep="|")
    return "".join(line + "\n" for line in lines)


# --------------------------------------------------------------------------- parsing


def read_ratings(path: Path) -> pd.DataFrame:
    """Read a ratings file (``u.data``, ``u1.base``, …) as four int64 columns, in file order.

    Raises DataError naming the file and the fix when it cannot be parsed.

    Example:
        >>> import tempfile
        >>> path = Path(tempfile.mkdtemp()) / "u1.test"
        >>> _ = path.write_text("1\\t5\\t4\\t881250949\\n")
        >>> read_ratings(path).to_dict("records")
        [{'user_id': 1, 'item_id': 5, 'rating': 4, 'timestamp': 881250949}]
    """
    try:
        return pd.read_csv(
            path, sep="\t", header=None, names=RATING_COLUMNS, dtype="int64", index_col=False
        )
    except (ValueError, pd.errors.ParserError) as exc:
        raise DataError(f"{path.name} in {path.parent} cannot be parsed ({exc}). "
                        f"{fix_hint(path.parent)}") from exc  # fmt: skip


def _read_pipe(path: Path, columns: list[str]) -> pd.DataFrame:
    try:
        frame = pd.read_csv(
            path, sep="|", header=None, names=columns, dtype=str, encoding="latin-1",
            keep_default_na=False, quoting=csv.QUOTE_NONE, index_col=False,
        )  # fmt: skip
    except (ValueError, pd.errors.ParserError) as exc:
        raise DataError(f"{path.name} in {path.parent} cannot be parsed ({exc}). "
                        f"{fix_hint(path.parent)}") from exc  # fmt: skip
    return frame


def _parse_dates(text: pd.Series) -> pd.Series:
    """'01-Jan-1995' (day may be unpadded) → datetime64[ns]; '' → NaT. Locale independent.

    Example:
        >>> _parse_dates(pd.Series(["01-Jan-1995", "4-Feb-1971", ""])).dt.day.tolist()
        [1.0, 4.0, nan]
    """
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


def typed_items(item_text: pd.DataFrame) -> pd.DataFrame:
    """``u.item``'s text fields → typed columns, sorted by ``item_id``.

    Dates become datetime64[ns] (NaT where empty), an empty URL becomes missing, the genre
    flags int8.

    Example:
        >>> text = pd.DataFrame({"item_id": ["2", "1"], "title": ["B", "A"],
        ...                      "release_date": ["", "01-Jan-1995"], "video_release_date": "",
        ...                      "imdb_url": ["", "http://x"], **{g: "0" for g in GENRES}})
        >>> typed_items(text)[["item_id", "release_date", "imdb_url"]].to_dict("list")
        {'item_id': [1, 2], 'release_date': [Timestamp('1995-01-01 00:00:00'), NaT], \
'imdb_url': ['http://x', nan]}
    """
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


def typed_users(users: pd.DataFrame) -> pd.DataFrame:
    """``u.user``'s columns with ``user_id`` and ``age`` as int64 (the rest stay strings).

    Example:
        >>> text = pd.DataFrame({"user_id": ["1"], "age": ["24"], "gender": ["M"],
        ...                      "occupation": ["technician"], "zip_code": ["85711"]})
        >>> typed_users(text)[["user_id", "age"]].to_dict("records")
        [{'user_id': 1, 'age': 24}]
    """
    return pd.DataFrame(
        {
            "user_id": users["user_id"].astype("int64"),
            "age": users["age"].astype("int64"),
            "gender": users["gender"],
            "occupation": users["occupation"],
            "zip_code": users["zip_code"],
        }
    ).reset_index(drop=True)


def parse_folder(folder: Path) -> Tables:
    """Read u.data, u.item and u.user from the text files into typed DataFrames.

    Raises DataError naming the file that cannot be parsed, and the fix.

    Example:
        >>> parse_folder(cache_dir() / "ml-100k").ratings.shape     # doctest: +SKIP
        (100000, 4)
    """
    ratings = read_ratings(folder / "u.data")
    try:
        items = typed_items(_read_pipe(folder / "u.item", _ITEM_COLUMNS))
    except ValueError as exc:
        raise DataError(
            f"u.item in {folder} cannot be parsed ({exc}). {fix_hint(folder)}"
        ) from exc
    try:
        users = typed_users(
            _read_pipe(folder / "u.user", USER_COLUMNS).sort_values("user_id", key=pd.to_numeric)
        )
    except ValueError as exc:
        raise DataError(
            f"u.user in {folder} cannot be parsed ({exc}). {fix_hint(folder)}"
        ) from exc
    return Tables(ratings=ratings, items=items, users=users)


# --------------------------------------------------------------------------- verification


def problems(folder: Path, tables: Tables, expected: Fingerprint) -> list[str]:
    """Every way ``folder`` (parsed as ``tables``) differs from ``expected``; each names its file.

    Example:
        >>> folder = cache_dir() / "ml-100k"                         # doctest: +SKIP
        >>> problems(folder, parse_folder(folder), EXPECTED)         # doctest: +SKIP
        []
    """
    r = tables.ratings
    found = _udata_problems(r, expected)
    udata_ok = not found
    found += _item_user_problems(r, tables.items, tables.users, expected)
    found += _list_file_problems(folder)
    if udata_ok:  # the splits are derived from u.data: judge them only against a good one
        found += _split_problems(folder, r)
    return found


def _udata_problems(r: pd.DataFrame, expected: Fingerprint) -> list[str]:
    found: list[str] = []
    low, high = expected.rating_range
    facts = [
        ("rows", len(r), expected.n_ratings),
        ("users", r["user_id"].nunique(), expected.n_users),
        ("items", r["item_id"].nunique(), expected.n_items),
        ("rating sum", int(r["rating"].sum()), expected.rating_sum),
    ]
    found += [f"u.data: {what} {got:,}, expected {want:,}" for what, got, want in facts
              if got != want]  # fmt: skip
    if not r["rating"].between(low, high).all():
        found.append(f"u.data: ratings outside {low}–{high}")
    fewest = int(r.groupby("user_id").size().min()) if len(r) else 0
    if fewest < expected.min_ratings_per_user:
        found.append(
            f"u.data: a user has {fewest} ratings, expected ≥ {expected.min_ratings_per_user}"
        )
    text = _tsv(r)
    sha = hashlib.sha256(text).hexdigest()
    if sha != expected.udata_sha256 or len(text) != expected.udata_bytes:
        found.append(
            f"u.data: checksum mismatch (sha256 {sha[:16]}…, {len(text):,} bytes; expected "
            f"{expected.udata_sha256[:16]}…, {expected.udata_bytes:,} bytes)"
        )
    return found


def _item_user_problems(
    r: pd.DataFrame, items: pd.DataFrame, users: pd.DataFrame, expected: Fingerprint
) -> list[str]:
    found = []
    if len(items) != expected.n_items or items["item_id"].duplicated().any():
        found.append(f"u.item: {len(items):,} rows, expected {expected.n_items:,} unique ids")
    if not r["item_id"].isin(items["item_id"]).all():
        found.append("u.item: lacks items that u.data rates")
    titles = items.drop_duplicates("item_id").set_index("item_id")["title"]
    for item, title in expected.titles:
        got = titles.get(item)
        if got != title:
            found.append(f"u.item: item {item} is {got!r}, expected {title!r}")
    if len(users) != expected.n_users or users["user_id"].duplicated().any():
        found.append(f"u.user: {len(users):,} rows, expected {expected.n_users:,} unique ids")
    if not r["user_id"].isin(users["user_id"]).all():
        found.append("u.user: lacks users that u.data has")
    odd = sorted(set(users["occupation"]) - set(OCCUPATIONS))
    if odd:
        found.append(f"u.user: unknown occupations {odd[:3]}")
    return found


def _list_file_problems(folder: Path) -> list[str]:
    found = []
    try:
        genre_lines = (folder / "u.genre").read_text(encoding="latin-1").split()
        genres = [line.rsplit("|", 1)[0] for line in genre_lines]
        occupations = (folder / "u.occupation").read_text(encoding="latin-1").split()
    except OSError as exc:
        return [f"cannot read u.genre / u.occupation ({exc})"]
    if genres != list(GENRES):
        found.append(f"u.genre: {len(genres)} genres, not the 19 expected")
    if occupations != list(OCCUPATIONS):
        found.append(f"u.occupation: {len(occupations)} occupations, not the 21 expected")
    return found


def _split_problems(folder: Path, ratings: pd.DataFrame) -> list[str]:
    """Each split present must hold exactly mku.sh's rows (compared as sorted row sets)."""
    found = []
    for name, (train, test) in zip(SPLITS, _mku_splits(ratings), strict=True):
        for part, want in (("base", train), ("test", test)):
            path = folder / f"{name}.{part}"
            if not path.is_file():
                continue
            try:
                got = read_ratings(path)
            except DataError:
                found.append(f"{path.name}: cannot be parsed")
                continue
            if not got.equals(want) and not _sorted_by_user_item(got).equals(want):
                found.append(f"{path.name}: does not hold the mku.sh rows of u.data")
    return found


def verify(folder: Path, expected: Fingerprint, fix: str | None = None) -> Tables:
    """Parse ``folder`` and raise DataError listing every mismatch; return the tables.

    ``fix`` replaces the :func:`fix_hint` at the end of the message (``""``: none).

    Example:
        >>> verify(cache_dir() / "ml-100k", EXPECTED).ratings.shape    # doctest: +SKIP
        (100000, 4)
    """
    tables = parse_folder(folder)
    found = problems(folder, tables, expected)
    if found:
        listed = "\n".join(f"  - {p}" for p in found)
        hint = fix_hint(folder) if fix is None else fix
        raise DataError(
            f"MovieLens 100k in {folder} failed verification:\n{listed}\n{hint}".rstrip()
        )
    return tables
