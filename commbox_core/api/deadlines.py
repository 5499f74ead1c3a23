"""A hard deadline for one HTTP exchange, which socket timeouts alone cannot give.

A read timeout bounds each read from the socket, not the exchange: a server that trickles its
status line or headers a byte at a time, just inside the timeout, could hold a worker for days
(http.client accepts 100 header lines of 64 KB each). `DeadlineAdapter` remembers which
connection each attempt uses; `Deadline` shuts that socket down when time is up, so the blocked
read returns at once and the attempt fails as a network error.

One watchdog thread serves every deadline: a timer thread per attempt cost about 0.2 ms of CPU
and a thread switch per request, a quarter of the client's overhead at 800 requests/s.
"""

from __future__ import annotations

import heapq
import itertools
import socket
import threading
import time

from requests.adapters import HTTPAdapter
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

_current = threading.local()  # the Deadline of the attempt running on this thread, if any


class _Watchdog:
    """Cuts each registered Deadline that is still open when its time comes.

    Deadlines sit in a heap by due time. One that ends in time is only marked done (removing it
    from the heap would cost O(n)); done entries are dropped as they come due, or all at once
    when they outnumber the open ones, so the heap stays small under any load.
    """

    def __init__(self) -> None:
        self._condition = threading.Condition(threading.Lock())
        self._heap: list[tuple[float, int, Deadline]] = []
        self._order = itertools.count()  # breaks ties, so Deadlines are never compared
        self._finished = 0  # done entries still in the heap
        self._thread: threading.Thread | None = None

    def watch(self, deadline: Deadline) -> None:
        due = time.monotonic() + deadline.seconds
        with self._condition:
            heapq.heappush(self._heap, (due, next(self._order), deadline))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="http-deadlines", daemon=True)
                self._thread.start()
            elif self._heap[0][2] is deadline:
                self._condition.notify()  # due before whatever the watchdog sleeps towards

    def finished(self) -> None:
        with self._condition:
            self._finished += 1
            if self._finished > 64 and self._finished * 2 > len(self._heap):
                self._heap = [entry for entry in self._heap if not entry[2].done]
                heapq.heapify(self._heap)
                self._finished = 0

    def pending(self) -> int:
        """Deadlines registered and not yet ended or cut (for tests)."""
        with self._condition:
            return sum(1 for entry in self._heap if not entry[2].done)

    def _run(self) -> None:
        with self._condition:
            while True:
                now = time.monotonic()
                while self._heap and self._heap[0][0] <= now:
                    _, _, deadline = heapq.heappop(self._heap)
                    if deadline.done:
                        self._finished -= 1
                    else:
                        deadline.cut()
                wait = self._heap[0][0] - now if self._heap else None
                self._condition.wait(wait)


_watchdog = _Watchdog()


class Deadline:
    """Use as a context manager around one request, in the thread that sends it."""

    __slots__ = ("seconds", "expired", "done", "_connection", "_lock")

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.expired = False
        self.done = False
        self._connection = None
        self._lock = threading.Lock()

    def __enter__(self) -> Deadline:
        _current.deadline = self
        _watchdog.watch(self)
        return self

    def __exit__(self, *exc) -> None:
        with self._lock:
            in_time = not self.done
            self.done = True
        _current.deadline = None
        if in_time:  # a cut one has already left the watchdog's heap
            _watchdog.finished()

    def _watch(self, connection) -> None:
        with self._lock:
            self._connection = connection

    def cut(self) -> None:
        """Called by the watchdog when time is up: shut the attempt's socket, if it is still open."""
        with self._lock:
            if self.done:
                return
            self.done = True
            self.expired = True
            _shut(self._connection)


def _shut(connection) -> None:
    sock = getattr(connection, "sock", None)
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
