"""The grading progress bar: counts, ETA, failures, width, and silence off a terminal."""

from __future__ import annotations

import io

import pytest

from reclab.course.progress import Progress, duration


class FakeTty(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def last_line(stream: io.StringIO) -> str:
    """What the terminal shows: the text after the last carriage return, padding stripped."""
    return stream.getvalue().rstrip("\n").rsplit("\r", 1)[-1].rstrip()


def test_durations_read_like_a_clock() -> None:
    assert [duration(s) for s in (0, 4.4, 59, 60, 72, 3599, 3600, 7380)] == [
        "0s", "4s", "59s", "1m00s", "1m12s", "59m59s", "1h00m", "2h03m"]


def test_counts_elapsed_eta_and_failures_on_a_terminal() -> None:
    out, clock = FakeTty(), FakeClock()
    bar = Progress(20, stream=out, clock=clock, width=200)
    for i in range(7):
        clock.now += 72 / 7  # 7 tasks in 72 s
        student = {3: "bob", 5: "carol"}.get(i, f"s{i}")
        status = {3: "error", 5: "timeout"}.get(i, "ok")
        bar.advance(student, "01_regression_dot", status)
    assert last_line(out) == ("grading 7/20 (35%) · 1m12s elapsed · ETA 2m14s · "
                              "failures: 2 (bob: error, carol: timeout)")
    assert out.getvalue().count("\r") == 7 and "\n" not in out.getvalue()  # one line, redrawn
    bar.close()
    assert out.getvalue().endswith("\n")


def test_eta_follows_the_rate_and_disappears_when_done() -> None:
    out, clock = FakeTty(), FakeClock()
    bar = Progress(4, stream=out, clock=clock, width=120)
    assert "ETA --" in bar.line()
    clock.now += 30
    bar.advance("ann", "00_tour", "ok")
    assert "ETA 1m30s" in last_line(out)  # 30 s per task, 3 to go
    clock.now += 10
    bar.advance("ben", "00_tour", "ok")
    assert "ETA 40s" in last_line(out)  # 20 s per task now
    clock.now += 20
    bar.advance("cat", "00_tour", "ok")
    bar.advance("dan", "00_tour", "missing")
    assert last_line(out) == "grading 4/4 (100%) · 1m00s elapsed · failures: 1 (dan: missing)"


def test_quiet_when_not_a_terminal() -> None:
    out = io.StringIO()  # a pipe, a log file, CI
    bar = Progress(3, stream=out, clock=FakeClock(), width=80)
    for student in ("ann", "bob", "cat"):
        bar.advance(student, "00_tour", "error")
    bar.close()
    assert out.getvalue() == ""
    assert bar.done == 3 and len(bar.failures) == 3  # still counted
    forced = io.StringIO()
    Progress(1, stream=forced, enabled=True, width=80).advance("ann", "00_tour", "ok")
    assert forced.getvalue().startswith("\rgrading 1/1")
    silenced = FakeTty()
    Progress(1, stream=silenced, enabled=False, width=80).advance("ann", "00_tour", "ok")
    assert silenced.getvalue() == ""


@pytest.mark.parametrize("columns", [40, 60, 80, 120])
def test_lines_fit_the_terminal_and_say_how_many_failures_are_not_listed(
    columns: int, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", str(columns))  # what shutil.get_terminal_size reads first
    out, clock = FakeTty(), FakeClock()
    bar = Progress(200, stream=out, clock=clock)
    for i in range(30):
        clock.now += 5
        bar.advance(f"student_with_a_long_name_{i:02d}", "01_regression_dot", "timeout")
        assert len(bar.line()) <= columns - 1
    drawn = [part for part in out.getvalue().split("\r") if part]  # padding included
    assert drawn and all(len(part) <= columns - 1 for part in drawn)
    shown = last_line(out)
    assert shown.startswith("grading 30/200 (15%)") and "failures: 30" in shown
    if columns >= 80:
        assert "ETA 14m10s" in shown
    if columns >= 120:
        assert shown.endswith(" more)")  # 30 long names never fit: the rest are counted
        assert "(student_with_a_long_name_00: timeout, " in shown  # oldest first


def test_a_terminal_too_narrow_for_the_count_gets_a_cut_line() -> None:
    bar = Progress(5, stream=FakeTty(), clock=FakeClock(), width=12)
    bar.advance("ann", "00_tour", "error")
    assert bar.line() == "grading ..." and len(bar.line()) <= 11

def test_a_shorter_line_blanks_what_the_longer_one_left() -> None:
    out, clock = FakeTty(), FakeClock()
    bar = Progress(100, stream=out, clock=clock, width=200)
    bar.advance("a_student_with_a_very_long_name", "00_tour", "invalid")
    first = out.getvalue()
    bar.width = 50  # the terminal shrank
    bar.advance("ann", "00_tour", "ok")
    second = out.getvalue()[len(first):]
    assert len(second) - 1 >= len(first) - 1  # padded over the old text
    assert second.rstrip().startswith("\rgrading 2/100")


@pytest.mark.parametrize(("flag", "expected"), [([], None), (["--progress"], True),
                                                (["--no-progress"], False)])
def test_cli_flag_reaches_the_grader(
    flag: list[str], expected: bool | None, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from reclab import cli
    from reclab.course import grading

    seen: dict[str, object] = {}
    monkeypatch.setattr(grading, "grade_cli", lambda **kwargs: seen.update(kwargs) or 0)
    assert cli.main(["grade", "subs", "--out", "graded", *flag]) == 0
    assert seen["progress"] is expected
