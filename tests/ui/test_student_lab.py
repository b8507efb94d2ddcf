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
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

# What nbgrader shows instructors (and students working through an nbgrader exchange):
# none of it may appear in a student's JupyterLab.
INSTRUCTOR_WORDS = ("nbgrader", "formgrader", "create assignment", "assignment list",
                    "course list", "manage assignments", "exchange directory",
                    "error fetching courses")
MENUS = ("File", "Edit", "View", "Run", "Kernel", "Tabs", "Settings", "Help")


# Every wait below has a limit and says what it waited for (seconds; generous for a loaded
# 2-core machine: quiet, each takes a few seconds).
PAGE_S = 60  # the page, a menu, a cell to attach
KERNEL_S = 180  # a kernel to start (importing TensorFlow) or to finish a cell
RUN_START_S = 60  # Run All to start its first cell
FIRST_CHECK_S = 300  # Run All to reach lab 01's first check (a few seconds of work when quiet)
SOLVED_04_WAIT_S = 480  # the background execution of solutions/04 (about a minute when quiet)

# What a page shows about the open notebook: kernel status, dialogs, each code cell's prompt.
STATE_JS = """() => {
  const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
  const q = (root, sel) => root ? [...root.querySelectorAll(sel)] : [];
  const ind = document.querySelector('.jp-Notebook-ExecutionIndicator');
  const bar = document.querySelector('#jp-main-statusbar');
  return {
    kernel: ind ? ind.getAttribute('data-status') : null,
    statusbar: bar ? bar.innerText.replace(/\\s+/g, ' ').trim() : null,
    dialogs: q(document, '.jp-Dialog').map(d => d.innerText.trim().slice(0, 400)),
    prompts: q(panel, '.jp-CodeCell .jp-InputPrompt').map(p => p.textContent.trim()),
    errors: q(panel, '.jp-CodeCell .jp-OutputArea-output'
              + '[data-mime-type="application/vnd.jupyter.stderr"]').length,
  };
}"""


def page_state(page: Any) -> dict[str, Any]:
    """The open notebook's kernel status, dialogs, prompts and stderr outputs (see STATE_JS)."""
    return page.evaluate(STATE_JS)


def describe(state: dict[str, Any]) -> str:
    """One paragraph of ``page_state`` for a failure message."""
    prompts = state["prompts"]
    done = sum(map(ran, prompts))
    queued = prompts.count("[*]:")
    return (f"kernel {state['kernel']!r}; status bar {state['statusbar']!r}; "
            f"{len(prompts)} code cells: {done} ran, {queued} queued/running; "
            f"{state['errors']} stderr outputs; dialogs: {state['dialogs'] or 'none'}")


def wait_until(page: Any, what: str, probe: Callable[[dict[str, Any]], bool],
               timeout_s: float, poll_s: float = 0.5) -> dict[str, Any]:
    """Poll ``page_state`` until ``probe(state)`` holds; fail after ``timeout_s`` saying what
    it waited for and what the page showed. A dialog fails at once (nothing here expects one)."""
    deadline = time.monotonic() + timeout_s
    while True:
        state = page_state(page)
        if probe(state):
            return state
        if state["dialogs"]:
            raise AssertionError(f"a dialog appeared while waiting for {what}: {describe(state)}")
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout_s:.0f} s for {what}: {describe(state)}")
        page.wait_for_timeout(poll_s * 1000)


def wait_for(page: Any, selector: str, what: str, timeout_s: float = PAGE_S,
             state: str = "attached") -> None:
    """``page.wait_for_selector`` that fails saying what it waited for."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_selector(selector, state=state, timeout=timeout_s * 1000)
    except PlaywrightTimeout:
        raise AssertionError(f"waited {timeout_s:.0f} s for {what} ({selector} {state}): "
                             f"{describe(page_state(page))}") from None


def wait_locator(page: Any, locator: Any, what: str, timeout_s: float = PAGE_S,
                 state: str = "attached") -> None:
    """``locator.wait_for`` that fails saying what it waited for."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        locator.wait_for(state=state, timeout=timeout_s * 1000)
    except PlaywrightTimeout:
        raise AssertionError(f"waited {timeout_s:.0f} s for {what} ({state}): "
                             f"{describe(page_state(page))}") from None


