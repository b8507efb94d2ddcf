"""A one-line progress bar for ``reclab grade``: done / total, elapsed, ETA, failures so far.

Fed one event per graded (student, lab) task; it redraws a single line on ``stream`` (stderr)
with ``\\r`` when that stream is a terminal and prints nothing otherwise, so logs, pipes and
CI output only get the summary table the CLI prints at the end. Plain Python, thread-safe
(the grading workers report from their threads).

Example:
    >>> bar = Progress(20)                 # quiet here: doctest output is not a TTY
    >>> bar.advance("bob", "01_regression_dot", "error")
    >>> bar.done, bar.failures
    (1, [('bob', 'error')])
    >>> bar.close()
"""

from __future__ import annotations

import shutil
import sys
import threading
import time
from collections.abc import Callable
from typing import TextIO

#: Statuses that count as graded normally; every other one is listed as a failure.
PASSING = frozenset({"ok"})


def duration(seconds: float) -> str:
    """Seconds as a short clock: ``45s``, ``1m12s``, ``2h03m``.

    Example:
        >>> duration(72), duration(7380), duration(4.4)
        ('1m12s', '2h03m', '4s')
    """
    total = max(0, round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


class Progress:
    """Counts graded tasks and redraws ``grading 7/20 (35%) · 1m12s elapsed · ETA 2m14s ·
    failures: 2 (bob: error, carol: timeout)`` on one terminal line.

    ``enabled`` defaults to ``stream.isatty()``; ``False`` keeps it silent, ``True`` forces
    drawing. ``clock`` (seconds, monotonic) and ``width`` (columns; default: the terminal's,
    read at each redraw) are there for tests. Lines never exceed ``width - 1`` characters.

    Example:
        >>> import io
        >>> class Tty(io.StringIO):
        ...     def isatty(self) -> bool:
        ...         return True
        >>> ticks = iter([0.0, 10.0])
        >>> out = Tty()
        >>> bar = Progress(4, stream=out, clock=lambda: next(ticks), width=80)
        >>> bar.advance("ann", "00_tour", "ok")
        >>> out.getvalue().strip()
        'grading 1/4 (25%) · 10s elapsed · ETA 30s · failures: 0'
    """

    def __init__(
        self,
        total: int,
        *,
        stream: TextIO | None = None,
        enabled: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
        width: int | None = None,
    ) -> None:
        self.total = total
        self.stream = sys.stderr if stream is None else stream
        isatty = getattr(self.stream, "isatty", None)
        self.enabled = bool(isatty and isatty()) if enabled is None else enabled
        self.clock = clock
        self.width = width
        self.done = 0
        self.failures: list[tuple[str, str]] = []
        self._start = clock()
        self._drawn = 0  # length of the line on screen, to blank what a shorter one leaves
        self._lock = threading.Lock()
        encoding = getattr(self.stream, "encoding", None) or "utf-8"
        try:
            "·".encode(encoding)
            self._sep = " · "
        except (LookupError, UnicodeEncodeError):
            self._sep = " | "

    def advance(self, student: str, lab: str, status: str) -> None:
        """Record one graded (student, lab) task with its status and redraw the line."""
        with self._lock:
            self.done += 1
            if status not in PASSING:
                self.failures.append((student, status))
            self._draw()

    def line(self) -> str:
        """The progress line as it is drawn now, fitted to the width (on a narrow terminal
        the elapsed time goes first, then the ETA)."""
        elapsed = self.clock() - self._start
        percent = 100 * self.done // self.total if self.total else 100
        count = f"grading {self.done}/{self.total} ({percent}%)"
        spent = f"{duration(elapsed)} elapsed"
        eta = ""
        if 0 < self.done < self.total:
            eta = f"ETA {duration(elapsed / self.done * (self.total - self.done))}"
        elif self.done == 0:
            eta = "ETA --"
        failed = f"failures: {len(self.failures)}"
        room = max(self._columns() - 1, 10)
        heads = [[count, spent, eta, failed], [count, eta, failed], [count, failed]]
        for parts in heads:
            head = self._sep.join(part for part in parts if part)
            if len(head) <= room:
                return self._fit(head, room)
        return head[: room - 3] + "..."

    def close(self) -> None:
        """End the line (so what is printed next starts on a fresh one); silent if disabled."""
        with self._lock:
            if self.enabled and self._drawn:
                self.stream.write("\n")
                self.stream.flush()
            self._drawn = 0

    def _columns(self) -> int:
        return self.width if self.width is not None else shutil.get_terminal_size().columns

    def _fit(self, head: str, room: int) -> str:
        """``head`` plus as many failures as fit (in order of arrival), then ``+N more``."""
        names = [f"{student}: {status}" for student, status in self.failures]
        for shown in range(len(names), 0, -1):
            rest = len(names) - shown
            listed = ", ".join(names[:shown]) + (f", +{rest} more" if rest else "")
            candidate = f"{head} ({listed})"
            if len(candidate) <= room:
                return candidate
        return head

    def _draw(self) -> None:
        if not self.enabled:
            return
        text = self.line()
        pad = " " * max(0, self._drawn - len(text))
        self.stream.write("\r" + text + pad)
        self.stream.flush()
        self._drawn = len(text)
