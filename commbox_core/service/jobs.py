"""Background jobs: a bulk run lives in the server process, not in a page's script thread.

One JobManager per process (the dashboard keeps it in st.cache_resource). A page starts a
job, keeps its id, and polls `job.progress()`; refreshing or leaving the page loses nothing.
Tokens live only in memory, inside each job's RowResults.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property

import pandas as pd

from commbox_core.api.client import CommBoxClient
from commbox_core.config.settings import Settings
from commbox_core.errors import ConsoleError
from commbox_core.fields import Kind
from commbox_core.outputs.downloads import JobOutputs
from commbox_core.outputs.files import to_csv_bytes
from commbox_core.outputs.views import outcome_frame, subject_by_row
from commbox_core.runs.results import RowResult, RunReport
from commbox_core.runs.runner import BulkRunner, Progress
from commbox_core.service.job_records import job_record, rebuild_prepared, rebuild_table, row_records
from commbox_core.storage.audit import CLI_USER, audit_ticket
from commbox_core.storage.store import JobStore
from commbox_core.tables.read import InputTable
from commbox_core.tickets.links import LinkBuilder
from commbox_core.tickets.plan import RunPlan
from commbox_core.tickets.prepare import PreparedRow
from commbox_core.vocabulary import Purpose, RunStatus

MAX_JOBS_KEPT = 50  # finished jobs kept in memory, newest first


@dataclass
class Job:
    id: str
    kind: Kind
    table: InputTable  # the rows' original headers and values
    prepared: list[PreparedRow]
    runner: BulkRunner
    settings: Settings
    source_name: str = ""
    started_by: str = ""
    parent_id: str | None = None
    purpose: Purpose = Purpose.RUN
    plan: RunPlan | None = None  # how the rows were read: to validate edited rows again
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    report: RunReport | None = None
    error: str | None = None  # the run could not go on (shown to the user)
    store: JobStore | None = field(default=None, repr=False)
    # A resumed job: the rows to send now (None: all of `prepared`), and the outcomes an earlier
    # process already stored (without URLs: their tokens died with that process).
    to_send: list[PreparedRow] | None = field(default=None, repr=False)
    earlier: dict[int, RowResult] = field(default_factory=dict, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)
    _live: dict[int, RowResult] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _outcomes: tuple | None = field(default=None, repr=False)
    listeners: list = field(default_factory=list, repr=False)  # called with each row's result as it lands

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
        return self.runner.progress()

    def cancel(self) -> None:
        self.runner.cancel()

    def wait(self, timeout: float | None = None) -> bool:
        if self._thread is not None:
            self._thread.join(timeout)
        return self.finished

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
        if self.store is not None:
            self.store.record_result(self.id, result)
            request = self._requests.get(result.row)
            if request is not None:
                audit_ticket(self.store, self.started_by or CLI_USER, self.settings.api_host, request, result, self.id)

    @cached_property
    def _requests(self) -> dict:
        return {p.row: p.request for p in self.prepared if p.request is not None}

    def outcome_file(self) -> tuple[pd.DataFrame, bytes]:
        """Outcomes without links, as a table and as CSV; built once when the run has finished."""
        if self._outcomes is not None:
            return self._outcomes
        frame = outcome_frame(self.results(), subject_by_row(self.table, self.prepared, self.kind))
        made = (frame, to_csv_bytes(frame))
        if self.finished:
            self._outcomes = made
        return made

    @cached_property
    def outputs(self) -> JobOutputs:
        """The downloads, each built on first use and once (see outputs.py)."""
        if self.report is None:
            raise ConsoleError("the run has not finished yet")
        return JobOutputs(self.table, self.report)


class JobManager:
    """Starts runs in background threads and finds them again by id."""

    def __init__(self, store: JobStore | None = None):
        """With a store, every job and row outcome is written as it lands, and runs left
        running by a process that is gone are marked interrupted now."""
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self.store = store
        if store is not None:
            store.mark_interrupted()

    def get(self, job_id: str | None) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id or "")

    def list(self) -> list[Job]:
        with self._lock:
            return sorted(self._jobs.values(), key=lambda j: j.created_at, reverse=True)

    def start(
        self,
        settings: Settings,
        table,
        prepared: list[PreparedRow],
        kind: Kind,
        *,
        source_name: str = "",
        started_by: str = "",
        parent_id: str | None = None,
        purpose: Purpose = Purpose.RUN,
        source_sha256: str = "",
        plan: RunPlan | None = None,
        listeners: Iterable[Callable[[RowResult], None]] = (),
    ) -> Job:
        """Start a run. The plan, kept in the store, lets a restarted server validate edited rows again;
        each listener is called with every row's result as it lands (from the runner's threads)."""
        links = LinkBuilder(settings)
        links.check(kind)  # fail now, in the page, rather than in the background
        job = Job(
            id=uuid.uuid4().hex[:12], kind=kind, table=table, prepared=prepared, runner=None,
            settings=settings, source_name=source_name, started_by=started_by,
            parent_id=parent_id, purpose=Purpose(purpose), plan=plan, store=self.store, listeners=list(listeners),
        )
        if self.store is not None:
            self.store.create_job(job_record(job, source_sha256), row_records(table, prepared))
        return self._launch(job)

    def resume(self, job_id: str, settings: Settings, *, started_by: str = "") -> Job:
        """Go on with a stored job that did not finish: send only the rows never answered or
        whose error may change on retry. Rows that got a ticket are never sent again."""
        if self.store is None:
            raise ConsoleError("resuming needs the job store")
        stored = self.store.job(job_id)
        rows = self.store.rows(job_id)
        to_send = {row.row for row in rows if row.needs_sending}
        if not to_send:
            raise ConsoleError(f"job {job_id} has no rows left to send")
        if not settings.sandbox and settings.api_host != stored.tenant_host:  # a sandbox's port may change
            raise ConsoleError(f"job {job_id} ran against {stored.tenant_host}, not {settings.api_host}")
        prepared = rebuild_prepared(stored, rows)
        LinkBuilder(settings).check(Kind(stored.kind))
        if not self.store.claim(job_id):
            raise ConsoleError(f"job {job_id} is still running (in process {stored.owner_pid} on {stored.owner_host})")
        job = Job(
            id=job_id, kind=Kind(stored.kind), table=rebuild_table(stored, rows), prepared=prepared, runner=None,
            settings=settings, source_name=stored.source_name, started_by=started_by or stored.started_by,
            parent_id=stored.parent_id, purpose=stored.purpose, plan=RunPlan.from_record(stored.plan),
            created_at=stored.created_at, store=self.store,
            to_send=[p for p in prepared if p.row in to_send],
            earlier={row.row: row.result() for row in rows if row.row not in to_send},
        )
        return self._launch(job)

    def _launch(self, job: Job) -> Job:
        settings = job.settings
        client = CommBoxClient.from_settings(settings)
        job.runner = BulkRunner(client, LinkBuilder(settings), concurrency=settings.concurrency,
                                rate_limit=settings.rate_limit)
        job.runner.on_result = job._collect
        job._thread = threading.Thread(target=self._run, args=(job, client), name=f"job-{job.id}", daemon=True)
        with self._lock:
            self._jobs[job.id] = job
            self._forget_old()
        job._thread.start()
        return job

    def _run(self, job: Job, client: CommBoxClient) -> None:
        try:
            if self.store is not None:
                self.store.set_status(job.id, RunStatus.RUNNING)
            report = job.runner.run(job.prepared if job.to_send is None else job.to_send, job.kind)
            if job.earlier:  # a resumed job reports on every row, old outcomes included
                merged = {**job.earlier, **{r.row: r for r in report.results}}
                report.results = [merged[row] for row in sorted(merged)]
            job.report = report
        except Exception as exc:  # noqa: BLE001 - a background thread must report, never vanish
            job.error = f"the run stopped unexpectedly: {type(exc).__name__}"
        finally:
            client.close()
            if self.store is not None:
                self.store.set_status(job.id, job.status, job.error)
                self.store.flush()

    def retry_failed(self, job: Job, *, started_by: str) -> Job:
        """A new job for the rows whose error may change on retry."""
        retryable = {r.row for r in job.results() if r.retryable}
        return self._child(job, [p for p in job.prepared if p.row in retryable], Purpose.RETRY, started_by)

    def resend(self, job: Job, table: InputTable, rows: list[PreparedRow], *, started_by: str) -> Job:
        """A new job for rows edited after the run (validated again with the run's plan)."""
        return self._child(job, rows, Purpose.RETRY, started_by, table=table)

    def reissue_expired(self, job: Job, *, now: datetime | None = None, started_by: str) -> Job:
        """A new job for the rows whose links have expired (tokens are short-lived)."""
        now = now or datetime.now(UTC)
        expired = {r.row for r in job.results() if r.ok and r.expires_at and r.expires_at <= now}
        return self._child(job, [p for p in job.prepared if p.row in expired], Purpose.REISSUE, started_by)

    def reissue_lost(self, job: Job, *, started_by: str = "") -> Job:
        """A new job for the rows that got a ticket in a process that is gone: their links
        were never kept, so the only way to hand them out is to ask again."""
        lost = {r.row for r in job.results() if r.ok and not r.url}
        return self._child(job, [p for p in job.prepared if p.row in lost], Purpose.REISSUE, started_by)

    def reissue_stored(self, job_id: str, settings: Settings, *, started_by: str) -> Job:
        """A new run for the rows of a stored run that got a ticket: their links were never kept."""
        stored, rows = self._stored(job_id)
        lost = {row.row for row in rows if row.outcome == "ok"}
        if not lost:
            raise ConsoleError(f"job {stored.id} has no rows with a ticket to re-issue")
        prepared = [p for p in rebuild_prepared(stored, rows) if p.row in lost and p.request is not None]
        return self.start(
            settings, rebuild_table(stored, rows), prepared, Kind(stored.kind), source_name=stored.source_name,
            started_by=started_by, parent_id=stored.id, purpose=Purpose.REISSUE,
            source_sha256=stored.source_sha256, plan=RunPlan.from_record(stored.plan),
        )

    def _stored(self, job_id: str):
        if self.store is None:
            raise ConsoleError("this needs the job store")
        return self.store.job(job_id), self.store.rows(job_id)

    def _child(self, job: Job, rows: list[PreparedRow], purpose: Purpose, started_by: str,
               table: InputTable | None = None) -> Job:
        if not rows:
            raise ConsoleError(f"no rows to {purpose}")
        return self.start(
            job.settings, table if table is not None else job.table, rows, job.kind, source_name=job.source_name,
            started_by=started_by, parent_id=job.id, purpose=purpose, plan=job.plan,
        )

    def _forget_old(self) -> None:
        finished = [j for j in sorted(self._jobs.values(), key=lambda j: j.created_at) if j.finished]
        for job in finished[: max(0, len(self._jobs) - MAX_JOBS_KEPT)]:
            del self._jobs[job.id]