def ran(prompt: str) -> bool:
    """True for the prompt of a cell that ran (``[3]:``), not ``[ ]:`` or ``[*]:``."""
    return re.fullmatch(r"\[\d+\]:", prompt) is not None


def api_sessions(base: str, token: str) -> list[dict[str, Any]]:
    """The server's sessions (``/api/sessions``: path, kernel execution_state, connections)."""
    with urllib.request.urlopen(f"{base}/api/sessions?token={token}", timeout=10) as reply:
        return json.load(reply)


def wait_kernel_connected(base: str, token: str, path: str, timeout_s: float = KERNEL_S) -> None:
    """Wait until the server says the kernel of notebook ``path`` is idle and connected to
    (the page's websocket): only then does Run All reach a kernel that is listening.

    Why: while a notebook loads, its execution indicator reads ``data-status="idle"`` before
    the kernel session even exists (then "initializing", "connecting", "unknown", "idle").
    A Run All clicked in that window runs nothing: JupyterLab clears each cell's execution
    because the session has no kernel, so no cell gets a prompt and no error ever comes.
    That was the fresh-clone "hang" (1 in 5 tries here with the old wait)."""
    deadline = time.monotonic() + timeout_s
    while True:
        kernels = [s["kernel"] for s in api_sessions(base, token) if s["path"] == path]
        if any(k["execution_state"] == "idle" and k["connections"] >= 1 for k in kernels):
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout_s:.0f} s for the kernel of {path} to be idle "
                                 f"and connected (server's /api/sessions): {kernels}")
        time.sleep(0.5)


def kernel_idle(state: dict[str, Any]) -> bool:
    """The notebook's kernel is connected and idle (indicator and status bar agree)."""
    return state["kernel"] == "idle" and "| Idle" in (state["statusbar"] or "")


def open_lab(page: Any, base: str, token: str, path: str = "") -> None:
    """Open JupyterLab (``path`` = a notebook to open) with a fresh workspace."""
    where = f"lab/tree/{path}" if path else "lab"
    page.goto(f"{base}/{where}?token={token}&reset", timeout=PAGE_S * 1000)
    wait_for(page, "#jp-main-dock-panel", "JupyterLab's main area", state="visible")
    if path:
        wait_for(page, ".jp-NotebookPanel .jp-Cell", f"the cells of {path}")
        wait_idle(page, f"the kernel of {path}")
        wait_kernel_connected(base, token, path)


def wait_idle(page: Any, what: str = "the kernel", timeout_s: float = KERNEL_S) -> None:
    """Wait until the open notebook's kernel is started and idle."""
    wait_until(page, f"{what} to be idle", kernel_idle, timeout_s)


def click_menu_item(page: Any, menu: str, item: str) -> None:
    """Click ``menu`` > ``item`` once the item is enabled (fails saying which was not)."""
    deadline = time.monotonic() + PAGE_S
    while True:
        page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(rf"^{menu}$")).click()
        entry = page.locator(".lm-Menu .lm-Menu-item").filter(
            has=page.locator(".lm-Menu-itemLabel", has_text=re.compile(rf"^{re.escape(item)}$")))
        wait_locator(page, entry.first, f"{menu} > {item}", state="visible")
        if "lm-mod-disabled" not in (entry.first.get_attribute("class") or ""):
            entry.first.click()
            return
        page.keyboard.press("Escape")
        if time.monotonic() > deadline:
            raise AssertionError(f"{menu} > {item} stayed disabled for {PAGE_S} s: "
                                 f"{describe(page_state(page))}")
        page.wait_for_timeout(1000)


