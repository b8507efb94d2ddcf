"""Self-checks the labs call right after each exercise: the one scaffold every check uses.

A check prints ``✓ …`` when the answer is right, and otherwise raises :class:`CheckFailed`
with a message that says *what* is wrong and a hint. ``CheckFailed`` is an
``AssertionError``, so nbgrader counts it as a failed test, but the student reads a
sentence, not a bare assertion: Jupyter shows a failed check as its message alone, wrapped
at word boundaries to 100 characters, without the traceback through reclab's own code
(``CheckFailed._render_traceback_``).

The scaffold, used by the one-module-per-notebook checks (``reclab.checks.movielens_tour``
for ``00_movielens_tour``, …):

- :func:`fail` / :func:`passed`: the ✗ and ✓ lines;
- :func:`call_student`: call the student's function; an exercise not written yet (its stub
  raises ``NotImplementedError``) becomes "<name> is not written yet", any other exception
  one line naming it (never the raw traceback), ``None`` a reminder to ``return``;
- :func:`model_layers`: every layer of a Keras model, nested models included;
- :func:`check_metric_bar`: a quality bar ("RMSE on u1.test at most 0.94");
- :func:`first_line`: "ValueError: first line of its message" (grading uses it too).

Example:
    >>> call_student(lambda x: x + 1, "add_one", 1)
    2
"""

from __future__ import annotations

import textwrap
import traceback
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "CheckFailed",
    "call_student",
    "check_metric_bar",
    "explain_symbolic",
    "fail",
    "first_line",
    "model_layers",
    "not_written_yet",
    "passed",
    "shorten",
    "wrap",
]

WIDTH = 100
"""The longest line a check prints (JupyterLab wraps longer stderr lines mid-word)."""


def wrap(text: str, width: int = WIDTH, first_indent: int = 0) -> list[str]:
    """Wrap each line of ``text`` at word boundaries to ``width`` characters.

    ``first_indent`` is the room taken on the very first line by a prefix printed before
    it; continuation lines of a paragraph are indented by two spaces.

    Example:
        >>> wrap("one two three four", width=10)
        ['one two', '  three', '  four']
    """
    lines: list[str] = []
    for number, paragraph in enumerate(text.splitlines() or [""]):
        pad = first_indent if number == 0 else 0
        pieces = textwrap.wrap(" " * pad + paragraph, width=width, subsequent_indent="  ",
                               break_long_words=False, break_on_hyphens=False)
        if pad and pieces:
            pieces[0] = pieces[0][pad:]
        lines += pieces or [""]
    return lines


class CheckFailed(AssertionError):
    """An exercise's answer is not right yet; the message says what and how to fix it."""

    def _render_traceback_(self) -> list[str]:
        """How IPython/Jupyter shows a failed check: the message alone, in red, no frames."""
        prefix = "✗ Check failed: "
        lines = wrap(str(self), first_indent=len(prefix))
        return [f"\x1b[1;31m{prefix}\x1b[0m{lines[0]}", *lines[1:]]


def fail(what: str, hint: str | None = None) -> None:
    """Raise :class:`CheckFailed` with ``what`` went wrong and an optional ``hint``.

    Example:
        >>> fail("the ratings are strings.", "convert them with .astype(float).")
        Traceback (most recent call last):
        reclab.checks.CheckFailed: the ratings are strings.
        Hint: convert them with .astype(float).
    """
    __tracebackhide__ = True
    message = what if hint is None else f"{what}\nHint: {hint}"
    raise CheckFailed(message) from None


def passed(message: str) -> None:
    """Print the ✓ line of a passed check (wrapped at word boundaries).

    Example:
        >>> passed("the ratings lie in 1-5")
        ✓ the ratings lie in 1-5
    """
    print("\n".join(wrap(f"✓ {message}")))


