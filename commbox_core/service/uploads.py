"""One upload's result: its first run and the follow-ups started from it (retries, fixed rows
resent, re-issues) seen as one run, in which every row of the file appears once with its latest
outcome, its values as that run sent them. The Bulk tickets page shows it, offers its files and
starts further follow-ups on it; History gives its outcomes (never a link) from the store.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from commbox_core.runs.results import RowResult, RunReport, latest_outcomes
from commbox_core.service.jobs import Job
from commbox_core.storage.records import StoredJob, StoredRow
from commbox_core.tables.edits import rows_from
from commbox_core.tables.read import InputTable
from commbox_core.tickets.prepare import PreparedRow
from commbox_core.vocabulary import Purpose

if TYPE_CHECKING:
    from commbox_core.outputs.downloads import JobOutputs


def _of_first_run(name: str) -> property:
    return property(lambda upload: getattr(upload.root, name), doc=f"The first run's {name}.")


@dataclass(eq=False)
class UploadRuns:
    """A finished run and its finished follow-ups as one: `runs` oldest first (the first run
    first), `report` one result per row of the file, the latest."""

    runs: list[Job]
    table: InputTable  # each row's values as its latest run sent them (a fixed row: as fixed)
    prepared: list[PreparedRow]  # each row's request as its latest run sent it
    report: RunReport
    came_from: dict[int, str] = field(repr=False)  # row -> the run whose outcome it shows

    # A follow-up started on the upload takes these from it (JobManager._child): it hangs off the
    # first run, and sends each row as last sent.
    purpose = Purpose.RUN
    parent_id = None
    finished = True

    @property
    def root(self) -> Job:
        return self.runs[0]

    @property
    def id(self) -> str:
        return self.root.id

    @property
    def follow_ups(self) -> list[Job]:
        return self.runs[1:]

    # What the upload is, and who started it: its first run's.
    kind = _of_first_run("kind")
    settings = _of_first_run("settings")
    source_name = _of_first_run("source_name")
    plan = _of_first_run("plan")
    invitations = _of_first_run("invitations")
    started_by = _of_first_run("started_by")
    created_at = _of_first_run("created_at")

    def results(self) -> list[RowResult]:
        return self.report.results

    def counts(self) -> tuple[int, int, int]:
        """(rows, succeeded, failed), each row counted once at its latest outcome."""
        summary = self.report.summary()
        return summary["rows"], summary["succeeded"], summary["failed"]

    def not_sent(self) -> int:
        return self.report.summary()["not_sent"]

    @cached_property
    def outputs(self) -> JobOutputs:
        """success.csv, errors.csv, results.xlsx and summary.json of the whole upload."""
        from commbox_core.outputs.downloads import JobOutputs

        runs = [{"run": run.id, "purpose": str(run.purpose), "rows": len(run.prepared),
                 "started_at": run.created_at.isoformat()} for run in self.runs]
        summary = {**self.report.summary(), "rows_per_s": None, "runs": runs}  # a rate over idle gaps means nothing
        return JobOutputs(self.table, self.report, summary=summary)


def combine(runs: Sequence[Job]) -> UploadRuns:
    """The upload of finished `runs`: the first run, then its follow-ups oldest first."""
    latest = latest_outcomes(run.results() for run in runs)
    rows = sorted(latest)
    root = runs[0]
    later = {position: {p.row: p for p in run.prepared} for position, run in enumerate(runs) if position}
    by_row = {p.row: p for p in root.prepared}
    prepared = [later[latest[row][0]][row] if latest[row][0] else by_row[row] for row in rows]
    reports = [run.report for run in runs]
    report = RunReport(
        kind=root.kind, results=[latest[row][1] for row in rows], started_at=reports[0].started_at,
        finished_at=max(r.finished_at for r in reports), requests_sent=sum(r.requests_sent for r in reports),
        concurrency=reports[0].concurrency,
    )
    table = rows_from(root.table, {row: runs[latest[row][0]].table for row in rows if latest[row][0]})
    return UploadRuns(list(runs), table, prepared, report, {row: runs[latest[row][0]].id for row in rows})


def latest_stored_rows(family: Sequence[tuple[StoredJob, list[StoredRow]]]) -> list[tuple[str, StoredRow]]:
    """A stored run and its follow-ups (oldest first) as one: each row's latest stored row, by row,
    with the id of the run it comes from."""
    latest = latest_outcomes([row.result() for row in rows] for _, rows in family)
    by_run = [{row.row: row for row in rows} for _, rows in family]
    return [(family[latest[row][0]][0].id, by_run[latest[row][0]][row]) for row in sorted(latest)]
