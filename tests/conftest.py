"""Shared fixtures: one real sandbox server on a loopback port for the whole session."""

from __future__ import annotations

import os
import socket

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


@pytest.fixture
def refused_url():
    """http://127.0.0.1:<port> where every connection is refused: the port stays bound, never
    listening, for the whole test, so nothing else can take it meanwhile."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{probe.getsockname()[1]}"


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    """No COMMBOX_* variables, and a working folder without .env or secrets.toml."""
    for name in list(os.environ):
        if name.startswith("COMMBOX_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return monkeypatch


@pytest.fixture(scope="session")
def postgres_server():
    """A real PostgreSQL server on a loopback port, for the whole session (bench/postgres.py)."""
    from commbox_core.bench.postgres import PostgresServer

    try:
        server = PostgresServer().start()
    except RuntimeError as exc:
        pytest.fail(str(exc))
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_target(request, tmp_path) -> str:
    """Where a JobStore lives, once per backend: a SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return str(tmp_path / "s.sqlite3")
    return request.getfixturevalue("postgres_server").new_database()


@pytest.fixture
def open_store():
    """JobStore(target), closed after the test: no writer thread or connection pool outlives it."""
    from commbox_core.storage.store import JobStore

    opened = []

    def open_(target):
        opened.append(JobStore(target))
        return opened[-1]

    yield open_
    for store in opened:
        store.close()
