"""A background job: a bulk run living in the server process, not in a page's script thread.
Its result tables (pandas) are imported when first asked for, so a run starts without them.

A page starts one (service/manager.py), keeps its id, and polls `job.progress()`; refreshing or
leaving the page loses nothing. Tokens live only in memory, inside each job's RowResults.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING

from commbox_core.config.settings import Settings
from commbox_core.errors import ConsoleError
from commbox_core.fields import Kind
from commbox_core.invitations.options import InvitationOptions
from commbox_core.runs.results import RowResult, RunReport
from commbox_core.runs.runner import BulkRunner, Progress
from commbox_core.service.job_records import record_row
from commbox_core.storage.audit import CLI_USER
from commbox_core.storage.store import JobStore
from commbox_core.tables.read import InputTable
from commbox_core.tickets.plan import RunPlan
from commbox_core.tickets.prepare import PreparedRow
from commbox_core.vocabulary import ErrorCode, Purpose, RunStatus

if TYPE_CHECKING:
    import pandas as pd

    from commbox_core.outputs.downloads import JobOutputs


@dataclass
class Job:
    id: str
    kind: Kind
    table: InputTable  # the rows' original headers and values
    prepared: list[PreparedRow]
    runner: BulkRunner  # or an InvitationIssuer, for a run of invitations
    settings: Settings
    source_name: str = ""
    started_by: str = ""
    role: str | None = None  # the role it was started under (for the audit log)
    parent_id: str | None = None
    purpose: Purpose = Purpose.RUN
    plan: RunPlan | None = None  # how the rows were read: to validate edited rows again
    invitations: InvitationOptions | None = None  # a run of invitation links instead of tickets
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    report: RunReport | None = None
    error: str | None = None  # the run could not go on (shown to the user)
    store: JobStore | None = field(default=None, repr=False)
    # A resumed job: the rows to send now (None: all of `prepared`), and the outcomes an earlier
    # process already stored (without URLs: their tokens died with that process).
    to_send: list[PreparedRow] | None = field(default=None, repr=False)
    earlier: dict[int, RowResult] = field(default_factory=dict, repr=False)
    in_doubt_resent: int = 0  # of to_send: rows in flight when the run's last server died
    _thread: threading.Thread | None = field(default=None, repr=False)
    _live: dict[int, RowResult] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _outcomes: tuple | None = field(default=None, repr=False)
    listeners: list = field(default_factory=list, repr=False)  # called with each row's result as it lands
    records: bool = field(default=True, repr=False)  # False: its runner's process writes outcomes and audit itself
    workbook: object | None = field(default=None, repr=False)  # a WorkbookStream fed as rows land, if any

    @property
    def status(self) -> RunStatus:
        if self.error:
            return RunStatus.FAILED
        if self.report is None:
            return RunStatus.RUNNING if self._thread and self._thread.is_alive() else RunStatus.QUEUED
        return self.report.status

    @property
    def finished(self) -> bool:
        return self.report is not None or self.error is not None

    def progress(self) -> Progress:
        progress = self.runner.progress()
        if progress.state is RunStatus.QUEUED:  # its thread not at the rows yet: not "0 of 0 rows"
            progress = replace(progress, total=len(self.prepared if self.to_send is None else self.to_send))
        return progress

    def cancel(self) -> None:
        self.runner.cancel()

    def wait(self, timeout: float | None = None) -> bool:
        """True once the run has ended and its thread with it: its status is then in the store.
        (The report comes first; a command that exited on it could leave its run "running".)"""
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                return False
        return self.finished

    def wait_for_first_request(self, timeout: float = 1.0) -> None:
        """Until the run's first request has left (or the run ended without one), at most `timeout`
        seconds: a caller can then spend the GIL on its own start-up without delaying it. A run of
        invitations sends nothing and is not waited for."""
        first_sent = getattr(self.runner, "first_sent", None)
        if first_sent is not None:
            first_sent.wait(timeout)

    def follow(self, update: Callable[[Progress], None], *, every: float = 0.2,
               cancelling: Callable[[], None] = lambda: None) -> None:
        """Wait for the run, calling `update` with its progress every `every` seconds and once at
        the end. Ctrl-C cancels it (after `cancelling`) and waits for the requests in flight."""
        try:
            while not self.wait(every):
                update(self.progress())
        except KeyboardInterrupt:
            cancelling()
            self.cancel()
            self.wait()
        update(self.progress())

    def counts(self) -> tuple[int, int, int]:
        """(rows, succeeded, failed) so far; a resumed run counts its outcomes from before the restart."""
        total = len(self.prepared)
        if self.report is not None:
            summary = self.report.summary()
            return total, summary["succeeded"], summary["failed"]
        progress = self.progress()
        earlier_ok = sum(r.ok for r in self.earlier.values())
        return total, progress.ok + earlier_ok, progress.failed + len(self.earlier) - earlier_ok

    def not_sent(self) -> int:
        """Of the failed rows, those never sent (a cancel, a stop): they are filled in at the end."""
        if self.report is not None:
            return self.report.summary()["not_sent"]
        return sum(1 for r in self.earlier.values() if r.error_code is ErrorCode.NOT_ATTEMPTED)

    def results(self) -> list[RowResult]:
        """Results so far (all of them once finished), ordered by row."""
        if self.report is not None:
            return self.report.results
        with self._lock:
            merged = {**self.earlier, **self._live}
        return [merged[row] for row in sorted(merged)]

    def _collect(self, result: RowResult) -> None:
        with self._lock:
            self._live[result.row] = result
        for listener in self.listeners:
            listener(result)
        if self.store is not None and self.records:
            record_row(self.store, self.id, result, self._requests.get(result.row), user=self.started_by or CLI_USER,
                       tenant_host=self.settings.api_host, role=self.role)

    @cached_property
    def _requests(self) -> dict:
        return {p.row: p.request for p in self.prepared if p.request is not None}

    def outcome_file(self) -> tuple[pd.DataFrame, bytes]:
        """Outcomes without links, as a table and as CSV; built once when the run has finished."""
        from commbox_core.outputs.files import to_csv_bytes
        from commbox_core.outputs.views import outcome_frame, subject_by_row

        if self._outcomes is not None:
            return self._outcomes
        frame = outcome_frame(self.results(), subject_by_row(self.table, self.prepared, self.kind), self.table)
        made = (frame, to_csv_bytes(frame))
        if self.finished:
            self._outcomes = made
        return made

    @cached_property
    def outputs(self) -> JobOutputs:
        """The downloads, each built on first use and once (see outputs/downloads.py)."""
        from commbox_core.outputs.downloads import JobOutputs

        if self.report is None:
            raise ConsoleError("the run has not finished yet")
        return JobOutputs(self.table, self.report, workbook=self.workbook)
