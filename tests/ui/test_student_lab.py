"""JupyterLab as a student sees it, in a real browser (``make test-ui``).

The server is the one ``make lab`` starts (``jupyter/student`` config), serving a copy of
labs/; Chromium is Debian's, driven by Playwright. Every test also fails when the browser
console logs an error (see the ``page`` fixture). Screenshots go to /tmp/ui-shots.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path
from typing import Any

# What nbgrader shows instructors (and students working through an nbgrader exchange):
# none of it may appear in a student's JupyterLab.
INSTRUCTOR_WORDS = ("nbgrader", "formgrader", "create assignment", "assignment list",
                    "course list", "manage assignments", "exchange directory",
                    "error fetching courses")
MENUS = ("File", "Edit", "View", "Run", "Kernel", "Tabs", "Settings", "Help")


def open_lab(page: Any, base: str, token: str, path: str = "") -> None:
    """Open JupyterLab (``path`` = a notebook to open) with a fresh workspace."""
    where = f"lab/tree/{path}" if path else "lab"
    page.goto(f"{base}/{where}?token={token}&reset")
    page.wait_for_selector("#jp-main-dock-panel", state="visible")
    if path:
        page.wait_for_selector(".jp-NotebookPanel .jp-Cell", state="attached")
        wait_idle(page)


def wait_idle(page: Any, timeout_s: float = 180) -> None:
    """Wait until the open notebook's kernel is started and idle."""
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']",
                           state="attached", timeout=timeout_s * 1000)


def menu_labels(page: Any, menu: str) -> list[str]:
    """The item labels of one top menu (opened with a click, closed with Escape)."""
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(rf"^{menu}$")).click()
    page.wait_for_selector(".lm-Menu", state="visible")
    labels = page.locator(".lm-Menu .lm-Menu-itemLabel").all_text_contents()
    page.keyboard.press("Escape")
    page.keyboard.press("Escape")
    return [label.strip() for label in labels if label.strip()]


def shoot(page: Any, name: str) -> None:
    """Save a screenshot to $RECLAB_UI_SHOTS/NAME.png (default /tmp/ui-shots)."""
    shots = Path(os.environ.get("RECLAB_UI_SHOTS", "/tmp/ui-shots"))
    shots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shots / f"{name}.png"))


def scroll_into_view(page: Any, cell: Any) -> None:
    """Scroll the notebook's windowed panel until ``cell`` is on screen."""
    cell.scroll_into_view_if_needed()
    page.wait_for_timeout(300)


def test_launcher_and_menus_show_no_instructor_tools(
        page: Any, lab_url: str, token: str, solved_04: subprocess.Popen[bytes]) -> None:
    """No nbgrader instructor or exchange items in the menus, sidebars or launcher, and no
    error dialog. (Requesting ``solved_04`` here starts executing 04 in the background.)"""
    open_lab(page, lab_url, token)
    page.wait_for_selector(".jp-Launcher", state="visible")
    page.wait_for_timeout(1500)  # let late plugins (sidebars, menus) attach
    shoot(page, "launcher")
    menubar = page.locator("#jp-menu-panel .lm-MenuBar-itemLabel").all_text_contents()
    assert [m for m in MENUS if m not in menubar] == [], f"menu bar: {menubar}"
    assert not [m for m in menubar if m not in MENUS], f"unexpected menus: {menubar}"
    seen: dict[str, list[str]] = {menu: menu_labels(page, menu) for menu in MENUS}
    tabs = [
        (tab.get_attribute("title") or "") + " " + (tab.text_content() or "")
        for tab in page.locator(".jp-SideBar .lm-TabBar-tab").all()
    ]
    seen["sidebars"] = tabs
    seen["launcher"] = [page.locator(".jp-Launcher").text_content() or ""]
    offending = {where: [x for x in labels if any(w in x.lower() for w in INSTRUCTOR_WORDS)]
                 for where, labels in seen.items()}
    assert not any(offending.values()), f"instructor tools shown to a student: {offending}"
    assert "Notebook" in seen["launcher"][0] and "Python 3" in seen["launcher"][0]
    body = (page.locator("body").text_content() or "").lower()
    assert not [w for w in INSTRUCTOR_WORDS if w in body]
    assert page.locator(".jp-Dialog").count() == 0, page.locator(".jp-Dialog").text_content()


