"""Console: the one application service. The dashboard, the CLI and a notebook call it to read
a file, issue one ticket, start, follow, cancel, resume, retry, re-issue and export runs, and to
look up history and the audit log. It takes the acting user, so every entry point audits alike.

A Console is cheap: the dashboard makes one per page run over a JobManager it shares across
sessions (`Console(settings, jobs=shared, user=...)`); the CLI and a notebook open one with
`Console.open()`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from commbox_core.access import RULES, Action, PermissionDenied, Role, allowed
from commbox_core.api.client import CommBoxClient
from commbox_core.api.probe import ConnectionVerdict, connection_probe, explain_probe
from commbox_core.config.settings import Settings
from commbox_core.errors import ConsoleError, InputFileError
from commbox_core.fields import Kind
from commbox_core.invitations.options import InvitationOptions
from commbox_core.invitations.redeem import Redeemer
from commbox_core.runs.results import RowResult, estimated_rate
from commbox_core.runs.runner import issue_ticket
from commbox_core.service.job_records import sha256_of
from commbox_core.service.jobs import Job
from commbox_core.service.manager import JobManager
from commbox_core.service.records import RunRecords
from commbox_core.service.uploads import UploadRuns
from commbox_core.storage.audit import CLI_USER, AuditEntry, audit, audit_ticket
from commbox_core.storage.store import JobStore, default_store
from commbox_core.tables.columns import ColumnMatch, check_columns, match_columns
from commbox_core.tables.edits import rows_of
from commbox_core.tables.encodings import is_workbook, read_local_file
from commbox_core.tables.read import InputTable, read_table
from commbox_core.tables.workbook import sheet_names
from commbox_core.tickets.links import LinkBuilder
from commbox_core.tickets.plan import RunPlan
from commbox_core.tickets.prepare import PreparedRow, prepare_rows
from commbox_core.tickets.request import TicketRequest

if TYPE_CHECKING:
    import pandas as pd

    from commbox_core.service.batch import RunResult
    from commbox_core.service.invites import Invitations


@dataclass(frozen=True)
class Upload:
    """A file read for a run: its table (every value text, as given) and its bytes' hash."""

    table: InputTable
    sha256: str
    sheets: tuple[str, ...] = ()  # an Excel workbook's worksheets (the table is one of them)


