"""The sandbox in a process of its own, so it never competes with the client (or a dashboard's
pages and runs) for one GIL. The benchmark's sandboxes, and the dashboard's embedded one."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
from multiprocessing.connection import Connection
from pathlib import Path

import requests

from commbox_core.sandbox import SandboxConfig

_STARTED = re.compile(r"CommBox sandbox at (http://\S+)")
_START_TIMEOUT_S = 20.0
# Batch work (a run's child, the sandbox standing in for a remote tenant) yields the CPU to the
# server's pages: on 2 cores a page load during a run took 2.03x its idle time, 1.77x with the run niced.
BACKGROUND_NICENESS = 10


def child_environment() -> dict[str, str]:
    """This process's environment, with this copy of commbox_core importable whatever the folder."""
    root = str(Path(__file__).resolve().parents[2])
    paths = [root, *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}


def start_with_socket(module: str) -> tuple[Connection, subprocess.Popen]:
    """`python -m module FD`, FD its end of a socket pair; the connection is this process's end
    (when it closes, the child sees its parent gone)."""
    ours, theirs = socket.socketpair()
    with theirs:
        process = subprocess.Popen([sys.executable, "-m", module, str(theirs.fileno())], pass_fds=(theirs.fileno(),),
                                   env=child_environment(), stdin=subprocess.DEVNULL)
    return Connection(ours.detach()), process


class SandboxProcess:
    """`python -m commbox_core sandbox --port 0 ...` as a context manager; `url` once started."""

    def __init__(self, *, latency_ms: float = 0, rate_limit: float | None = None, exit_with_parent: bool = False,
                 background: bool = False):
        """`exit_with_parent`: the sandbox stops by itself within a second of this process's end,
        however it ends (a dashboard killed with SIGKILL leaves no sandbox behind). `background`:
        it runs at BACKGROUND_NICENESS, below this process (a dashboard's pages)."""
        self._background = background
        self.api_key = SandboxConfig.api_key
        self._args = ["--port", "0", "--latency-ms", str(latency_ms)]
        if rate_limit:
            self._args += ["--rate-limit", str(rate_limit)]
        if exit_with_parent:
            self._args.append("--exit-with-parent")
        self.url = ""
        self._process: subprocess.Popen | None = None

    def start(self) -> SandboxProcess:
        return self.__enter__()

    def stop(self) -> None:
        self.__exit__(None, None, None)

    def __enter__(self) -> SandboxProcess:
        self._process = subprocess.Popen(
            [sys.executable, "-m", "commbox_core", "sandbox", *self._args],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=child_environment(),
        )
        if self._background:
            os.setpriority(os.PRIO_PROCESS, self._process.pid, BACKGROUND_NICENESS)
        line = _first_line(self._process, _START_TIMEOUT_S)
        found = _STARTED.search(line)
        if not found:
            self.__exit__(None, None, None)
            raise RuntimeError(f"the sandbox did not start: {line.strip() or 'no output'}")
        self.url = found.group(1)
        return self

    def __exit__(self, *exc) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()  # SIGTERM: the sandbox stops as cleanly as on Ctrl-C
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()

    def stats(self) -> dict:
        return requests.get(f"{self.url}/_sandbox/stats", timeout=10).json()

    def reset(self) -> None:
        """Forget tickets, customers and counters (its settings stay)."""
        requests.post(f"{self.url}/_sandbox/reset", timeout=10).raise_for_status()


def _first_line(process: subprocess.Popen, timeout: float) -> str:
    line: list[str] = []
    reader = threading.Thread(target=lambda: line.append(process.stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    return line[0] if line else ""
