"""A kernel manager that talks to its kernel over Unix sockets (jupyter's ``ipc`` transport).

A sandboxed kernel has no network (``bwrap --unshare-net``), not even the host's loopback,
so the grading worker gives nbgrader's ``Execute`` preprocessor this manager for a sandboxed
task (:func:`use_for_nbgrader`: nbgrader passes its kernel manager class as an argument, which
configuration cannot override); the sockets live in the submission's private folder
(``$RECLAB_KERNEL_SOCKETS``), which both sides see. Imported only inside the grading worker.

Example:
    >>> IpcKernelManager(ip="/tmp/k").transport                     # doctest: +SKIP
    'ipc'
"""

from __future__ import annotations

import os
import uuid
from typing import Any

from jupyter_client import AsyncKernelManager
from traitlets import Unicode, default

__all__ = ["IpcKernelManager", "use_for_nbgrader"]

SOCKETS_ENV = "RECLAB_KERNEL_SOCKETS"


class IpcKernelManager(AsyncKernelManager):
    """``AsyncKernelManager`` with ``transport="ipc"``; ``ip`` is the sockets' path prefix."""

    transport = Unicode("ipc").tag(config=True)

    @default("ip")
    def _ip_default(self) -> str:
        return os.environ[SOCKETS_ENV]

    async def _async_pre_start_kernel(self, **kw: Any) -> tuple[list[str], dict[str, Any]]:
        """Keep the connection file next to the sockets, where the sandbox can read it."""
        self.connection_file = f"{os.environ[SOCKETS_ENV]}-{uuid.uuid4().hex[:12]}.json"
        return await super()._async_pre_start_kernel(**kw)


def use_for_nbgrader(sandboxed: bool) -> None:
    """Make nbgrader's ``Execute`` start kernels with this manager (or its default again)."""
    from nbgrader.preprocessors import execute

    execute.AsyncKernelManager = IpcKernelManager if sandboxed else AsyncKernelManager
