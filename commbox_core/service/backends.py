"""Which CommBox the console talks to: the tenant configured, or the built-in sandbox.

With no API key the dashboard uses an embedded sandbox for the life of its server; the CLI's
--sandbox and a notebook use one for the life of a `with` block.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from commbox_core.config.settings import Settings
from commbox_core.sandbox import SandboxConfig, SandboxServer


def start_sandbox() -> SandboxServer:
    """The sandbox on a free loopback port, running until the process ends (or stop())."""
    return SandboxServer(SandboxConfig(), host="127.0.0.1", port=0).start()


def on_sandbox(settings: Settings, server: SandboxServer) -> Settings:
    return settings.for_sandbox(server.url, server.config.api_key)


@contextlib.contextmanager
def sandboxed(settings: Settings) -> Iterator[tuple[Settings, str]]:
    """Settings pointed at an in-process sandbox for the block, and its URL; its links stop
    working when the block ends."""
    config = SandboxConfig()
    with SandboxServer(config) as server:
        yield settings.for_sandbox(server.url, config.api_key), server.url