def first_line(exc: BaseException) -> str:
    """``"TypeName: first line of the message"`` (just the type name if it has none).

    Example:
        >>> first_line(ValueError("bad shape\\nmore detail"))
        'ValueError: bad shape'
    """
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0]}" if text else type(exc).__name__


def shorten(text: str, limit: int) -> str:
    """``text`` cut at a word boundary to at most ``limit`` characters, with " …" if cut.

    Example:
        >>> shorten("Cannot convert 0.5 to EagerTensor of dtype int32", 20)
        'Cannot convert 0.5 …'
    """
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + " …"


def _short_repr(value: Any) -> str:
    """A short description of an argument, for failure messages (arrays by shape, not content)."""
    if isinstance(value, np.ndarray):
        return f"<array {value.shape}>"
    if isinstance(value, pd.Series | pd.DataFrame):
        return f"<{type(value).__name__} of {len(value)} rows>"
    import scipy.sparse

    if scipy.sparse.issparse(value):
        return f"<sparse {value.shape}>"
    text = repr(value)
    return text if len(text) <= 40 else f"<{type(value).__name__}>"


def _raised_in(exc: BaseException) -> str:
    """The name of the function whose ``raise`` ended the traceback of ``exc``."""
    frames = traceback.extract_tb(exc.__traceback__)
    # frame 0 is the check's call, frame 1 the student's function: deeper is something it calls
    return frames[-1].name if len(frames) > 2 else ""


def not_written_yet(exc: NotImplementedError, name: str) -> str:
    """The message for a stub: ``name`` itself, or the not-yet-written function it calls.

    Example:
        >>> not_written_yet(NotImplementedError(), "build_model").splitlines()[0]
        'build_model is not written yet (it still raises NotImplementedError).'
    """
    where = _raised_in(exc)
    short = name.split("(")[0]
    if where and where not in (short, "<module>", "<lambda>") and not where.startswith("_"):
        head = (f"{name} calls {where}, which is not written yet (it still raises "
                "NotImplementedError).")
        todo = f"finish the exercise that defines {where} first and run its cell"
    else:
        head = f"{name} is not written yet (it still raises NotImplementedError)."
        todo = "finish the exercise"
    return (f"{head}\nHint: {todo}: replace `raise NotImplementedError` with your code, "
            "run that cell, then run this check again.")


def explain_symbolic(exc: BaseException, call: str, example: str) -> str | None:
    """NumPy called on a model's KerasTensors: name it and say to use keras.ops / layers.

    ``call`` is the student's call as shown (``build_gmf(5, 7, 3)``), ``example`` the
    keras.ops or keras.layers spelling of the usual culprit (checks of 01, 05, 06).

    Example:
        >>> text = explain_symbolic(ValueError("A KerasTensor is symbolic: a placeholder"),
        ...                         "build(1)", "keras.ops.sum(x, axis=-1)")
        >>> print(text.splitlines()[0])
        build(1) raised ValueError: A KerasTensor is symbolic: a placeholder
        >>> print(text.splitlines()[-1][:74])
        Hint: use keras.ops.* / keras.layers.*, not np.* (the inputs are symbolic)
    """
    text = str(exc)
    if "KerasTensor" not in text and "symbolic" not in text:
        return None
    return (f"{call} raised {shorten(first_line(exc), 70)}\n"
            "A NumPy function (np.sum, np.multiply, …) was given the model's tensors.\n"
            "Hint: use keras.ops.* / keras.layers.*, not np.* (the inputs are symbolic), "
            f"e.g. {example}.")