class Console(RunRecords):
    def __init__(self, settings: Settings, *, jobs: JobManager | None = None, store: JobStore | None = None,
                 user: str = CLI_USER, role: Role = Role.ADMIN):
        self.settings = settings
        self.jobs = jobs if jobs is not None else JobManager(store)
        self.user = user
        self.role = Role(role)
        self._owned_sandbox = None  # a sandbox this console started, stopped by close()

    @classmethod
    def open(cls, settings: Settings, *, db: Path | str | None = None, user: str = CLI_USER,
             use_store: bool = True, role: Role = Role.ADMIN, run_in_process: bool = False) -> Console:
        """A console over the job store at `db` (a SQLite path or a postgresql:// URL; default: default_store), with the
        retention period applied; use_store=False keeps runs in memory only. `run_in_process`: big
        ticket runs go to a child process (see service/run_process.py), as a dashboard wants."""
        store = None
        if use_store:
            store = JobStore(db or default_store(settings), lease_s=settings.lease_seconds)
            store.apply_retention(settings.retention_days)
        return cls(settings, jobs=JobManager(store, run_in_process=run_in_process), user=user, role=role)

    def acting_as(self, user: str, settings: Settings | None = None, role: Role | None = None) -> Console:
        """The same runs and store, for another user (or other settings, or another role)."""
        return Console(settings or self.settings, jobs=self.jobs, user=user, role=role or self.role)

    # ---- roles (commbox_core.access) -----------------------------------------------------------
    def can(self, action: Action, *, owner: str | None = None) -> bool:
        """Whether this console's role may take `action` (on a run started by `owner`)."""
        return allowed(self.role, action, owner=owner, user=self.user)

    def require(self, action: Action, *, owner: str | None = None) -> None:
        """Raise PermissionDenied, audited as refused, unless the role may take `action`."""
        if self.can(action, owner=owner):
            return
        audit(self.store, [AuditEntry(self.user, self.settings.api_host, "", "refused", action=str(action),
                                      role=str(self.role))], now=True)
        detail = " of runs started by others" if self.role in RULES[action] else ""
        raise PermissionDenied(self.role, action, detail)

    @property
    def store(self) -> JobStore | None:
        return self.jobs.store

    @property
    def invitations(self) -> Invitations:
        """Issue one, list, revoke, re-send (see service/invites.py)."""
        from commbox_core.service.invites import Invitations

        return Invitations(self)

    @classmethod
    def sandbox(cls, *, db: Path | str | None = None, user: str = "notebook") -> Console:
        """A console on its own in-process sandbox (no API key needed), for notebooks and trials;
        runs are kept in memory unless `db` names a job store. close() stops the sandbox."""
        from commbox_core.config.settings import load_settings
        from commbox_core.service.backends import on_sandbox, start_sandbox

        server = start_sandbox()
        settings = on_sandbox(load_settings(), server)
        console = cls.open(settings, db=db, user=user, use_store=db is not None)
        console._owned_sandbox = server
        return console

    def close(self) -> None:
        self.jobs.close()
        if self.store is not None:
            self.store.close()
        if self._owned_sandbox is not None:
            self._owned_sandbox.stop()
            self._owned_sandbox = None

    def __enter__(self) -> Console:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def issue(self, source, kind: Kind | str, **options) -> RunResult:
        """Tickets for every row of a DataFrame or a CSV path, waited for; see service.batch.issue."""
        from commbox_core.service.batch import issue

        self.require(Action.ISSUE)
        return issue(self, source, kind, **options)

    def runs(self, limit: int = 200) -> pd.DataFrame:
        """Past runs, newest first (the store's, with live figures for this process's runs)."""
        from commbox_core.outputs.history import history_frame

        self.require(Action.READ_HISTORY)
        if self.store is None:
            return history_frame(self.jobs.list(), datetime.now(UTC))
        return self.history_frame(limit)

    # ---- input ---------------------------------------------------------------------------
    def read_upload(self, data: bytes, filename: str, sheet: str | None = None) -> Upload:
        """Bytes of a CSV file or an Excel workbook (its first sheet, or `sheet`) -> its table, within
        the configured bounds. Raises InputFileError with a message for the user."""
        table = read_table(data, filename=filename, max_bytes=self.settings.max_upload_bytes,
                           max_rows=self.settings.max_rows, sheet=sheet)
        return Upload(table, sha256_of(data), self.sheets(data, filename) if table.sheet is not None else ())

    @staticmethod
    def sheets(data: bytes, filename: str) -> tuple[str, ...]:
        """An Excel workbook's worksheets; none for a CSV file, or a workbook that cannot be opened."""
        if not is_workbook(data, filename):
            return ()
        try:
            return tuple(sheet_names(data, filename))
        except InputFileError:
            return ()

    def read_file(self, path: Path, sheet: str | None = None) -> Upload:
        return self.read_upload(read_local_file(path, self.settings.max_upload_bytes), path.name, sheet)

    @staticmethod
    def match_columns(table: InputTable, kind: Kind) -> ColumnMatch:
        """Which column feeds which field, as far as the headers tell."""
        return match_columns(table.columns, kind)

    def prepare(self, table: InputTable, kind: Kind, plan: RunPlan) -> list[PreparedRow]:
        """Every row validated: a request to send, or the reason it cannot be sent."""
        check_columns(ColumnMatch(plan.mapping, [], list(table.columns)), kind, default_brand=plan.defaults.brand)
        return prepare_rows(table, plan.mapping, kind, plan.defaults)

    # ---- one ticket ------------------------------------------------------------------------
    def issue_ticket(self, request: TicketRequest) -> RowResult:
        """One ticket now, audited. Raises ConfigError when its kind of link cannot be built."""
        self.require(Action.ISSUE)
        client = CommBoxClient.from_settings(self.settings)
        try:
            result = issue_ticket(client, LinkBuilder(self.settings), request)
        finally:
            client.close()
        audit_ticket(self.store, self.user, self.settings.api_host, request, result, role=str(self.role))
        if self.store is not None:
            self.store.flush()  # in the audit log before the person can look for it
        return result

    def ticket_lifespan_s(self, kind: Kind) -> int:
        return LinkBuilder(self.settings).ttl[kind]

    def estimated_run_s(self, rows: int, concurrency: int) -> tuple[float, float]:
        """(seconds, rows/s) a run of tickets for `rows` rows would take here: at the rate of this
        process's last finished ticket run, else at one request per ASSUMED_ROUND_TRIP_S per worker."""
        reports = [job.report for job in self.jobs.list() if job.report is not None and job.invitations is None]
        rate = estimated_rate(reports, concurrency)
        return rows / rate, rate

    def redeemer(self) -> Redeemer:
        """What serves invitation clicks on this console's store and CommBox."""
        return Redeemer(self.settings, self._need_store())

    def check_connection(self) -> ConnectionVerdict:
        """A real ticket request for a made-up agent; see api.probe. Retries little: a person waits."""
        self.require(Action.CHECK_CONNECTION)
        quick = self.settings.replace(max_retries=1, backoff_base=0.2, backoff_max=1.0)
        client = CommBoxClient.from_settings(quick)
        try:
            outcome = client.create_ticket(connection_probe(self.settings.brand))
        finally:
            client.close()
        return explain_probe(outcome, self.settings.api_host)

    # ---- runs ------------------------------------------------------------------------------
    def start_run(self, table: InputTable, prepared: list[PreparedRow], kind: Kind, plan: RunPlan, *,
                  source_sha256: str = "", concurrency: int | None = None, listeners=(),
                  invitations: InvitationOptions | None = None, stream_workbook: bool = False) -> Job:
        """Start a run in the background. `table` is what the rows were prepared from (the upload,
        with the person's edits); `source_sha256` the uploaded bytes' hash, for the record;
        `listeners` get every row's result as it lands (e.g. a WorkbookStream's add). With
        `invitations`, every valid row gets an invitation link (minted into a ticket at its click).
        `stream_workbook`: results.xlsx is written as rows land, so after the run only its last
        rows and the zip are left (the job's outputs use it)."""
        self.require(Action.ISSUE)
        settings = self.settings
        if concurrency is not None and concurrency != settings.concurrency:
            settings = settings.replace(concurrency=concurrency)
        return self.jobs.start(settings, table, prepared, kind, source_name=table.filename, started_by=self.user,
                               source_sha256=source_sha256, plan=plan, listeners=listeners, invitations=invitations,
                               role=str(self.role), stream_workbook=stream_workbook)

    def job(self, job_id: str | None) -> Job | None:
        """A run this process holds (with its links), or None; None too when this role may not see
        that run's links (an analyst, or an issuer and another's run): its stored view is for them."""
        job = self.jobs.get(job_id)
        return job if job is not None and self._sees_links(job) else None

    def runs_going(self) -> list[Job]:
        """Runs this server is running now whose links this role may see, newest first."""
        return [job for job in self.jobs.list() if not job.finished and self._sees_links(job)]

    def follow_ups(self, job: Job) -> list[Job]:
        return [j for j in self.jobs.list() if j.parent_id == job.id and self._sees_links(j)]

    def upload(self, job: Job) -> UploadRuns | None:
        """The upload `job` belongs to, as one run: its first run and every finished follow-up
        (of follow-ups too) this role may see, each row once at its latest outcome. None for a run
        with no finished follow-up, or while the first run goes on."""
        runs = self.jobs.upload_family(job, self._sees_links)
        finished = [runs[0], *(run for run in runs[1:] if run.finished)]
        if not runs[0].finished or len(finished) == 1:
            return None
        return self.jobs.upload(finished)

    def running_follow_ups(self, upload: UploadRuns) -> list[Job]:
        """Follow-ups of the upload still going: their rows join it when they end."""
        return [run for run in self.jobs.upload_family(upload.root, self._sees_links) if not run.finished]

    def _sees_links(self, job: Job) -> bool:
        return self.can(Action.SEE_LINKS, owner=job.started_by)

    def cancel(self, job_id: str) -> None:
        """Cancel a run, here or on the server running it (several servers share the store)."""
        self.require(Action.FOLLOW_UP)
        self.jobs.request_cancel(job_id, by=self.user)

    def resume(self, job_id: str) -> Job:
        self.require(Action.FOLLOW_UP)
        return self.jobs.resume(job_id, self.settings, started_by=self.user, role=str(self.role))

    def retry_failed(self, job: Job | UploadRuns) -> Job:
        self.require(Action.FOLLOW_UP)
        return self.jobs.retry_failed(job, started_by=self.user, role=str(self.role))

    def resend_edited(self, job: Job | UploadRuns, edited: InputTable, rows: Sequence[int]) -> Job:
        """Rows edited after the run, validated again with the run's plan, sent as a follow-up."""
        self.require(Action.FOLLOW_UP)
        if job.plan is None:
            raise ConsoleError(f"run {job.id} kept no column mapping: upload the file again")
        prepared = prepare_rows(rows_of(edited, rows), job.plan.mapping, job.kind, job.plan.defaults)
        return self.jobs.resend(job, edited, prepared, started_by=self.user, role=str(self.role))

    def reissue_expired(self, job: Job | UploadRuns) -> Job:
        self.require(Action.FOLLOW_UP)
        return self.jobs.reissue_expired(job, started_by=self.user, role=str(self.role))

    def reissue_lost(self, job_id: str) -> Job:
        """New tickets for the rows of a stored run that got one in a process that is gone."""
        self.require(Action.FOLLOW_UP)
        return self.jobs.reissue_stored(job_id, self.settings, started_by=self.user, role=str(self.role))

    def _need_store(self) -> JobStore:
        if self.store is None:
            raise ConsoleError("this needs the job store")
        return self.store

