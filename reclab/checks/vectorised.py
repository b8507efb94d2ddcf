"""Is a student's pandas function vectorised? Counted, never timed (``00_movielens_tour``).

Exercise 2 of ``00_movielens_tour`` asks for vectorised pandas. :func:`check_vectorised`
counts the lines of the student's own code that run on the training table (a loop over the
ratings runs one or more per rating) and how often it reads the whole table (once per movie:
too slow). Nothing is timed, so a busy machine (a class graded with ``--jobs 2``) cannot fail
a right answer. :func:`call_quietly` calls the student's function with NumPy's and pandas'
numerical warnings silenced: a wrong answer (``sum / reg + n`` with ``reg = 0``) gets a
check message naming the mistake, not a ``RuntimeWarning`` first.

Example:
    >>> call_quietly(lambda x: x / 0, 1.0)[1].__class__.__name__
    'ZeroDivisionError'
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from reclab.checks import CheckFailed, fail, first_line, not_written_yet

__all__ = ["call_quietly", "check_vectorised", "count_own_lines", "synthetic_ratings"]


def call_quietly(func: Callable, *args: Any, **kwargs: Any) -> tuple[Any, BaseException | None]:
    """``(func(*args, **kwargs), None)``, or ``(None, the exception)`` if it raised.

    NumPy's floating-point warnings and ``RuntimeWarning`` are silenced during the call (the
    check names the mistake that causes them). ``NotImplementedError`` (the untouched lab
    stub) becomes "… is not written yet". The caller reports an error *outside* the
    ``except`` block, so the CheckFailed does not drag the student's traceback along.

    Example:
        >>> call_quietly(int, "7")
        (7, None)
    """
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore", RuntimeWarning)
            return func(*args, **kwargs), None
    except NotImplementedError as exc:
        raise CheckFailed(not_written_yet(exc, getattr(func, "__name__", "it"))) from None
    except Exception as exc:
        return None, exc


def synthetic_ratings(n: int = 80_000, seed: int = 0) -> pd.DataFrame:
    """A MovieLens-sized table (943 users, 1,682 movies with a long tail), seeded.

    Example:
        >>> synthetic_ratings(n=10).shape
        (10, 4)
    """
    rng = np.random.default_rng(seed)
    popularity = 1.0 / np.arange(1, 1683) ** 0.8
    return pd.DataFrame({
        "user_id": rng.integers(1, 944, n),
        "item_id": rng.choice(np.arange(1, 1683), size=n, p=popularity / popularity.sum()),
        "rating": rng.integers(1, 6, n),
        "timestamp": np.arange(n),
    })  # fmt: skip


#: A loop over the movies or users that filters the whole table once per movie or user
#: (``train[train["item_id"] == i]``) reads every row again each time: it calls the table's
#: own methods (``__getitem__``, ``loc``, …) at least once per group. A vectorised answer
#: calls them a few dozen times whatever the table size.
MAX_TABLE_CALLS = 300


class _TooManyLines(BaseException):
    """Stops a traced call once it has run enough lines to be a loop over the rows.

    A BaseException, so that a student's ``except Exception`` does not swallow it.
    """


def count_own_lines(func: Callable, limit: int, *args: Any, watch: Any = None,
                    **kwargs: Any) -> tuple[int, int]:
    """Lines of the caller's own code run during ``func(*args, **kwargs)``, and calls on ``watch``.

    The second number counts the calls of methods whose ``self`` is ``watch`` (the table).

    "Own code" is the file that defines ``func`` (a notebook cell) and any other file outside
    Python's installation and this package: library code (pandas, NumPy) is not counted, so a
    vectorised function runs a dozen lines whatever the table size, and a loop over the rows
    (``for``, ``iterrows``, ``itertuples``, ``apply(..., axis=1)``, ``map(lambda ...)``) runs at
    least one per row. The call is stopped once ``limit`` lines have run; the previous trace
    function (a debugger, coverage) is restored afterwards.

    Example:
        >>> count_own_lines(lambda: sum(range(10)), 100)
        (1, 0)
    """
    own_file = getattr(getattr(func, "__code__", None), "co_filename", None)
    skip = tuple(
        {sys.prefix, sys.base_prefix, sys.exec_prefix, str(Path(__file__).resolve().parents[1])}
    )
    count = 0
    calls = 0

    def local(frame: Any, event: str, arg: Any) -> Any:
        nonlocal count
        if event == "line":
            count += 1
            if count >= limit:
                raise _TooManyLines
        return local

    def on_call(frame: Any, event: str, arg: Any) -> Any:
        nonlocal calls
        name = frame.f_code.co_filename
        if watch is not None and frame.f_code.co_varnames[:1] == ("self",) and (
                frame.f_locals.get("self") is watch):
            calls += 1
        if name == own_file or not (name.startswith("<") or name.startswith(skip)):
            return local
        return None

    previous = sys.gettrace()
    sys.settrace(on_call)
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore", RuntimeWarning)
            func(*args, **kwargs)
    except _TooManyLines:
        pass
    except Exception:  # a wrong answer on this table is reported by the other checks
        pass
    finally:
        sys.settrace(previous)
    return count, calls


def check_vectorised(func: Callable, train: pd.DataFrame, what: str) -> int:
    """Fail if ``user_item_biases`` loops over the rows of ``train`` or filters it per group.

    Both are counted, never timed (a timing race could fail a right answer on a busy machine,
    e.g. when a class is graded in parallel), and no message states a time. Returns the
    number of lines of the student's code that ran, for the ✓ line.

    Example:
        >>> def biases(train, reg_user, reg_item):
        ...     mu = train["rating"].mean()
        ...     return mu, train.groupby("user_id")["rating"].mean() - mu, None
        >>> check_vectorised(biases, synthetic_ratings(n=2000), "a small table")
        2
    """
    __tracebackhide__ = True
    n = len(train)
    _, error = call_quietly(func, train.copy(), reg_user=5.0, reg_item=5.0)
    if error is not None:
        fail(f"user_item_biases(train, reg_user=5, reg_item=5) on {what} raised "
             f"{first_line(error)}")
    why = (
        "Why it matters: pandas' groupby and map run their loop over the rows in compiled "
        "code, not line by line in Python; the next cell fits the biases 25 times to choose "
        "λ, and real data sets have millions of ratings, not 80,000."
    )
    # a loop over the movies and users (a few lines per group) is allowed, one over the rows not
    n_groups = train["user_id"].nunique() + train["item_id"].nunique()
    max_lines = max(n, 10 * n_groups)
    table = train.copy()
    lines, table_calls = count_own_lines(func, max_lines, table, reg_user=5.0, reg_item=5.0,
                                         watch=table)
    if lines >= max_lines:
        fail(
            f"user_item_biases loops over the ratings in Python: on {what} ({n:,} rows) at "
            f"least {lines:,} lines of your code ran, one or more per rating. The exercise "
            f"asks for vectorised pandas. {why}",
            "no for loop, iterrows, itertuples, apply(axis=1) or map(lambda ...) over the "
            "rows: (train['rating'] - mu).groupby(train['item_id']).agg(['sum', 'size']) gives "
            "every movie's sum and count in one call, and train['item_id'].map(b_item) puts "
            "b_item on each rating.",
        )
    if table_calls > MAX_TABLE_CALLS and n_groups > MAX_TABLE_CALLS:
        fail(
            f"user_item_biases reads the whole table once per movie or user: on {what} "
            f"({n:,} rows) it used the table {table_calls:,} times (a vectorised version: a "
            "few dozen). The next cell fits the biases 25 times to choose λ, and real data "
            "sets have millions of ratings, not 80,000.",
            "don't filter the table once per movie or per user (train[train['item_id'] == i] "
            "reads all the rows again for each of them): one groupby('item_id') reads them "
            "once.",
        )
    return lines
