"""Which CommBox the console talks to: the tenant configured, or the built-in sandbox.

With no API key the dashboard uses a sandbox of its own for the life of its server, in a child
process: in the dashboard's process it took the GIL from every page and from the runs (pages took
7-10 s to load during a 20,000-row run). The CLI's --sandbox and a notebook use one in-process
for the life of a `with` block.
"""

from __future__ import annotations

import atexit
import contextlib
from collections.abc import Iterator

from commbox_core.config.settings import Settings
from commbox_core.sandbox import SandboxConfig, SandboxServer
from commbox_core.service.sandbox_process import SandboxProcess


def start_sandbox() -> SandboxProcess:
    """The sandbox in a child process on a free loopback port, until this process ends (however it
    ends: the child stops within a second of being orphaned). It stands in for a tenant far away,
    so it runs below this process's priority, as a run's own process does."""
    server = SandboxProcess(exit_with_parent=True, background=True).start()
    atexit.register(server.stop)
    return server


def on_sandbox(settings: Settings, server: SandboxProcess | SandboxServer) -> Settings:
    return settings.for_sandbox(server.url, server.api_key)


@contextlib.contextmanager
def sandboxed(settings: Settings) -> Iterator[tuple[Settings, str]]:
    """Settings pointed at an in-process sandbox for the block, and its URL; its links stop
    working when the block ends."""
    config = SandboxConfig()
    with SandboxServer(config) as server:
        yield settings.for_sandbox(server.url, config.api_key), server.url
