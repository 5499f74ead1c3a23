"""The audit log: one entry per ticket request answered, single or bulk, in the job store.

An entry says who asked (the dashboard user, or "cli"), for whom, on which tenant, and how it
ended; it keeps the token's fingerprint, never the token.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pandas as pd

from commbox_core.runs.results import RowResult
from commbox_core.storage.store import JobStore, now_iso
from commbox_core.tickets.request import TicketRequest
from commbox_core.vocabulary import ErrorCode

CLI_USER = "cli"
COLUMNS = ["at", "user", "tenant_host", "kind", "brand", "subject", "one_time_use", "outcome", "error_code",
           "fingerprint", "job_id"]


def audit_ticket(store: JobStore | None, user: str, tenant_host: str, request: TicketRequest, result: RowResult,
                 job_id: str | None = None) -> None:
    """Log one answered request (rows refused locally or never sent are not tickets asked for)."""
    if store is None or result.error_code in (ErrorCode.INVALID, ErrorCode.NOT_ATTEMPTED):
        return
    values = (
        now_iso(), user, tenant_host, str(request.kind), request.brand, request.subject, int(request.oneTimeUse),
        "ok" if result.ok else "failed", str(result.error_code) if result.error_code else None,
        result.token_fingerprint, job_id,
    )
    store.submit(lambda conn: conn.execute(
        f"INSERT INTO audit ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})", values))


@dataclass(frozen=True)
class AuditFilter:
    since: datetime | None = None
    until: datetime | None = None
    user: str = ""
    subject: str = ""  # part of the person's identifier, any case
    outcome: str = ""  # "", "ok" or "failed"
    job_id: str = ""


def audit_frame(store: JobStore, wanted: AuditFilter = AuditFilter(), limit: int = 10_000) -> pd.DataFrame:
    """Entries matching the filter, newest first."""
    clauses, params = [], []
    if wanted.since:
        clauses.append("at >= ?")
        params.append(wanted.since.isoformat())
    if wanted.until:
        clauses.append("at < ?")
        params.append(wanted.until.isoformat())
    for column, value in (("user", wanted.user), ("outcome", wanted.outcome), ("job_id", wanted.job_id)):
        if value:
            clauses.append(f"{column} = ?")
            params.append(value)
    if wanted.subject:
        clauses.append("lower(subject) LIKE ? ESCAPE '\\'")
        escaped = wanted.subject.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        params.append(f"%{escaped}%")
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    rows = store.query(f"SELECT {', '.join(COLUMNS)} FROM audit {where} ORDER BY at DESC, id DESC LIMIT ?",
                       [*params, limit])
    frame = pd.DataFrame([dict(row) for row in rows], columns=COLUMNS)
    frame["one_time_use"] = frame["one_time_use"].astype(bool)
    return frame


def audit_users(store: JobStore) -> list[str]:
    return [row["user"] for row in store.query("SELECT DISTINCT user FROM audit ORDER BY user")]
