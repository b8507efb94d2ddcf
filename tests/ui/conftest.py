"""The browser test's fixtures: the student JupyterLab (``make lab``'s config) on 127.0.0.1,
Debian's Chromium driven by Playwright, and a page that fails its test on console errors.

These tests run only when named (``make test-ui`` runs ``pytest tests/ui``): ``make test``
(``pytest tests``) does not collect them, so it needs neither Chromium nor Playwright.
Playwright is imported inside the fixtures for the same reason.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
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
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SHOTS = Path(os.environ.get("RECLAB_UI_SHOTS", "/tmp/ui-shots"))
SOLVED_04 = "04_embeddings_solved.ipynb"


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


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _venv_env(tmp: Path) -> dict[str, str]:
    """The environment ``make lab`` gives JupyterLab, with every per-user dir in ``tmp``."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["JUPYTER_CONFIG_PATH"] = str(STUDENT_CONFIG)
    env["JUPYTERLAB_SETTINGS_DIR"] = str(tmp / "settings")
    env["JUPYTERLAB_WORKSPACES_DIR"] = str(tmp / "workspaces")
    env["JUPYTER_RUNTIME_DIR"] = str(tmp / "runtime")
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    env.pop("MPLBACKEND", None)  # the kernel must render inline, as for a student
    return env


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
        "nbclient.NotebookClient(nb, timeout=900, kernel_name='python3',\n"
        "    resources={'metadata': {'path': '.'}}).execute()\n"
        "nbformat.write(nb, sys.argv[2])\n"
    )
    log = (work_dir.parent / "solve_04.log").open("wb")
    env = _venv_env(work_dir.parent / "solve-env")
    env["MPLBACKEND"] = "Agg"
    process = subprocess.Popen(
        [sys.executable, "-c", script, str(REPO / "solutions" / "04_embeddings.ipynb"),
         SOLVED_04],
        cwd=work_dir, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    yield process
    if process.poll() is None:
        process.kill()
    process.wait()
    log.close()


@pytest.fixture(scope="session")
def lab_url(work_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Start the student JupyterLab on a free port with a random token; yield its base URL
    (``http://127.0.0.1:PORT``); the token is in ``lab_url.token`` style query strings."""
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
    server = subprocess.Popen(command, env=_venv_env(tmp), stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while True:
        if server.poll() is not None:
            pytest.fail(f"JupyterLab exited with {server.returncode}:\n{log_path.read_text()}")
        try:
            with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=5):
                break
        except OSError:
            if time.monotonic() > deadline:
                server.kill()
                pytest.fail(f"JupyterLab did not answer in 180 s:\n{log_path.read_text()}")
            time.sleep(0.5)
    os.environ["RECLAB_UI_TOKEN"] = token
    yield base
    server.terminate()
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()
    log.close()


@pytest.fixture(scope="session")
def token(lab_url: str) -> str:
    """The running JupyterLab's token."""
    return os.environ["RECLAB_UI_TOKEN"]


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's Chromium (no browser download), headless, driven by Playwright."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (make test-ui does, "
                    "as root) or set RECLAB_CHROMIUM to a Chromium binary.")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Any, lab_url: str, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh browser page; the test fails when the page logs a console error."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(60_000)
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(f"console.{msg.type}: {msg.text}")
            if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
    yield page
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{request.node.name}.png"))
    context.close()
    assert not errors, "the browser console logged errors:\n" + "\n".join(errors)
