"""A hard deadline for one HTTP exchange, which socket timeouts alone cannot give.

A read timeout bounds each read from the socket, not the exchange: a server that trickles its
status line or headers a byte at a time, just inside the timeout, could hold a worker for days
(http.client accepts 100 header lines of 64 KB each). `DeadlineAdapter` remembers which
connection each attempt uses; `Deadline` shuts that socket down when time is up, so the blocked
read returns at once and the attempt fails as a network error.
"""

from __future__ import annotations

import socket
import threading

from requests.adapters import HTTPAdapter
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

_current = threading.local()  # the Deadline of the attempt running on this thread, if any


class Deadline:
    """Use as a context manager around one request, in the thread that sends it."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.expired = False
        self._connection = None
        self._lock = threading.Lock()
        self._done = False
        self._timer = threading.Timer(seconds, self._cut)
        self._timer.daemon = True

    def __enter__(self) -> Deadline:
        _current.deadline = self
        self._timer.start()
        return self

    def __exit__(self, *exc) -> None:
        with self._lock:
            self._done = True
        self._timer.cancel()
        _current.deadline = None

    def _watch(self, connection) -> None:
        with self._lock:
            self._connection = connection

    def _cut(self) -> None:
        with self._lock:
            if self._done:
                return
            self.expired = True
            sock = getattr(self._connection, "sock", None)
            if sock is not None:
                try:
                    sock.shutdown(socket.SHUT_RDWR)  # wakes the blocked read; close() alone would not
                except OSError:
                    pass  # already closed


def _watched(pool_class):
    class Watched(pool_class):
        def _get_conn(self, timeout=None):
            connection = super()._get_conn(timeout)
            deadline = getattr(_current, "deadline", None)
            if deadline is not None:
                deadline._watch(connection)
            return connection

    Watched.__name__ = f"Deadline{pool_class.__name__}"
    return Watched


_POOL_CLASSES = {"http": _watched(HTTPConnectionPool), "https": _watched(HTTPSConnectionPool)}


class DeadlineAdapter(HTTPAdapter):
    """An HTTPAdapter whose connections a Deadline on the sending thread can cut."""

    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = dict(_POOL_CLASSES)
