"""Items handed over a connection in batches: many small sends cost a run's process more
interpreter time than one send ten times a second (service/run_child.py, workbook_process.py)."""

from __future__ import annotations

import threading
from collections.abc import Callable

EVERY_S = 0.1


class BatchedSender:
    """`add` from any thread; `deliver(batch)` runs every EVERY_S on a thread of its own (and once
    more at `stop`), under `lock`, which a caller also takes for its other messages on the same
    connection. A connection gone (OSError) ends the loop: the caller learns of it at `stop`."""

    def __init__(self, deliver: Callable[[list], None], name: str, *, every: float = EVERY_S):
        self._deliver, self._every = deliver, every
        self._batch: list = []
        self.lock = threading.Lock()  # the batch, and the connection
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)

    def start(self) -> BatchedSender:
        self._thread.start()
        return self

    def add(self, item) -> None:
        with self.lock:
            self._batch.append(item)

    def flush(self) -> None:
        with self.lock:
            batch, self._batch = self._batch, []
            self._deliver(batch)

    def stop(self) -> None:
        """Deliver what is left; raises OSError if the connection is gone."""
        self._done.set()
        if self._thread.is_alive():
            self._thread.join()
        self.flush()

    def _loop(self) -> None:
        try:
            while not self._done.wait(self._every):
                self.flush()
        except OSError:
            return
