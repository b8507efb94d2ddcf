"""The browser test's fixtures: the student JupyterLab (``make lab``'s config) on 127.0.0.1,
Debian's Chromium driven by Playwright, and a page that fails its test on console errors.

These tests run only when named (``make test-ui`` runs ``pytest tests/ui``): ``make test``
(``pytest tests``) does not collect them, so it needs neither Chromium nor Playwright.
Playwright is imported inside the fixtures for the same reason.

Nothing here waits without a limit: every browser wait names what it waits for and how long
(``wait_until`` and friends in test_student_lab.py); each test has a hard limit
(``RECLAB_UI_TEST_LIMIT`` seconds, default 600: a test still running then fails, and every
thread's stack is printed 30 s later if even that does not return); a failing test
leaves ``<test>.png`` (screenshot) and ``<test>.txt`` (the page's text, the console, the tail
of JupyterLab's log) in ``$RECLAB_UI_SHOTS`` (default /tmp/ui-shots).
"""

from __future__ import annotations

import faulthandler
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
# make lab's config; RECLAB_UI_JUPYTER_CONFIG=<dir> runs the test against another one (e.g. an
# empty dir, to see it fail on the instructor tools nbgrader shows by default).
STUDENT_CONFIG = Path(os.environ.get("RECLAB_UI_JUPYTER_CONFIG", REPO / "jupyter" / "student"))
CHROMIUM = os.environ.get("RECLAB_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SHOTS = Path(os.environ.get("RECLAB_UI_SHOTS", "/tmp/ui-shots"))
SOLVED_04 = "04_embeddings_solved.ipynb"
TEST_LIMIT_S = float(os.environ.get("RECLAB_UI_TEST_LIMIT", "600"))
SERVER_START_S = 180  # JupyterLab answering /api/status
SOLVE_04_S = 600  # executing solutions/04 in the background (about a minute when quiet)


def _named_explicitly(config: pytest.Config) -> bool:
    """True when the command line names tests/ui (or a file in it)."""
    for arg in config.args:
        path = Path(arg.split("::")[0]).resolve()
        if path == HERE or HERE in path.parents:
            return True
    return False


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Leave the browser test out of ``pytest tests``; ``pytest tests/ui`` runs it."""
    if collection_path.parent == HERE and not _named_explicitly(config):
        return True
    return None


# --------------------------------------------------------------------------- hard limits


class HardLimit(Exception):
    """A test ran past RECLAB_UI_TEST_LIMIT seconds."""


def _on_alarm(signum: int, frame: FrameType | None) -> None:
    raise HardLimit(f"this test ran past its hard limit of {TEST_LIMIT_S:.0f} s "
                    "(RECLAB_UI_TEST_LIMIT): some wait has no limit, or the limits add up")


def _on_term(signum: int, frame: FrameType | None) -> None:
    # `timeout` in make test-ui sends SIGTERM: unwind, so that the fixtures stop JupyterLab.
    faulthandler.dump_traceback(all_threads=True)
    raise KeyboardInterrupt(f"signal {signum}: the whole browser test ran past its limit")


def pytest_configure(config: pytest.Config) -> None:
    """SIGTERM unwinds the session (the fixtures stop their processes)."""
    if _named_explicitly(config):
        signal.signal(signal.SIGTERM, _on_term)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    """Each test (setup, call, teardown) gets TEST_LIMIT_S seconds: then it fails (SIGALRM),
    and a few seconds later every thread's stack is printed, should even that not return."""
    previous = signal.signal(signal.SIGALRM, _on_alarm)
    signal.setitimer(signal.ITIMER_REAL, TEST_LIMIT_S)
    faulthandler.dump_traceback_later(TEST_LIMIT_S + 30, exit=False)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        faulthandler.cancel_dump_traceback_later()
        signal.signal(signal.SIGALRM, previous)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Keep each phase's report on the item, for the page fixture to see a failure."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"report_{report.when}", report)


# --------------------------------------------------------------------------- processes


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _venv_env(tmp: Path, work_dir: Path) -> dict[str, str]:
    """The environment ``make lab`` gives JupyterLab, with every per-user dir in ``tmp``;
    results go to ``work_dir``'s results/ (the checkout's stays as it is)."""
    env = dict(os.environ)
    env["RECLAB_RESULTS"] = str(work_dir / "results")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["JUPYTER_CONFIG_PATH"] = str(STUDENT_CONFIG)
    env["JUPYTERLAB_SETTINGS_DIR"] = str(tmp / "settings")
    env["JUPYTERLAB_WORKSPACES_DIR"] = str(tmp / "workspaces")
    env["JUPYTER_RUNTIME_DIR"] = str(tmp / "runtime")
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    env.pop("MPLBACKEND", None)  # the kernel must render inline, as for a student
    return env


def _stop(process: subprocess.Popen[bytes], grace_s: float = 20) -> None:
    """Stop a process started in its own session, and everything it started (kernels)."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            process.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(process.pid, signal.SIGKILL)  # kernels left behind by the server
    except ProcessLookupError:
        pass
    process.wait()


@pytest.fixture(scope="session")
def work_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The student's folder: a copy of labs/ (what ``make lab`` puts in my-labs/)."""
    root = tmp_path_factory.mktemp("my-labs")
    for lab in sorted((REPO / "labs").glob("*.ipynb")):
        shutil.copy2(lab, root / lab.name)
    return root


@pytest.fixture(scope="session")
def solved_04(work_dir: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Execute solutions/04 with nbclient in the background (about a minute) while the
    other tests run; the plotly test waits for it. Its results go to work_dir, not the repo."""
    script = (
        "import sys, nbformat, nbclient\n"
        "nb = nbformat.read(sys.argv[1], as_version=4)\n"
        f"nbclient.NotebookClient(nb, timeout={SOLVE_04_S}, kernel_name='python3',\n"
        "    resources={'metadata': {'path': '.'}}).execute()\n"
        "nbformat.write(nb, sys.argv[2])\n"
    )
    log = (work_dir.parent / "solve_04.log").open("wb")
    env = _venv_env(work_dir.parent / "solve-env", work_dir)
    env["MPLBACKEND"] = "Agg"
    process = subprocess.Popen(
        [sys.executable, "-c", script, str(REPO / "solutions" / "04_embeddings.ipynb"),
         SOLVED_04],
        cwd=work_dir, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    yield process
    _stop(process, grace_s=5)
    log.close()


class Lab(str):
    """The running JupyterLab's base URL (``http://127.0.0.1:PORT``), with its token and log."""

    token: str
    log: Path


@pytest.fixture(scope="session")
def lab_url(work_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """Start the student JupyterLab on a free port with a random token; yield its base URL."""
    tmp = tmp_path_factory.mktemp("jupyter")
    port, token = _free_port(), secrets.token_hex(16)
    command = [
        sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1",
        f"--port={port}", f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={work_dir}",
    ]
    if os.geteuid() == 0:
        command.append("--allow-root")
    log_path = tmp / "jupyter.log"
    log = log_path.open("wb")
    server = subprocess.Popen(command, env=_venv_env(tmp, work_dir), stdout=log,
                              stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                              start_new_session=True)
    lab = Lab(f"http://127.0.0.1:{port}")
    lab.token, lab.log = token, log_path
    deadline = time.monotonic() + SERVER_START_S
    try:
        while True:
            if server.poll() is not None:
                pytest.fail(f"JupyterLab exited with {server.returncode}:\n{log_path.read_text()}")
            try:
                with urllib.request.urlopen(f"{lab}/api/status?token={token}", timeout=5):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"JupyterLab did not answer /api/status in {SERVER_START_S} s:\n"
                                f"{log_path.read_text()}")
                time.sleep(0.5)
        yield lab
    finally:
        _stop(server)
        log.close()


@pytest.fixture(scope="session")
def token(lab_url: Lab) -> str:
    """The running JupyterLab's token."""
    return lab_url.token


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's Chromium (no browser download), headless, driven by Playwright."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (make test-ui does, "
                    "as root) or set RECLAB_CHROMIUM to a Chromium binary.")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                             timeout=60_000)
        yield browser
        browser.close()


