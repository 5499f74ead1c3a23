"""SandboxServer: the sandbox served by uvicorn on a background thread with its own event loop.

It binds the socket itself (so port 0 yields a free port known before start() returns), never
installs signal handlers, and can be started and stopped any number of times in one process.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from typing import Any, Self

import uvicorn
from starlette.applications import Starlette
from uvicorn.protocols.http.h11_impl import H11Protocol

from commbox_core.sandbox.app import create_app
from commbox_core.sandbox.config import SandboxConfig
from commbox_core.sandbox.ticket_api import CLOSE_CONNECTION_EXTENSION

_START_TIMEOUT_S = 10.0
_STOP_TIMEOUT_S = 5.0


def _http_protocol_base() -> type[asyncio.Protocol]:
    """httptools when it is installed (uvicorn's own preference, and faster), else h11."""
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    except ImportError:
        return H11Protocol
    return HttpToolsProtocol


def _sandbox_protocol(base: Any) -> type[asyncio.Protocol]:
    class SandboxHTTPProtocol(base):
        """uvicorn's HTTP protocol with two changes, both per connection (no global logger is
        touched, so other uvicorn servers in the process keep their logs):
        - no access log: link paths carry tickets (`/login?ta=<token>`);
        - a scope extension that closes the connection at once, for the dropped-connection
          fault (ASGI itself has no way to abort a response half-sent)."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.access_log = False
            app = self.app

            async def app_with_close(scope: Any, receive: Any, send: Any) -> None:
                scope.setdefault("extensions", {})[CLOSE_CONNECTION_EXTENSION] = self.transport.close
                await app(scope, receive, send)

            self.app = app_with_close

    return SandboxHTTPProtocol


class _NotifyingServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, started: threading.Event) -> None:
        super().__init__(config)
        self._started = started

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        self._started.set()


class SandboxServer:
    """Serves a sandbox on host:port (port 0: any free port). Use as a context manager, or
    start() / stop(). The app (and its tickets and counters) outlives a stop and restart."""

    def __init__(self, config: SandboxConfig | None = None, host: str = "127.0.0.1", port: int = 0) -> None:
        self.config = config or SandboxConfig()
        self.host = host
        self.requested_port = port
        self.port: int | None = None
        self.app: Starlette = create_app(self.config)
        self._server: _NotifyingServer | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()  # start() and stop() may come from different threads

    @property
    def url(self) -> str:
        if self.port is None:
            raise RuntimeError("the sandbox server has not been started")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def api_key(self) -> str:
        return self.config.api_key

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> Self:
        """Returns once the server accepts connections. Raises OSError if the port is taken."""
        with self._lock:
            if not self.running:
                self._start()
        return self

    def _start(self) -> None:
        sock = self._bind()
        self.port = sock.getsockname()[1]
        started = threading.Event()
        config = uvicorn.Config(
            self.app,
            http=_sandbox_protocol(_http_protocol_base()),
            ws="none",
            lifespan="off",
            log_config=None,
            proxy_headers=False,
            timeout_graceful_shutdown=1,
        )
        server = _NotifyingServer(config, started)
        thread = threading.Thread(
            target=lambda: asyncio.run(server.serve(sockets=[sock])),
            name=f"commbox-sandbox-{self.port}",
            daemon=True,
        )
        self._server, self._thread = server, thread
        thread.start()
        deadline = time.monotonic() + _START_TIMEOUT_S
        while not started.wait(0.01):
            if not thread.is_alive() or time.monotonic() > deadline:
                self._stop()
                sock.close()
                raise RuntimeError(f"the sandbox server did not start on {self.host}:{self.port}")

    def wait(self, timeout: float | None = None) -> bool:
        """Blocks until the server stops (or `timeout` passes); True if it is stopped."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        return not self.running

    def stop(self) -> None:
        """Stops serving and waits for the thread to end (well under a second when idle)."""
        with self._lock:
            self._stop()

    def _stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        server.should_exit = True
        thread.join(_STOP_TIMEOUT_S)
        if thread.is_alive():
            server.force_exit = True
            thread.join(_STOP_TIMEOUT_S)
        self._server = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _bind(self) -> socket.socket:
        # Keep getaddrinfo's proto (IPPROTO_TCP): asyncio sets TCP_NODELAY only on connections
        # whose socket says so. With proto 0, Nagle's algorithm meets the client's delayed ACK
        # and each keep-alive connection stalls 40 ms per request (about 25 requests a second).
        family, kind, proto, _, address = socket.getaddrinfo(
            self.host, self.requested_port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        sock = socket.socket(family, kind, proto)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(address)
            sock.listen(2048)
        except OSError:
            sock.close()
            raise
        return sock
