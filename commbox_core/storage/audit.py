"""The audit log, in the job store: one entry per ticket request answered (single, bulk, or at an
invitation's click), per invitation issued, and per revocation.

An entry says who asked (the dashboard user, "cli", or for a click the client's address and
browser), for whom, on which tenant, and how it ended; it keeps the token's fingerprint, never
the token, and an invitation's public id, never its link.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from commbox_core.runs.results import RowResult
from commbox_core.storage.store import JobStore, now_iso
from commbox_core.storage.writer import ManyRows, run_rows
from commbox_core.tickets.request import TicketRequest
from commbox_core.vocabulary import ErrorCode

if TYPE_CHECKING:
    import pandas as pd

CLI_USER = "cli"
COLUMNS = ["at", "user", "tenant_host", "kind", "brand", "subject", "one_time_use", "outcome", "error_code",
           "fingerprint", "job_id", "action", "invitation_id", "client", "user_agent", "role"]
MAX_USER_AGENT = 300
_QUOTED = ", ".join(f'"{column}"' for column in COLUMNS)  # "user" is a reserved word in PostgreSQL


@dataclass(frozen=True)
class AuditEntry:
    """One line of the log; `action` is ticket (asked CommBox for one), invite, redeem, revoke, or
    for a refused action (outcome "refused") what was asked."""

    user: str
    tenant_host: str
    kind: str
    outcome: str
    action: str = "ticket"
    brand: str = ""
    subject: str = ""
    one_time_use: bool = False
    error_code: str | None = None
    fingerprint: str | None = None
    job_id: str | None = None
    invitation_id: str | None = None
    client: str | None = None
    user_agent: str | None = None
    role: str | None = None

    def values(self) -> tuple:
        agent = self.user_agent[:MAX_USER_AGENT] if self.user_agent else None
        return (now_iso(), self.user, self.tenant_host, self.kind, self.brand, self.subject, int(self.one_time_use),
                self.outcome, self.error_code, self.fingerprint, self.job_id, self.action, self.invitation_id,
                self.client, agent, self.role)


_INSERT = ManyRows(f"INSERT INTO audit ({_QUOTED}) VALUES ", f"({', '.join('?' * len(COLUMNS))})")


def audit_write(entries: list[AuditEntry]):
    """The write that logs these entries, to run in a transaction of one's own choosing."""
    rows = [entry.values() for entry in entries]

    def write(conn) -> None:
        run_rows(conn, _INSERT, rows)

    return write


def audit(store: JobStore | None, entries: list[AuditEntry], *, now: bool = False) -> None:
    """Log entries through the store's writer (within a fraction of a second), or at once."""
    if store is None or not entries:
        return
    if now:
        store.transaction(audit_write(entries))
    else:
        for entry in entries:
            store.submit((_INSERT, entry.values()))


def audit_ticket(store: JobStore | None, user: str, tenant_host: str, request: TicketRequest, result: RowResult,
                 job_id: str | None = None, role: str | None = None) -> None:
    """Log one answered request (rows refused locally or never sent are not tickets asked for)."""
    if store is None or result.error_code in (ErrorCode.INVALID, ErrorCode.NOT_ATTEMPTED):
        return
    audit(store, [AuditEntry(
        user, tenant_host, str(request.kind), "ok" if result.ok else "failed", brand=request.brand,
        subject=request.subject, one_time_use=request.oneTimeUse,
        error_code=str(result.error_code) if result.error_code else None, fingerprint=result.token_fingerprint,
        job_id=job_id, role=role)])


@dataclass(frozen=True)
class AuditFilter:
    since: datetime | None = None
    until: datetime | None = None
    user: str = ""
    subject: str = ""  # part of the person's identifier, any case
    outcome: str = ""  # "", "ok" or "failed"
    job_id: str = ""


def _where(wanted: AuditFilter) -> tuple[str, list]:
    """The WHERE clause (with its parameters) of the entries matching the filter."""
    clauses, params = [], []
    if wanted.since:
        clauses.append("at >= ?")
        params.append(wanted.since.isoformat())
    if wanted.until:
        clauses.append("at < ?")
        params.append(wanted.until.isoformat())
    for column, value in (("user", wanted.user), ("outcome", wanted.outcome), ("job_id", wanted.job_id)):
        if value:
            clauses.append(f'"{column}" = ?')
            params.append(value)
    if wanted.subject:
        clauses.append("lower(subject) LIKE ? ESCAPE '\\'")
        escaped = wanted.subject.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        params.append(f"%{escaped}%")
    return (f"WHERE {' AND '.join(clauses)}" if clauses else ""), params


def audit_frame(store: JobStore, wanted: AuditFilter = AuditFilter(), limit: int = 10_000) -> pd.DataFrame:
    """Entries matching the filter, newest first: at most `limit` of them (-1: every one)."""
    import pandas as pd

    where, params = _where(wanted)
    bounded = "LIMIT ?" if limit >= 0 else ""  # PostgreSQL refuses SQLite's LIMIT -1 (no bound)
    rows = store.query(f"SELECT {_QUOTED} FROM audit {where} ORDER BY at DESC, id DESC {bounded}",
                       [*params, limit] if bounded else params)
    frame = pd.DataFrame([dict(row) for row in rows], columns=COLUMNS)
    frame["one_time_use"] = frame["one_time_use"].astype(bool)
    return frame


def audit_count(store: JobStore, wanted: AuditFilter = AuditFilter()) -> int:
    """How many entries match the filter."""
    where, params = _where(wanted)
    return store.query(f"SELECT count(*) AS n FROM audit {where}", params)[0]["n"]


def audit_users(store: JobStore) -> list[str]:
    return [row["user"] for row in store.query('SELECT DISTINCT "user" FROM audit ORDER BY "user"')]
