"""Each graded kernel in a bubblewrap (``bwrap``) sandbox: what student code can see and do.

nbgrader starts one kernel per submission; with ``--sandbox bwrap`` that kernel is
``bwrap … prlimit … python -m ipykernel_launcher`` (a kernelspec written into the
submission's scratch folder), so the student's code runs with:

- a read-only view of the system (``/usr``, ``/etc``, the CPU topology and cgroup limits under
  ``/sys``), the Python install, the venv, the
  ``reclab`` package and the MovieLens cache — and of **nothing else**: not the solutions,
  the other submissions, the output folder, the scratch course (its gradebook holds the hidden
  tests), the home directory;
- write access to two folders only: the autograded copy of its own notebook and a private
  scratch folder (``HOME``, results, the kernel's sockets);
- no network (``--unshare-net``: the kernel talks to nbgrader over Unix sockets, jupyter's
  ``ipc`` transport), its own PID namespace (it cannot signal the grader), and limits on
  address space and CPU time (``prlimit``).

``auto`` uses bwrap when a trial run works and says why when it falls back to ``none``.

Example:
    >>> mode, note = resolve("none")
    >>> mode, note
    ('none', 'kernels are not sandboxed (--sandbox none)')
"""

from __future__ import annotations

import functools
import json
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from reclab.errors import ReclabError

__all__ = ["KERNEL_NAME", "MODES", "Limits", "SandboxError", "bwrap_problem", "kernel_spec",
           "resolve"]

MODES = ("auto", "bwrap", "none")
KERNEL_NAME = "reclab-sandbox"


class SandboxError(ReclabError):
    """``--sandbox bwrap`` was asked for and bubblewrap cannot run here."""


@dataclass(frozen=True)
class Limits:
    """Per-kernel limits: address space (MB) and CPU seconds (``None``: no CPU limit).

    Example:
        >>> Limits(memory_mb=4096, cpu_seconds=600).prlimit()
        ['prlimit', '--as=4294967296', '--cpu=600', '--']
    """

    memory_mb: int = 8192
    cpu_seconds: int | None = None

    def prlimit(self) -> list[str]:
        """The ``prlimit`` command prefix that applies the limits."""
        args = ["prlimit", f"--as={self.memory_mb * 1024 * 1024}"]
        if self.cpu_seconds is not None:
            args.append(f"--cpu={int(self.cpu_seconds)}")
        return [*args, "--"]


def _trial() -> list[str]:
    return ["bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
            "--unshare-net", "--unshare-pid", "--die-with-parent", "true"]


