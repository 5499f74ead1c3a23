"""A job to and from its store records: what to write before a run, and how to rebuild the run
(its input table, its prepared rows, the outcomes it already has) after a restart."""

from __future__ import annotations

import hashlib

from commbox_core.errors import ConsoleError
from commbox_core.runs.results import RowResult
from commbox_core.storage.audit import AuditEntry, audit, audit_ticket
from commbox_core.storage.store import JobStore, StoredJob, StoredRow
from commbox_core.tables.read import InputTable
from commbox_core.tickets.prepare import PreparedRow
from commbox_core.tickets.request import TicketRequest
from commbox_core.vocabulary import RunStatus


def job_record(job, source_sha256: str = "") -> dict:
    """The jobs-table values of a jobs.Job about to start: options without any secret."""
    settings = job.settings
    return {
        "id": job.id, "created_at": job.created_at.isoformat(), "started_by": job.started_by or "cli",
        "tenant_host": settings.api_host, "kind": str(job.kind), "purpose": job.purpose, "parent_id": job.parent_id,
        "source_name": job.source_name, "source_sha256": source_sha256,
        "options": {"concurrency": settings.concurrency, "rate_limit": settings.rate_limit,
                    "sandbox": settings.sandbox,
                    "invitations": job.invitations.record() if job.invitations else None},
        "plan": job.plan.record() if job.plan else None, "headers": list(job.table.headers), "columns": list(job.table.columns),
        "status": RunStatus.QUEUED, "total": len(job.prepared),
    }


def record_row(store: JobStore, job_id: str, result: RowResult, request: TicketRequest | None, *, user: str,
               tenant_host: str, role: str | None) -> None:
    """Store a row's outcome and write its audit entry (an invitation issued, or a ticket asked
    for), for a run in a thread and in a process of its own alike."""
    store.record_result(job_id, result)
    if request is not None and result.invitation_id is not None:
        audit(store, [AuditEntry(user, tenant_host, str(request.kind), "ok", action="invite", brand=request.brand,
                                 subject=request.subject, job_id=job_id, invitation_id=result.invitation_id,
                                 role=role)])
    elif request is not None:
        audit_ticket(store, user, tenant_host, request, result, job_id, role=role)


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def row_records(table: InputTable, prepared: list[PreparedRow]):
    """(row, input values as given, validated request, problem) for every prepared row."""
    values = dict(zip(table.row_numbers(), zip(*(table.cells(column) for column in table.columns))))
    for item in prepared:
        given = values.get(item.row)
        request = item.request.model_dump(mode="json") if item.request is not None else None
        yield item.row, [str(v) for v in given] if given is not None else None, request, item.problem


def rebuild_table(job: StoredJob, rows: list[StoredRow]) -> InputTable:
    """The input table as the job read it (values as given); purged rows come back blank."""
    import pandas as pd

    columns = job.columns
    blank = [""] * len(columns)
    frame = pd.DataFrame(
        [row.input if row.input is not None and len(row.input) == len(columns) else blank for row in rows],
        columns=columns, index=pd.Index([row.row for row in rows]), dtype=object,
    ).astype(str)
    return InputTable(
        headers=list(job.headers), columns=list(columns), frame=frame, row_problems={},
        encoding="utf-8", delimiter=",", filename=job.source_name,
    )


def rebuild_prepared(job: StoredJob, rows: list[StoredRow]) -> list[PreparedRow]:
    if job.pii_purged_at is not None:
        raise ConsoleError(f"job {job.id}: its personal data was purged, so its rows cannot be sent again")
    return [
        PreparedRow(row.row, TicketRequest.model_validate(row.request) if row.request else None, row.problem)
        for row in rows
    ]