# Each cell of the open notebook: its prompt, the start of its input, the start of its outputs
# (read from the DOM whether or not the cell is on screen).
CELLS_JS = """() => {
  const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
  if (!panel) return 'no notebook open';
  return [...panel.querySelectorAll('.jp-Cell')].map((cell, i) => {
    const prompt = cell.querySelector('.jp-InputPrompt')?.textContent.trim() ?? '';
    const input = (cell.querySelector('.jp-InputArea-editor')?.textContent ?? '').slice(0, 120);
    const out = [...cell.querySelectorAll('.jp-OutputArea-output')]
      .map(o => (o.getAttribute('data-mime-type') ?? '') + ': ' + o.textContent.slice(0, 600));
    return `#${i} ${prompt} ${input}` + out.map(o => '\\n    -> ' + o).join('');
  }).join('\\n');
}"""


def _save_failure(page: Any, name: str, console: list[str], lab: Lab) -> list[str]:
    """Screenshot and text of a failed test's page; return the files written."""
    written = []
    try:
        page.screenshot(path=str(SHOTS / f"{name}.png"), timeout=15_000)
        written.append(str(SHOTS / f"{name}.png"))
    except Exception as exc:  # a dead page must not hide the test's own failure
        console.append(f"(no screenshot: {exc})")
    try:
        text = page.locator("body").inner_text(timeout=15_000)
    except Exception as exc:
        text = f"(no page text: {exc})"
    try:
        cells = page.evaluate(CELLS_JS)
    except Exception as exc:
        cells = f"(no cells: {exc})"
    log_tail = lab.log.read_text(errors="replace")[-6000:] if lab.log.exists() else ""
    (SHOTS / f"{name}.txt").write_text(
        f"URL: {page.url}\n\n== page text ==\n{text}\n\n== notebook cells ==\n{cells}\n\n"
        "== console ==\n" + "\n".join(console)
        + f"\n\n== JupyterLab log (tail) ==\n{log_tail}\n")
    written.append(str(SHOTS / f"{name}.txt"))
    return written


@pytest.fixture
def page(browser: Any, lab_url: Lab, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh browser page; the test fails when the page logs a console error. A failed
    test leaves its screenshot and page text in SHOTS."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.set_default_timeout(60_000)
    context.set_default_navigation_timeout(60_000)
    page = context.new_page()
    errors: list[str] = []
    console: list[str] = []

    def on_console(msg: Any) -> None:
        console.append(f"console.{msg.type}: {msg.text}")
        if msg.type == "error":
            errors.append(console[-1])

    page.on("console", on_console)
    page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
    yield page
    SHOTS.mkdir(parents=True, exist_ok=True)
    name = request.node.name
    report = getattr(request.node, "report_call", None)
    try:
        if report is None or report.failed:
            files = _save_failure(page, name, console + errors, lab_url)
            sys.stderr.write(f"\nfailed browser test {name}: see {', '.join(files)}\n")
        else:
            page.screenshot(path=str(SHOTS / f"{name}.png"), timeout=15_000)
    finally:
        context.close()
    assert not errors, "the browser console logged errors:\n" + "\n".join(errors)