def test_untouched_lab_stops_at_its_first_check_with_a_short_message(
        page: Any, lab_url: str, token: str) -> None:
    """Run All on an untouched lab 01: the first check says the exercise is not written yet,
    in a few short lines, with no traceback, and Run All stops there."""
    open_lab(page, lab_url, token, "01_regression_dot.ipynb")
    shoot(page, "lab_01_open")
    assert page.locator(".jp-Dialog").count() == 0
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile("^Run$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile("^Run All Cells$")).click()
    # Run All scrolls to each cell it runs and stops at the first error: wait for that error.
    stderr = ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"
    error = page.locator(f".jp-CodeCell {stderr}").first
    error.wait_for(state="attached", timeout=300_000)
    wait_idle(page)
    check = error.locator("xpath=ancestor::div[contains(@class, 'jp-CodeCell')][1]")
    scroll_into_view(page, error)
    shoot(page, "lab_01_first_check")
    source = check.locator(".jp-InputArea-editor").text_content() or ""
    assert "check_dot_model(build_dot_model" in source, f"the first error is in: {source!r}"
    message = error.text_content() or ""
    lines = message.strip().splitlines()
    assert lines[0].startswith("✗ Check failed:"), message
    assert "not written yet" in lines[0], message
    assert "Traceback" not in message and "File " not in message and "---" not in message, message
    assert len(lines) <= 4 and max(map(len, lines)) <= 100, message
    # Everything above the check ran cleanly; nothing below it ran (Run All stopped there).
    errors = page.locator(f".jp-CodeCell {stderr}")
    assert errors.count() == 1, [e.text_content() for e in errors.all()]
    prompts = [p.strip() for p in page.locator(".jp-CodeCell .jp-InputPrompt").all_text_contents()]
    ran = [p for p in prompts if re.fullmatch(r"\[\d+\]:", p)]
    index = prompts.index(check.locator(".jp-InputPrompt").text_content().strip())
    assert len(ran) == index + 1, f"prompts: {prompts}"


def test_executed_04_renders_the_plotly_map(
        page: Any, lab_url: str, token: str, work_dir: Path,
        solved_04: subprocess.Popen[bytes]) -> None:
    """The executed 04 opens with its interactive t-SNE map: points drawn, hover names a movie."""
    started = time.monotonic()
    code = solved_04.wait(timeout=1200)
    log = (work_dir.parent / "solve_04.log").read_text(errors="replace")
    assert code == 0, f"executing solutions/04 failed:\n{log[-3000:]}"
    print(f"04 executed (waited {time.monotonic() - started:.0f} s here)")
    nb = json.loads((work_dir / solved_04.args[-1]).read_text())
    titles = {t for c in nb["cells"] for o in c.get("outputs", [])
              for d in o.get("data", {}).get("application/vnd.plotly.v1+json", {}).get("data", [])
              for t in d.get("hovertext", []) or []}
    assert titles, "the executed 04 has no plotly output with hover names"
    open_lab(page, lab_url, token, solved_04.args[-1])
    plot = page.locator(".js-plotly-plot").first
    plot.wait_for(state="attached", timeout=60_000)
    scroll_into_view(page, plot)
    plot.locator(".scatterlayer .point").first.wait_for(state="visible", timeout=60_000)
    points = plot.locator(".scatterlayer .point")
    assert points.count() >= 500, f"only {points.count()} points drawn"
    assert "t-SNE" in (plot.locator(".gtitle").text_content() or "")
    hovered = ""
    for i in range(0, min(points.count(), 400), 37):
        point = points.nth(i)
        if not point.is_visible():
            continue
        point.hover(force=True)
        try:
            page.wait_for_selector(".hoverlayer .hovertext", state="attached", timeout=3000)
        except Exception:  # a point covered by another: try the next one
            continue
        hovered = page.locator(".hoverlayer").text_content() or ""
        if hovered:
            break
    shoot(page, "lab_04_plotly_hover")
    assert hovered, "hovering the map's points showed no hover text"
    assert any(title in hovered for title in titles), f"hover text names no movie: {hovered!r}"


def test_opening_and_saving_a_lab_changes_nothing(
        page: Any, lab_url: str, token: str, work_dir: Path) -> None:
    """JupyterLab rewrites a notebook's kernelspec and language_info when its kernel starts:
    the committed labs must already carry what it writes, so opening one creates no diff."""
    name = "00_movielens_tour.ipynb"
    path = work_dir / name
    before, mtime = json.loads(path.read_text()), path.stat().st_mtime_ns
    open_lab(page, lab_url, token, name)
    page.wait_for_timeout(3000)  # the kernel's info reply updates the metadata after "idle"
    tab = page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab.lm-mod-current")
    dirty = "jp-mod-dirty" in (tab.get_attribute("class") or "")
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile("^File$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile("^Save Notebook$")).click()
    deadline = time.monotonic() + 30
    while path.stat().st_mtime_ns == mtime and time.monotonic() < deadline:
        time.sleep(0.2)
    assert path.stat().st_mtime_ns != mtime, "File > Save Notebook did not write the file"
    time.sleep(0.5)
    after = json.loads(path.read_text())
    assert after["metadata"] == before["metadata"], (
        "opening the lab in JupyterLab rewrote its metadata (commit what it writes):\n"
        f"committed: {json.dumps(before['metadata'])}\nsaved:     {json.dumps(after['metadata'])}")
    assert after == before, "saving in JupyterLab changed the notebook beyond its metadata"
    assert not dirty, "JupyterLab marked the untouched lab as modified on opening"
