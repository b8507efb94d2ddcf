"""Self-checks the labs call right after each exercise.

A check prints ``✓ …`` when the answer is right, and otherwise raises :class:`CheckFailed`
with a message that says *what* is wrong (shape, dtype, range, the failing case) and a hint.
``CheckFailed`` is an ``AssertionError``, so nbgrader counts it as a failed test, but the
student reads a sentence, not a bare assertion: Jupyter shows a failed check as its
message alone, without the traceback through reclab's own code
(``CheckFailed._render_traceback_``); every other exception keeps its usual traceback.

Exercise-specific checks live in one submodule per notebook, named after it
(``reclab.checks.movielens_tour`` for ``00_movielens_tour``), built on the helpers here.

Example:
    >>> check_shape(np.zeros((3, 2)), (3, 2), "scores")
    ✓ scores has shape (3, 2)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "CheckFailed",
    "call_student",
    "check_close",
    "check_columns",
    "check_dtype_kind",
    "check_finite",
    "check_range",
    "check_shape",
    "fail",
    "passed",
]


class CheckFailed(AssertionError):
    """An exercise's answer is not right yet; the message says what and how to fix it."""

    def _render_traceback_(self) -> list[str]:
        """How IPython/Jupyter shows a failed check: the message alone, in red, no frames."""
        lines = str(self).splitlines() or [""]
        return [f"\x1b[1;31m✗ Check failed:\x1b[0m {lines[0]}", *lines[1:]]



def fail(what: str, hint: str | None = None) -> None:
    """Raise :class:`CheckFailed` with ``what`` went wrong and an optional ``hint``."""
    __tracebackhide__ = True
    message = what if hint is None else f"{what}\nHint: {hint}"
    raise CheckFailed(message)


def _short_repr(value: Any) -> str:
    """A short description of an argument, for failure messages (arrays by shape, not content)."""
    if isinstance(value, np.ndarray):
        return f"<array {value.shape}>"
    if isinstance(value, pd.Series | pd.DataFrame):
        return f"<{type(value).__name__} of {len(value)} rows>"
    import scipy.sparse

    if scipy.sparse.issparse(value):
        return f"<sparse {value.shape}>"
    return repr(value)


def call_student(fn: Callable[..., Any], name: str, *args: Any, **kwargs: Any) -> Any:
    """Call the student's function; turn a stub, an exception or a ``None`` into a failure.

    Example:
        >>> call_student(lambda x: x + 1, "add_one", 1)
        2
    """
    __tracebackhide__ = True
    try:
        result = fn(*args, **kwargs)
    except NotImplementedError:
        fail(f"{name} is not written yet (it raises NotImplementedError).")
    except Exception as exc:
        shown = ", ".join(
            [*(_short_repr(a) for a in args), *(f"{k}={_short_repr(v)}" for k, v in kwargs.items())]
        )
        fail(f"calling {name}({shown}) raised {type(exc).__name__}: {exc}")
    if result is None:
        fail(f"{name} returned None: did it forget to `return` its result?")
    return result


def passed(message: str) -> None:
    """Print the ✓ line of a passed check."""
    print(f"✓ {message}")


def _as_array(value: Any, name: str) -> np.ndarray:
    __tracebackhide__ = True
    if value is None:
        fail(f"{name} is None: did the function forget to `return` its result?")
    try:
        return np.asarray(value)
    except Exception as exc:  # pragma: no cover - exotic inputs
        fail(f"{name} cannot be read as an array ({type(value).__name__}: {exc})")
    raise AssertionError("unreachable")


def check_shape(value: Any, expected: Sequence[int], name: str, hint: str | None = None) -> None:
    """Check an array-like's shape.

    Example:
        >>> check_shape([1, 2, 3], (3,), "ratings")
        ✓ ratings has shape (3,)
    """
    __tracebackhide__ = True
    shape = _as_array(value, name).shape
    if tuple(shape) != tuple(expected):
        fail(f"{name} has shape {tuple(shape)}, expected {tuple(expected)}.", hint)
    passed(f"{name} has shape {tuple(expected)}")


