"""Runs that survive their server. A run's server renews its lease (the store's heartbeat); when
the server dies (SIGKILL, a lost host), a sweep here finds the run once the lease has lapsed (at
once when the dead process was on this host), and this process finishes it: the rows never
answered and the rows in doubt are sent, no row that was answered is sent again. Any number of
processes may sweep one store: taking a run over is one conditional UPDATE, so one of them wins.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from commbox_core.errors import ConsoleError, RunHeldElsewhere
from commbox_core.service.console import Console
from commbox_core.service.jobs import Job

# A run interrupted longer ago than this is left for a person (History's Resume, `jobs resume`):
# a worker started days later should not send old tickets nobody is waiting for.
TAKEOVER_WINDOW_S = 3600.0
TAKEOVER_USER = "takeover"  # the audit log's user for rows a dashboard sends for a dead server's run
_log = logging.getLogger(__name__)


class Takeover:
    def __init__(self, console: Console, *, window_s: float = TAKEOVER_WINDOW_S,
                 say: Callable[[str], None] = lambda text: None):
        if console.store is None:
            raise ConsoleError("taking runs over needs the job store")
        self.console, self.window_s, self._say = console, window_s, say
        self._passed: set[str] = set()  # runs this process cannot finish (another tenant, nothing to send)

    def sweep(self) -> list[Job]:
        """Take over every run whose server is gone; the jobs now running here."""
        store = self.console.store
        store.mark_interrupted()
        since = datetime.now(UTC) - timedelta(seconds=self.window_s)
        taken = []
        for job_id in store.interrupted_since(since):
            if job_id in self._passed:
                continue
            try:
                job = self.console.resume(job_id)
            except RunHeldElsewhere:  # a race lost to another server is not news
                continue
            except ConsoleError as exc:
                self._passed.add(job_id)
                self._say(f"job {job_id} left for a person: {exc}")
                continue
            self._say(f"took over job {job_id}: {len(job.to_send or [])} rows to send, "
                      f"{job.in_doubt_resent} of them in doubt (sent, or about to be, when its server stopped)")
            taken.append(job)
        return taken


class TakeoverLoop:
    """A dashboard's share of the workers' job: a sweep every `every` seconds, in a thread, until
    stopped. A sweep that fails (the store down a moment) is tried again at the next look."""

    def __init__(self, console: Console, every: float):
        self.takeover = Takeover(console, say=_log.info)
        self.every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="takeover", daemon=True)

    def start(self) -> TakeoverLoop:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.takeover.sweep()
            except Exception as exc:  # noqa: BLE001 - never the message: it may name the store's URL
                _log.warning("taking runs over failed this time (%s)", type(exc).__name__)
            self._stop.wait(self.every)