def call_student(fn: Callable[..., Any], name: str, *args: Any,
                 explain: Callable[[BaseException], str | None] | None = None,
                 **kwargs: Any) -> Any:
    """Call the student's function; turn a stub, an exception or a ``None`` into a failure.

    ``explain(exc)`` may return a specific message for an exception it recognises (the
    generic "calling name(...) raised …" otherwise). The original exception stays
    available as the failure's ``__context__``.

    Example:
        >>> call_student(lambda x: x + 1, "add_one", 1)
        2
    """
    __tracebackhide__ = True
    if not callable(fn):
        fail(f"pass the function {name} itself to the check (got a {type(fn).__name__}).")
    try:
        result = fn(*args, **kwargs)
    except NotImplementedError as exc:
        raise CheckFailed(not_written_yet(exc, name)) from None
    except CheckFailed:
        raise
    except Exception as exc:
        message = explain(exc) if explain is not None else None
        if message is None:
            shown = ", ".join([*(_short_repr(a) for a in args),
                               *(f"{k}={_short_repr(v)}" for k, v in kwargs.items())])
            message = f"calling {name}({shown}) raised {first_line(exc)}"
        raise CheckFailed(message) from None
    if result is None:
        fail(f"{name} returned None: did it forget to `return` its result?")
    return result


def model_layers(model: Any, kind: type | tuple[type, ...] | None = None) -> list[Any]:
    """Every layer of a Keras model, looking inside nested models; only ``kind`` if given.

    Example:
        >>> import keras
        >>> inner = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
        >>> outer = keras.Sequential([keras.Input((3,)), inner, keras.layers.Dense(1)])
        >>> [type(layer).__name__ for layer in model_layers(outer, keras.layers.Dense)]
        ['Dense', 'Dense']
    """
    found = []
    for layer in getattr(model, "layers", None) or []:
        if kind is None or isinstance(layer, kind):
            found.append(layer)
        if getattr(layer, "layers", None):
            found += model_layers(layer, kind)
    return found


def _metric(name: str, true: np.ndarray, pred: np.ndarray) -> float:
    error = pred - true
    if name == "rmse":
        return float(np.sqrt(np.mean(error**2)))
    if name == "mae":
        return float(np.mean(np.abs(error)))
    raise ValueError(f"metric must be 'rmse' or 'mae', got {name!r}")


def check_metric_bar(
    y_true: Sequence[float] | np.ndarray,
    y_pred: Any,
    bar: float,
    *,
    metric: str = "rmse",
    name: str = "the model",
    hint: str | Callable[[np.ndarray, float], str] | None = None,
    data: str = "test",
) -> float:
    """Hold predictions for every row to a bar (``metric`` at most ``bar``); return the value.

    Checks first that there is one finite prediction per row. ``hint`` (a string, or a
    function of the predictions and the value) is shown when the bar is missed.

    Example:
        >>> round(check_metric_bar([4, 3, 5], [3.8, 3.4, 4.1], bar=1.0, name="MF"), 4)
        ✓ MF: test RMSE 0.5802 <= 1.000
        0.5802
    """
    __tracebackhide__ = True
    label = metric.upper()
    if y_pred is None:
        fail(f"the predictions of {name} are None.",
             "the cell that computes them must end with a value, not a print.")
    true = np.asarray(y_true, dtype=float).ravel()
    try:
        pred = np.asarray(y_pred, dtype=float)
    except (TypeError, ValueError) as exc:
        fail(f"the predictions of {name} cannot be read as numbers ({first_line(exc)}).")
    if pred.ndim == 2 and pred.shape[1] == 1:
        pred = pred[:, 0]
    if pred.shape != true.shape:
        fail(f"{name}: {pred.shape} predictions for {true.shape[0]} {data} ratings; there must "
             f"be exactly one prediction per {data} row, in the table's order.",
             "predict every row: give ids unseen in training the fallback prediction.")
    bad = ~np.isfinite(pred)
    if bad.any():
        fail(f"{name}: {int(bad.sum())} predictions are NaN or infinite.",
             "a diverging training (too high a learning rate?) gives NaN losses.")
    value = _metric(metric, true, pred)
    if value > bar:
        text = hint(pred, value) if callable(hint) else hint
        fail(f"{name}: {data} {label} {value:.4f} is above the bar {bar:.3f}.", text)
    passed(f"{name}: {data} {label} {value:.4f} <= {bar:.3f}")
    return value
