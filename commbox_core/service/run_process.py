"""A big ticket run in a child process, for the dashboard: its requests, pacing, store writes and
results.xlsx happen there (service/run_child.py), so the Streamlit process keeps its interpreter
(its GIL) for the pages. The links cross only a socket pair to this process, which keeps them in
memory as ever: never on disk. If this process dies, the child stops at once, as a thread would.
"""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection

from commbox_core.config.settings import Settings
from commbox_core.fields import Kind
from commbox_core.runs.results import RowResult, RunReport
from commbox_core.runs.runner import Progress
from commbox_core.service.sandbox_process import start_with_socket
from commbox_core.tables.read import InputTable
from commbox_core.tickets.prepare import PreparedRow
from commbox_core.vocabulary import RunStatus

# A child costs about 0.3 s to start: runs this small end in a thread before it would have.
PROCESS_MIN_ROWS = 1_000
POLL_S = 0.1  # how often the parent looks for a cancel to pass on while it waits for results
WORKBOOK_WAIT_S = 120.0  # results.xlsx of 100,000 rows is zipped in 2-3 s


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
class RunProcess:
    """A child process for one run, and the parent's end of its socket."""

    connection: Connection
    process: subprocess.Popen

    @classmethod
    def start(cls) -> RunProcess:
        return cls(*start_with_socket("commbox_core.service.run_child"))

    def alive(self) -> bool:
        return self.process.poll() is None

    def end(self) -> None:
        self.connection.close()  # the child, if still there, sees the end and stops
        self.process.wait()


class RunProcesses:
    """Where runs get their process: one is started ahead and waits, imported, for the next run,
    so the 0.3-0.5 s a process takes to start is paid before the click rather than after it."""

    def __init__(self) -> None:
        self._spare: RunProcess | None = None
        self._lock = threading.Lock()
        self._closed = False

    def keep_one_ready(self) -> None:
        with self._lock:
            if not self._closed and (self._spare is None or not self._spare.alive()):
                self._spare = RunProcess.start()

    def take(self) -> RunProcess:
        with self._lock:
            spare, self._spare = self._spare, None
        return spare if spare is not None and spare.alive() else RunProcess.start()

    def close(self) -> None:
        """No more processes ahead (a run that is ending will not start one); the waiting one goes."""
        with self._lock:
            spare, self._spare, self._closed = self._spare, None, True
        if spare is not None:
            spare.end()


class ComingWorkbook:
    """results.xlsx as the child wrote it while the run went on (a WorkbookStream's stand-in). It
    comes after the run's report: the child zips it while the run already shows as ended."""

    def __init__(self) -> None:
        self._data: bytes | None = None
        self._ready = threading.Event()

    def put(self, data: bytes | None) -> None:
        self._data = data
        self._ready.set()

    def finish(self, results) -> bytes | None:
        """The workbook; None if the child could not write it (the outputs build it then)."""
        self._ready.wait(WORKBOOK_WAIT_S)
        return self._data


class ProcessRunner:
    """A BulkRunner's face (run, progress, cancel, on_result) over a run in a child process."""

    def __init__(self, child: ChildRun, processes: RunProcesses | None = None):
        """`processes`: where to take the child process from (and to keep one ready for the next
        run); without, a process is started for this run alone."""
        self.child = child
        self._processes = processes
        self.on_result: Callable[[RowResult], None] | None = None
        self.workbook: ComingWorkbook | None = None
        self._progress = Progress(len(child.rows), 0, 0, 0, 0.0, 0.0, None, 0, RunStatus.QUEUED)
        self._results: dict[int, RowResult] = {}
        self._cancel = threading.Event()

    def cancel(self) -> None:
        self._cancel.set()  # passed on by run()'s thread: a connection is not for two threads

    def progress(self) -> Progress:
        return self._progress

    def run(self, rows, kind) -> RunReport:
        """Run the child's rows (the same as `rows`) in a child process; blocks until it ends."""
        started = self._processes.take() if self._processes is not None else RunProcess.start()
        try:
            started.connection.send(self.child)
            return self._follow(started.connection, started.process)
        finally:  # the run has ended for its job now; the rest needs no one to wait
            threading.Thread(target=self._let_go, args=(started,), name="run-process-end", daemon=True).start()

    def _let_go(self, started: RunProcess) -> None:
        """Take results.xlsx if one is coming, end the child, and have a process ready for the next run."""
        if self.workbook is not None:
            try:
                message = started.connection.recv() if started.connection.poll(WORKBOOK_WAIT_S) else None
            except (EOFError, OSError):
                message = None
            self.workbook.put(message[1] if message is not None and message[0] == "workbook" else None)
        started.end()
        if self._processes is not None:
            self._processes.keep_one_ready()

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
                self.workbook = ComingWorkbook() if self.child.workbook is not None else None
                return self._report(message[1])
            else:  # "failed"
                raise RuntimeError(message[1])

    def _report(self, report: RunReport) -> RunReport:
        """The child's report, with the results it sent as rows landed (one per row, by row)."""
        if len(self._results) != len(self.child.rows):
            raise RuntimeError(f"the run's process accounted for {len(self._results)} of {len(self.child.rows)} rows")
        return replace(report, results=[self._results[row] for row in sorted(self._results)])