@functools.cache
def bwrap_problem() -> str | None:
    """Why bubblewrap cannot sandbox a kernel here, or ``None`` when a trial run works."""
    if shutil.which("bwrap") is None:
        return "bwrap is not installed (Debian/Ubuntu: apt-get install bubblewrap)"
    if shutil.which("prlimit") is None:
        return "prlimit (util-linux) is not installed"
    try:
        run = subprocess.run(_trial(), capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bwrap could not run: {exc}"
    if run.returncode != 0:
        last = (run.stderr.strip().splitlines() or ["no message"])[-1]
        return (f"bwrap failed: {last} (user namespaces disabled? try "
                "sysctl kernel.unprivileged_userns_clone=1, or run as root)")
    return None


def resolve(mode: str) -> tuple[str, str]:
    """The sandbox to use for ``--sandbox mode`` and a sentence saying so.

    Example:
        >>> resolve("chroot")
        Traceback (most recent call last):
        ...
        reclab.course.sandbox.SandboxError: --sandbox is auto, bwrap or none, not 'chroot'
    """
    if mode not in MODES:
        raise SandboxError(f"--sandbox is auto, bwrap or none, not {mode!r}")
    if mode == "none":
        return "none", "kernels are not sandboxed (--sandbox none)"
    problem = bwrap_problem()
    if problem is None:
        return "bwrap", "each kernel runs in a bubblewrap sandbox (no network, no other files)"
    if mode == "bwrap":
        raise SandboxError(f"--sandbox bwrap: {problem}; or grade with --sandbox none inside "
                           "a container of your own")
    return "none", (f"WARNING: kernels are NOT sandboxed: {problem}. Student code runs with "
                    "your permissions; install bubblewrap or grade inside a container")


def _system_binds() -> list[str]:
    args: list[str] = []
    for top in ("/usr", "/etc", "/bin", "/sbin", "/lib", "/lib32", "/lib64"):
        path = Path(top)
        if path.is_symlink():
            args += ["--symlink", str(path.readlink()), top]
        elif path.is_dir():
            args += ["--ro-bind", top, top]
    return args


def readable_paths() -> list[Path]:
    """What a sandboxed kernel may read besides the system: Python, the venv, reclab, the data."""
    import reclab
    from reclab import data

    paths = [Path(sys.base_prefix), Path(sys.prefix), Path(sys.executable).resolve().parent,
             Path(reclab.__file__).resolve().parent, data.cache_dir().resolve()]
    kept: list[Path] = []
    for path in sorted({p for p in paths if p.exists()}, key=lambda p: len(p.parts)):
        if not any(parent == path or parent in path.parents for parent in kept):
            kept.append(path)
    return kept


def kernel_argv(private: Path, writable: Sequence[Path], limits: Limits) -> list[str]:
    """The kernel command: bwrap around ``prlimit`` around ``python -m ipykernel_launcher``."""
    from reclab import data

    # /tmp first: a venv or checkout under /tmp (a CI clone) is then bound on top of it
    args = ["bwrap", *_system_binds(), "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"]
    # the CPU topology and the cgroup's CPU quota, read-only: TensorFlow, oneDNN and OpenMP
    # size their thread pools and kernels from them, as they do outside the sandbox
    for path in ("/sys/devices/system/cpu", "/sys/fs/cgroup"):
        args += ["--ro-bind-try", path, path]
    for path in readable_paths():
        args += ["--ro-bind", str(path), str(path)]
    for path in (private, *writable):
        args += ["--bind", str(path), str(path)]
    args += ["--unshare-net", "--unshare-pid", "--unshare-ipc", "--die-with-parent",
             "--new-session", "--setenv", "HOME", str(private / "home"),
             "--setenv", "MPLCONFIGDIR", str(private / "matplotlib"),
             "--setenv", "RECLAB_CACHE", str(data.cache_dir().resolve()),
             "--setenv", "TMPDIR", str(private / "tmp"),
             # its parent is PID 1 of the new namespace, which ipykernel's parent poller would
             # take for "the grader exited"; --die-with-parent does that job instead
             "--unsetenv", "JPY_PARENT_PID"]
    return [*args, *limits.prlimit(), sys.executable, "-m", "ipykernel_launcher",
            "-f", "{connection_file}"]


def kernel_spec(private: Path, writable: Sequence[Path], limits: Limits) -> dict[str, str]:
    """Write the sandboxed kernelspec under ``private``; return the environment that finds it.

    The returned variables (``JUPYTER_PATH``, ``JUPYTER_RUNTIME_DIR``) go into the grading
    task's environment; :func:`nbgrader_config` selects the kernel and the ``ipc`` transport.
    """
    for sub in ("home", "matplotlib", "tmp", "runtime", "jupyter/kernels/" + KERNEL_NAME):
        (private / sub).mkdir(parents=True, exist_ok=True)
    for path in writable:
        Path(path).mkdir(parents=True, exist_ok=True)
    spec = {
        "argv": kernel_argv(private, writable, limits),
        "display_name": "Python 3 (reclab sandbox)",
        "language": "python",
        "interrupt_mode": "message",  # a signal would stop at bwrap; a message reaches ipykernel
        "metadata": {"debugger": False},
    }
    spec_file = private / "jupyter" / "kernels" / KERNEL_NAME / "kernel.json"
    spec_file.write_text(json.dumps(spec, indent=1), encoding="utf-8")
    return {"JUPYTER_PATH": str(private / "jupyter"),
            "JUPYTER_RUNTIME_DIR": str(private / "runtime"),
            "RECLAB_KERNEL_SOCKETS": str(private / "k")}  # reclab.course.ipc


def nbgrader_config(private: Path) -> dict[str, dict[str, object]]:
    """The nbgrader settings that select the sandboxed kernel (``private``: its folder).

    Example:
        >>> nbgrader_config(Path("/s"))["Execute"]["kernel_name"]
        'reclab-sandbox'
    """
    return {"Execute": {"kernel_name": KERNEL_NAME}}
