"""Shared fixtures: one real sandbox server on a loopback port for the whole session."""

from __future__ import annotations

import pytest

from .support import Sandbox


@pytest.fixture(scope="session")
def sandbox_server() -> Sandbox:
    from commbox_core.sandbox import SandboxConfig, SandboxServer

    config = SandboxConfig(seed=1234)
    with SandboxServer(config) as server:
        yield Sandbox(server.url, config.api_key)


@pytest.fixture
def sandbox(sandbox_server) -> Sandbox:
    handle = sandbox_server
    handle.reset()
    yield handle
    handle.reset()
