"""JobManager: starts runs (of tickets, or of invitation links) in background threads, resumes
stored ones, starts their follow-ups, and finds them again by id. One per process (the dashboard
keeps it in st.cache_resource).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import TypeVar

from commbox_core.api.client import CommBoxClient
from commbox_core.config.settings import Settings
from commbox_core.errors import ConsoleError, RunHeldElsewhere
from commbox_core.fields import Kind
from commbox_core.invitations.issue import InvitationIssuer, check_can_issue
from commbox_core.invitations.options import InvitationOptions
from commbox_core.runs.results import RowResult
from commbox_core.runs.runner import BulkRunner
from commbox_core.service.job_records import job_record, rebuild_prepared, rebuild_table, row_records
from commbox_core.service.jobs import Job
from commbox_core.outputs.lines import workbook_stream
from commbox_core.service.run_process import PROCESS_MIN_ROWS, ChildRun, ProcessRunner, RunProcesses
from commbox_core.service.tenant_link import TenantLink
from commbox_core.service.uploads import UploadRuns, combine
from commbox_core.storage.sent_marks import SentMarks
from commbox_core.storage.store import JobStore
from commbox_core.storage.tenants import TenantBoard
from commbox_core.tables.read import InputTable
from commbox_core.tickets.links import LinkBuilder
from commbox_core.tickets.plan import RunPlan
from commbox_core.tickets.prepare import PreparedRow
from commbox_core.vocabulary import Purpose, RunStatus

MAX_JOBS_KEPT = 50  # finished jobs kept in memory, newest first
CANCEL_POLL_S = 1.0  # how often a server looks whether another asked to cancel one of its runs
KEPT_FILES = 4  # finished uploads' outcome files kept in memory (a 20,000-row one: a few MB)
T = TypeVar("T")


class JobManager:
    """Starts runs in background threads and finds them again by id."""

    def __init__(self, store: JobStore | None = None, *, run_in_process: bool = False):
        """With a store, every job and row outcome is written as it lands, and runs left
        running by a process that is gone are marked interrupted now. `run_in_process`: ticket
        runs of PROCESS_MIN_ROWS rows or more run in a child process (a dashboard's, to keep its
        interpreter for pages)."""
        self._jobs: dict[str, Job] = {}
        self.run_in_process = run_in_process
        self._processes = RunProcesses() if run_in_process else None
        if self._processes is not None:
            self._processes.keep_one_ready()
        self._lock = threading.Lock()
        self.store = store
        self._watching = False  # the thread that applies cancels asked from other servers
        self._uploads: dict[str, UploadRuns] = {}  # first run's id -> its upload, as last combined
        self._kept_files: OrderedDict[tuple, object] = OrderedDict()  # kept_file's, newest last
        if store is not None:
            store.mark_interrupted()

    def kept_file(self, key: tuple, build: Callable[[], T]) -> T:
        """What `build` gives for `key`, built once per process while among the KEPT_FILES last
        asked for: History rebuilt a finished upload's outcomes from the store on every visit
        (every row of every run read, the table and its CSV made again)."""
        with self._lock:
            if key in self._kept_files:
                self._kept_files.move_to_end(key)
                return self._kept_files[key]
        built = build()
        with self._lock:
            self._kept_files[key] = built
            while len(self._kept_files) > KEPT_FILES:
                self._kept_files.popitem(last=False)
        return built

    def close(self) -> None:
        """Let go of the process kept ready for the next big run (runs going on are not stopped)."""
        if self._processes is not None:
            self._processes.close()

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
        invitations: InvitationOptions | None = None,
        role: str | None = None,
        stream_workbook: bool = False,
    ) -> Job:
        """Start a run. The plan, kept in the store, lets a restarted server validate edited rows again;
        each listener is called with every row's result as it lands (from the runner's threads).
        With `invitations`, each valid row gets an invitation link instead of a ticket.
        `stream_workbook`: results.xlsx is written as rows land (the job's outputs use it)."""
        self._check_can_run(settings, kind, invitations)
        job = Job(
            id=uuid.uuid4().hex[:12], kind=kind, table=table, prepared=prepared, runner=None,
            settings=settings, source_name=source_name, started_by=started_by,
            parent_id=parent_id, purpose=Purpose(purpose), plan=plan, store=self.store, listeners=list(listeners),
            invitations=invitations, role=role,
        )
        if self.store is not None:
            self.store.create_job(job_record(job, source_sha256), row_records(table, prepared))
        return self._launch(job, stream_workbook=stream_workbook and invitations is None)

    def resume(self, job_id: str, settings: Settings, *, started_by: str = "", role: str | None = None) -> Job:
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
        invitations = InvitationOptions.from_record(stored.options.get("invitations"))
        self._check_can_run(settings, Kind(stored.kind), invitations)
        if not self.store.claim(job_id):
            raise RunHeldElsewhere(f"job {job_id} is still running (in process {stored.owner_pid} on {stored.owner_host})")
        job = Job(
            id=job_id, kind=Kind(stored.kind), table=rebuild_table(stored, rows), prepared=prepared, runner=None,
            settings=settings, source_name=stored.source_name, started_by=started_by or stored.started_by,
            parent_id=stored.parent_id, purpose=stored.purpose, plan=RunPlan.from_record(stored.plan),
            created_at=stored.created_at, store=self.store, invitations=invitations, role=role,
            to_send=[p for p in prepared if p.row in to_send],
            earlier={row.row: row.result() for row in rows if row.row not in to_send},
            in_doubt_resent=sum(1 for row in rows if row.in_doubt and row.outcome is None),
        )
        return self._launch(job)

    def _check_can_run(self, settings: Settings, kind: Kind, invitations: InvitationOptions | None) -> None:
        """Fail now, in the page or the command, rather than in the background."""
        LinkBuilder(settings).check(kind)  # invitations end in these links too, at the click
        if invitations is not None:
            check_can_issue(settings.public_url, self.store)

    def _launch(self, job: Job, *, stream_workbook: bool = False) -> Job:
        settings = job.settings
        client = CommBoxClient.from_settings(settings)
        rows = job.prepared if job.to_send is None else job.to_send
        if job.invitations is not None:
            job.runner = InvitationIssuer(self.store, settings.public_url, job.invitations, job_id=job.id,
                                          created_by=job.started_by or "cli")
        elif self.run_in_process and len(rows) >= PROCESS_MIN_ROWS:
            job.runner = ProcessRunner(ChildRun(
                settings, str(self.store.target) if self.store is not None else None, job.id, job.started_by,
                job.role, rows, job.kind, job.table if stream_workbook else None), self._processes)
            job.records = False  # the child writes outcomes and audit entries to the store
        else:
            if stream_workbook:
                job.workbook = workbook_stream(job.table, [p.row for p in rows])
                job.listeners.append(job.workbook.add)
            job.runner = BulkRunner(client, LinkBuilder(settings), concurrency=settings.concurrency,
                                    rate_limit=settings.rate_limit)
            if self.store is not None:  # so that a crash leaves the rows in flight in doubt
                job.runner.before_send = SentMarks.of(self.store, job.id, rows, concurrency=settings.concurrency)
        job.runner.on_result = job._collect
        job._thread = threading.Thread(target=self._run, args=(job, client), name=f"job-{job.id}", daemon=True)
        with self._lock:
            self._jobs[job.id] = job
            self._forget_old()
        job._thread.start()
        self._watch_cancels()
        return job

    def request_cancel(self, job_id: str, by: str) -> None:
        """Cancel a run of this process now, or ask the server running it (through the store)."""
        job = self.get(job_id)
        if job is not None and not job.finished:
            job.cancel()
        elif self.store is None:
            raise ConsoleError(f"run {job_id} is not running in this process")
        elif not self.store.request_cancel(job_id, by):
            raise ConsoleError(f"run {job_id} is not running in this process nor on another server sharing its store")

    def _watch_cancels(self) -> None:
        with self._lock:
            if self.store is None or self._watching:
                return
            self._watching = True
        threading.Thread(target=self._apply_cancels, name="cancel-watch", daemon=True).start()

    def _apply_cancels(self) -> None:
        """Until this process runs nothing: cancel the runs another server asked to cancel."""
        while True:
            time.sleep(CANCEL_POLL_S)
            with self._lock:
                running = [job for job in self._jobs.values() if not job.finished]
                if not running:
                    self._watching = False  # the next run launched starts a new watcher
                    return
            try:
                asked = self.store.cancels_requested([job.id for job in running])
            except Exception:  # noqa: BLE001 - a store that is down now may be back at the next look
                continue
            for job in running:
                if job.id in asked:
                    job.cancel()

    def _run(self, job: Job, client: CommBoxClient) -> None:
        link = None
        try:
            if self.store is not None:
                self.store.set_status(job.id, RunStatus.RUNNING)
                if isinstance(job.runner, BulkRunner):  # runs on one tenant share its limit
                    link = TenantLink(TenantBoard(self.store), job.settings.api_host, job.id, job.runner.pacer).start()
            report = job.runner.run(job.prepared if job.to_send is None else job.to_send, job.kind)
            if isinstance(job.runner, ProcessRunner):
                job.workbook = job.runner.workbook  # before the report: outputs are built once it is there
            if job.earlier:  # a resumed job reports on every row, old outcomes included
                merged = {**job.earlier, **{r.row: r for r in report.results}}
                report.results = [merged[row] for row in sorted(merged)]
            job.report = report
        except Exception as exc:  # noqa: BLE001 - a background thread must report, never vanish
            job.error = f"the run stopped unexpectedly: {type(exc).__name__}"
        finally:
            if link is not None:
                link.stop()
            client.close()
            if self.store is not None:
                self.store.set_status(job.id, job.status, job.error)
                self.store.flush()

    def retry_failed(self, job: Job | UploadRuns, *, started_by: str, role: str | None = None) -> Job:
        """A new job for the rows whose error may change on retry."""
        retryable = {r.row for r in job.results() if r.retryable}
        return self._child(job, [p for p in job.prepared if p.row in retryable], Purpose.RETRY, started_by, role=role)

    def resend(self, job: Job | UploadRuns, table: InputTable, rows: list[PreparedRow], *, started_by: str, role: str | None = None) -> Job:
        """A new job for rows edited after the run (validated again with the run's plan)."""
        return self._child(job, rows, Purpose.RESEND, started_by, table=table, role=role)

    def reissue_expired(self, job: Job | UploadRuns, *, now: datetime | None = None, started_by: str, role: str | None = None) -> Job:
        """A new job for the rows whose links have expired (tokens are short-lived)."""
        now = now or datetime.now(UTC)
        expired = {r.row for r in job.results() if r.ok and r.expires_at and r.expires_at <= now}
        return self._child(job, [p for p in job.prepared if p.row in expired], Purpose.REISSUE, started_by, role=role)

    def reissue_lost(self, job: Job, *, started_by: str = "", role: str | None = None) -> Job:
        """A new job for the rows that got a ticket in a process that is gone: their links
        were never kept, so the only way to hand them out is to ask again."""
        lost = {r.row for r in job.results() if r.ok and not r.url}
        return self._child(job, [p for p in job.prepared if p.row in lost], Purpose.REISSUE, started_by, role=role)

    def reissue_stored(self, job_id: str, settings: Settings, *, started_by: str, role: str | None = None) -> Job:
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
            invitations=InvitationOptions.from_record(stored.options.get("invitations")), role=role,
        )

    def _stored(self, job_id: str):
        if self.store is None:
            raise ConsoleError("this needs the job store")
        return self.store.job(job_id), self.store.rows(job_id)

    def _child(self, job: Job | UploadRuns, rows: list[PreparedRow], purpose: Purpose, started_by: str,
               table: InputTable | None = None, role: str | None = None) -> Job:
        if not rows:
            raise ConsoleError(f"no rows to {purpose}")
        return self.start(
            job.settings, table if table is not None else job.table, rows, job.kind, source_name=job.source_name,
            started_by=started_by, parent_id=job.id, purpose=purpose, plan=job.plan, invitations=job.invitations,
            role=role,
        )

    def upload_family(self, job: Job, visible: Callable[[Job], bool]) -> list[Job]:
        """The runs of the upload `job` belongs to that `visible` lets through: its first run (the
        oldest held here), then every follow-up of it and of its follow-ups, oldest first."""
        root = job
        while root.parent_id and (parent := self.get(root.parent_id)) is not None and visible(parent):
            root = parent
        jobs = self.list()
        family, frontier = [root], {root.id}
        while frontier:
            children = [j for j in jobs if j.parent_id in frontier and visible(j)]
            family.extend(children)
            frontier = {j.id for j in children}
        return [root, *sorted(family[1:], key=lambda j: j.created_at)]

    def upload(self, runs: list[Job]) -> UploadRuns:
        """Finished runs (a first run, then its follow-ups oldest first) as one upload: combined
        once per set of runs, its results.xlsx started at once in the background (the slow file)."""
        with self._lock:
            known = self._uploads.get(runs[0].id)
        if known is not None and [run.id for run in known.runs] == [run.id for run in runs]:
            return known
        upload = combine(runs)
        upload.outputs.build_soon("results.xlsx")
        with self._lock:
            self._uploads[upload.id] = upload
        return upload

    def _forget_old(self) -> None:
        finished = [j for j in sorted(self._jobs.values(), key=lambda j: j.created_at) if j.finished]
        for job in finished[: max(0, len(self._jobs) - MAX_JOBS_KEPT)]:
            del self._jobs[job.id]
            self._uploads.pop(job.id, None)