def check_dtype_kind(value: Any, kinds: str, name: str, hint: str | None = None) -> None:
    """Check the dtype kind: ``"f"`` float, ``"i"`` signed int, ``"u"`` unsigned, ``"b"`` bool.

    Example:
        >>> check_dtype_kind(np.array([1.0]), "f", "scores")
        ✓ scores has a float dtype
    """
    __tracebackhide__ = True
    names = {"f": "float", "i": "integer", "u": "unsigned integer", "b": "boolean"}
    dtype = _as_array(value, name).dtype
    wanted = " or ".join(names.get(k, k) for k in kinds)
    if dtype.kind not in kinds:
        fail(f"{name} has dtype {dtype}, expected a {wanted} dtype.", hint)
    passed(f"{name} has a {wanted} dtype")


def check_finite(value: Any, name: str, hint: str | None = None) -> None:
    """Check that an array has no NaN or infinite values.

    Example:
        >>> check_finite([0.5, 1.0], "loss")
        ✓ loss has no NaN or infinite values
    """
    __tracebackhide__ = True
    array = _as_array(value, name).astype(float)
    bad = ~np.isfinite(array)
    if bad.any():
        fail(f"{name} has {int(bad.sum())} NaN or infinite value(s) out of {array.size}.", hint)
    passed(f"{name} has no NaN or infinite values")


def check_range(
    value: Any, low: float, high: float, name: str, hint: str | None = None
) -> None:
    """Check that every value lies in ``[low, high]``.

    Example:
        >>> check_range([1, 5], 1, 5, "ratings")
        ✓ ratings lie in [1, 5]
    """
    __tracebackhide__ = True
    array = _as_array(value, name).astype(float)
    outside = (array < low) | (array > high)
    if outside.any():
        fail(
            f"{int(outside.sum())} of {array.size} values of {name} lie outside [{low}, {high}] "
            f"(min {np.nanmin(array):.4g}, max {np.nanmax(array):.4g}).",
            hint,
        )
    passed(f"{name} lie in [{low:g}, {high:g}]")


def check_close(
    actual: Any,
    expected: Any,
    name: str,
    atol: float = 1e-6,
    rtol: float = 1e-6,
    hint: str | None = None,
) -> None:
    """Check values against the expected ones and report the worst mismatch.

    Example:
        >>> check_close(0.30000000000000004, 0.3, "0.1 + 0.2")
        ✓ 0.1 + 0.2 is correct
    """
    __tracebackhide__ = True
    got = _as_array(actual, name).astype(float)
    want = np.asarray(expected, dtype=float)
    if got.shape != want.shape:
        fail(f"{name} has shape {got.shape}, expected {want.shape}.", hint)
    close = np.isclose(got, want, atol=atol, rtol=rtol, equal_nan=True)
    if not close.all():
        worst = np.unravel_index(np.nanargmax(np.abs(got - want)), got.shape) if got.ndim else ()
        where = f" at index {tuple(int(i) for i in worst)}" if got.ndim else ""
        fail(
            f"{name}: {int((~close).sum())} of {close.size} value(s) are wrong; "
            f"e.g.{where} got {got[worst]:.6g}, expected {want[worst]:.6g}.",
            hint,
        )
    passed(f"{name} is correct")


def check_columns(
    frame: Any, expected: Iterable[str], name: str, hint: str | None = None
) -> None:
    """Check that a DataFrame has (at least) the expected columns.

    Example:
        >>> check_columns(pd.DataFrame({"a": [1]}), ["a"], "table")
        ✓ table has columns ['a']
    """
    __tracebackhide__ = True
    if not isinstance(frame, pd.DataFrame):
        fail(f"{name} should be a pandas DataFrame, got {type(frame).__name__}.", hint)
    missing = [c for c in expected if c not in frame.columns]
    if missing:
        fail(f"{name} lacks column(s) {missing}; it has {list(frame.columns)}.", hint)
    passed(f"{name} has columns {list(expected)}")
