"""A big ticket run in a child process, for the dashboard: its requests, pacing, store writes and
results.xlsx happen there (service/run_child.py), so the Streamlit process keeps its interpreter
(its GIL) for the pages. The links cross only a socket pair to this process, which keeps them in
memory as ever: never on disk. If this process dies, the child stops at once, as a thread would.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection

from commbox_core.config.settings import Settings
from commbox_core.fields import Kind
from commbox_core.runs.results import RowResult, RunReport
from commbox_core.runs.runner import Progress
from commbox_core.service.sandbox_process import child_environment
from commbox_core.tables.read import InputTable
from commbox_core.tickets.prepare import PreparedRow
from commbox_core.vocabulary import RunStatus

# A child costs about 0.3 s to start: runs this small end in a thread before it would have.
PROCESS_MIN_ROWS = 1_000
POLL_S = 0.1  # how often the parent looks for a cancel to pass on while it waits for results


@dataclass
class ChildRun:
    """What the child needs to run the rows (pickled over the socket; it holds the API key, so it
    never goes anywhere else)."""

    settings: Settings
    store: str | None  # the job store's target (a SQLite path or a PostgreSQL URL), or none
    job_id: str
    started_by: str
    role: str | None
    rows: list[PreparedRow]
    kind: Kind
    workbook: InputTable | None = None  # write results.xlsx as rows land, from this table


@dataclass(frozen=True)
class FinishedWorkbook:
    """results.xlsx as the child wrote it while the run went on (a WorkbookStream's stand-in)."""

    data: bytes

    def finish(self, results) -> bytes:
        return self.data


class ProcessRunner:
    """A BulkRunner's face (run, progress, cancel, on_result) over a run in a child process."""

    def __init__(self, child: ChildRun):
        self.child = child
        self.on_result: Callable[[RowResult], None] | None = None
        self.workbook: FinishedWorkbook | None = None
        self._progress = Progress(len(child.rows), 0, 0, 0, 0.0, 0.0, None, 0, RunStatus.QUEUED)
        self._results: dict[int, RowResult] = {}
        self._cancel = threading.Event()

    def cancel(self) -> None:
        self._cancel.set()  # passed on by run()'s thread: a connection is not for two threads

    def progress(self) -> Progress:
        return self._progress

    def run(self, rows, kind) -> RunReport:
        """Run the child's rows (the same as `rows`) in a child process; blocks until it ends."""
        ours, theirs = socket.socketpair()
        with theirs:
            process = subprocess.Popen(
                [sys.executable, "-m", "commbox_core.service.run_child", str(theirs.fileno())],
                pass_fds=(theirs.fileno(),), env=child_environment(), stdin=subprocess.DEVNULL,
            )
        connection = Connection(ours.detach())
        try:
            connection.send(self.child)
            return self._follow(connection, process)
        finally:
            connection.close()  # the child, if still there, sees the end and stops
            process.wait()

    def _follow(self, connection: Connection, process: subprocess.Popen) -> RunReport:
        asked = False
        while True:
            if self._cancel.is_set() and not asked:
                asked = True
                try:
                    connection.send(("cancel",))
                except OSError:  # the child has just ended: its report is already on its way, or it failed
                    pass
            if not connection.poll(POLL_S):
                continue
            try:
                message = connection.recv()
            except EOFError:
                raise RuntimeError(f"the run's process ended unexpectedly (exit code {process.wait()})") from None
            if message[0] == "results":
                self._progress = message[1]
                for result in message[2]:
                    self._results[result.row] = result
                    self.on_result(result)
            elif message[0] == "done":
                self.workbook = FinishedWorkbook(message[2]) if message[2] is not None else None
                return self._report(message[1])
            else:  # "failed"
                raise RuntimeError(message[1])

    def _report(self, report: RunReport) -> RunReport:
        """The child's report, with the results it sent as rows landed (one per row, by row)."""
        if len(self._results) != len(self.child.rows):
            raise RuntimeError(f"the run's process accounted for {len(self._results)} of {len(self.child.rows)} rows")
        return replace(report, results=[self._results[row] for row in sorted(self._results)])