def menu_labels(page: Any, menu: str) -> list[str]:
    """The item labels of one top menu (opened with a click, closed with Escape)."""
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(rf"^{menu}$")).click()
    wait_for(page, ".lm-Menu", f"the {menu} menu", state="visible")
    labels = page.locator(".lm-Menu .lm-Menu-itemLabel").all_text_contents()
    page.keyboard.press("Escape")
    page.keyboard.press("Escape")
    return [label.strip() for label in labels if label.strip()]


def shoot(page: Any, name: str) -> None:
    """Save a screenshot to $RECLAB_UI_SHOTS/NAME.png (default /tmp/ui-shots)."""
    shots = Path(os.environ.get("RECLAB_UI_SHOTS", "/tmp/ui-shots"))
    shots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shots / f"{name}.png"), timeout=15_000)


def scroll_into_view(page: Any, cell: Any) -> None:
    """Scroll the notebook's windowed panel until ``cell`` is on screen."""
    cell.scroll_into_view_if_needed(timeout=PAGE_S * 1000)
    page.wait_for_timeout(300)


def test_launcher_and_menus_show_no_instructor_tools(
        page: Any, lab_url: str, token: str, solved_04: subprocess.Popen[bytes]) -> None:
    """No nbgrader instructor or exchange items in the menus, sidebars or launcher, and no
    error dialog. (Requesting ``solved_04`` here starts executing 04 in the background.)"""
    open_lab(page, lab_url, token)
    wait_for(page, ".jp-Launcher", "the launcher", state="visible")
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
    click_menu_item(page, "Run", "Run All Cells")
    started = time.monotonic()
    wait_until(page, "Run All to queue the cells (prompts [*])",
               lambda st: any(p == "[*]:" or ran(p) for p in st["prompts"]), RUN_START_S)
    wait_until(page, "the kernel to run Run All's first cell (prompt [1])",
               lambda st: any(ran(p) for p in st["prompts"]), KERNEL_S)

    # Run All runs the cells in order and stops at the first error: wait for that error
    # (or for Run All to end without one, which fails at once).
    def stopped(state: dict[str, Any]) -> bool:
        if state["errors"]:
            return True
        if kernel_idle(state) and "[*]:" not in state["prompts"]:
            raise AssertionError(f"Run All ended with no error output: {describe(state)}")
        return False

    wait_until(page, "Run All to stop at the first check's message", stopped, FIRST_CHECK_S,
               poll_s=1)
    print(f"Run All reached the first check in {time.monotonic() - started:.0f} s")
    wait_idle(page, "the kernel after Run All stopped")
    stderr = ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"
    error = page.locator(f".jp-CodeCell {stderr}").first
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
    index = prompts.index(check.locator(".jp-InputPrompt").text_content().strip())
    assert sum(map(ran, prompts)) == index + 1, f"prompts: {prompts}"


def test_executed_04_renders_the_plotly_map(
        page: Any, lab_url: str, token: str, work_dir: Path,
        solved_04: subprocess.Popen[bytes]) -> None:
    """The executed 04 opens with its interactive t-SNE map: points drawn, hover names a movie."""
    started = time.monotonic()
    try:
        code = solved_04.wait(timeout=SOLVED_04_WAIT_S)
    except subprocess.TimeoutExpired:
        log = (work_dir.parent / "solve_04.log").read_text(errors="replace")
        raise AssertionError(f"executing solutions/04 in the background took more than "
                             f"{SOLVED_04_WAIT_S} s (here); its log:\n{log[-3000:]}") from None
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
    wait_locator(page, plot, "the executed 04's plotly map (.js-plotly-plot)")
    scroll_into_view(page, plot)
    wait_locator(page, plot.locator(".scatterlayer .point").first, "the map's first point",
                 state="visible")
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
    click_menu_item(page, "File", "Save Notebook")
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
