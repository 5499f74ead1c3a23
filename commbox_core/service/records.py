"""The application service's read side, for every role: stored runs and their outcomes (never a
link), History's list, the audit log; and purging a run's personal data. Console inherits it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from commbox_core.access import Action
from commbox_core.fields import Kind
from commbox_core.runs.results import RunReport
from commbox_core.service.job_records import rebuild_table
from commbox_core.storage import invitations as stored_invitations
from commbox_core.storage.audit import AuditFilter, audit_count, audit_frame, audit_users
from commbox_core.storage.records import StoredJob, StoredRow
from commbox_core.tables.read import InputTable

if TYPE_CHECKING:
    import pandas as pd


class RunRecords:
    """Needs, from the class it is mixed into: store, jobs, require(action), _need_store()."""

    def stored_report(self, job_id: str) -> tuple[InputTable, RunReport]:
        """A stored run as its table and report, without links (tokens are never stored)."""
        self.require(Action.READ_HISTORY)
        job, rows = self.stored_run(job_id)
        report = RunReport(
            kind=Kind(job.kind), results=[row.result() for row in rows], started_at=job.created_at,
            finished_at=job.finished_at or datetime.now(UTC), requests_sent=sum(row.attempts for row in rows),
            stopped_reason=job.status.stop_reason,
        )
        return rebuild_table(job, rows), report

    # ---- history and audit -------------------------------------------------------------------
    def stored_job(self, job_id: str) -> StoredJob | None:
        """A run the store knows (any process's), or None."""
        if self.store is None:
            return None
        found = self.store.jobs(1, job_id)
        return found[0] if found else None

    def stored_run(self, job_id: str) -> tuple[StoredJob, list[StoredRow]]:
        """A stored run and its rows (values as given, outcomes, fingerprints: never a token).
        Raises ConsoleError naming the store when it has no such run."""
        self.require(Action.READ_HISTORY)
        store = self._need_store()
        return store.job(job_id), store.rows(job_id)

    def history(self, limit: int = 200) -> list[StoredJob]:
        self.require(Action.READ_HISTORY)
        return self.store.jobs(limit) if self.store is not None else []

    def history_frame(self, limit: int = 200) -> pd.DataFrame:
        """One line per stored run, with live figures for the runs this process holds."""
        from commbox_core.outputs.history import stored_runs_frame

        return stored_runs_frame(self.history(limit), {job.id: job for job in self.jobs.list()})

    def run_labels(self, stored: list[StoredJob]) -> dict[str, str]:
        """Each stored run's name for a chooser, with the live status of the runs this process holds."""
        from commbox_core.outputs.history import stored_label

        live = {job.id: job.status for job in self.jobs.list()}
        return {record.id: stored_label(record, live.get(record.id)) for record in stored}

    def outcomes(self, job_id: str) -> pd.DataFrame:
        """A run's outcomes for analysts: no link, no token (safe to keep and share)."""
        return self.outcome_file(job_id)[0]

    def outcome_file(self, job_id: str) -> tuple[pd.DataFrame, bytes]:
        """The outcomes as a table and as CSV (a finished run in this process: built once)."""
        from commbox_core.outputs.files import to_csv_bytes
        from commbox_core.outputs.history import stored_outcomes

        self.require(Action.READ_HISTORY)
        job = self.jobs.get(job_id)
        if job is not None:
            return job.outcome_file()
        record, rows = self.stored_run(job_id)
        frame = stored_outcomes(rows, record.kind, rebuild_table(record, rows))
        return frame, to_csv_bytes(frame)

    def upload_runs(self, job_id: str) -> list[StoredJob]:
        """The stored runs of the upload `job_id` belongs to: its first run, then its follow-ups."""
        self.require(Action.READ_HISTORY)
        return self.store.upload_of(job_id) if self.store is not None else []

    def upload_outcome_file(self, job_id: str) -> tuple[pd.DataFrame, bytes, list[StoredJob]]:
        """The outcomes of the upload run `job_id` belongs to, from the store (runs of any process):
        each row of the file once, at its latest outcome across the first run and its follow-ups,
        with its values as that run sent them and the run's id. Never a link. Also the runs."""
        from commbox_core.outputs.files import to_csv_bytes
        from commbox_core.outputs.history import stored_outcomes
        from commbox_core.service.uploads import latest_stored_rows

        runs = self.upload_runs(job_id)
        store = self._need_store()

        def build() -> tuple[pd.DataFrame, bytes]:
            latest = latest_stored_rows([(record, store.rows(record.id)) for record in runs])
            rows = [row for _, row in latest]
            frame = stored_outcomes(rows, runs[0].kind, rebuild_table(runs[0], rows), [run_id for run_id, _ in latest])
            return frame, to_csv_bytes(frame)

        if any(run.status.active for run in runs):
            return *build(), runs
        # Ended runs change only by a resume, a purge or a new follow-up, each of which changes the key.
        key = tuple((run.id, run.status, run.finished_at, run.pii_purged_at) for run in runs)
        return *self.jobs.kept_file(("upload outcomes", key), build), runs

    def audit(self, wanted: AuditFilter = AuditFilter(), limit: int = 10_000) -> pd.DataFrame:
        self.require(Action.READ_AUDIT)
        return audit_frame(self._need_store(), wanted, limit)

    def audit_count(self, wanted: AuditFilter = AuditFilter()) -> int:
        self.require(Action.READ_AUDIT)
        return audit_count(self._need_store(), wanted)

    def audit_file(self, wanted: AuditFilter = AuditFilter()) -> bytes:
        """The log's entries matching `wanted`, every one of them, as CSV (admins only)."""
        from commbox_core.outputs.files import to_csv_bytes

        self.require(Action.EXPORT_AUDIT)
        return to_csv_bytes(audit_frame(self._need_store(), wanted, limit=-1))

    def audit_users(self) -> list[str]:
        return audit_users(self._need_store())

    def purge(self, job_id: str) -> None:
        """Forget a run's personal data (row values, its invitations' people: those still pending
        stop working); outcomes and counts stay."""
        self.require(Action.PURGE)
        self._need_store().purge_pii(job_id)
        stored_invitations.purge_job(self._need_store(), job_id)

    def remembered_mapping(self, table: InputTable, kind: Kind) -> tuple[dict[str, str], str] | None:
        """The column mapping of the newest stored run of this kind whose file had exactly these
        headers, and that run's id: a mapping confirmed once is offered again for the same layout."""
        if self.store is None:
            return None
        headers = list(table.headers)
        for record in self.store.jobs(200):
            mapping = (record.plan or {}).get("mapping") or {}
            if record.kind == kind and record.headers == headers and mapping and set(mapping.values()) <= set(
                    table.columns):
                return dict(mapping), record.id
        return None
