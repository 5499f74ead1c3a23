"""What the job store gives back: a job and its rows as records (no Streamlit, no SQL here)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from commbox_core.runs.results import RowResult
from commbox_core.vocabulary import ErrorCode, Purpose, RunStatus


@dataclass(frozen=True)
class StoredJob:
    id: str
    created_at: datetime
    started_by: str
    tenant_host: str
    kind: str
    purpose: Purpose
    parent_id: str | None
    source_name: str
    source_sha256: str
    options: dict
    plan: dict | None
    headers: list[str]
    columns: list[str]
    status: RunStatus
    total: int
    error: str | None
    owner_host: str | None
    owner_pid: int | None
    heartbeat_at: datetime | None
    finished_at: datetime | None
    pii_purged_at: datetime | None
    succeeded: int = 0
    failed: int = 0
    unanswered: int = 0  # rows with no outcome yet: never sent, or in flight when the owner died
    in_doubt: int = 0  # rows ever in flight (or marked to leave) when a server of this run died
    not_sent: int = 0  # of the failed: rows never sent (cancelled, or stopped by a 401 or an unreachable CommBox)
    cancel_requested_at: datetime | None = None  # asked from another server; its own stops it
    cancel_requested_by: str | None = None


@dataclass(frozen=True)
class StoredRow:
    row: int
    input: list[str] | None
    request: dict | None
    problem: str
    outcome: str | None
    error_code: str | None
    message: str | None
    attempts: int
    issued_at: datetime | None
    expires_at: datetime | None
    fingerprint: str | None
    sent_at: datetime | None = None
    in_doubt: bool = False  # in flight, or marked to leave, when its run's server died: fate unknown

    @property
    def needs_sending(self) -> bool:
        """Never answered, or failed in a way that may change on retry (resume sends these)."""
        if self.request is None:
            return False
        if self.outcome is None:
            return True
        return self.outcome == "failed" and self.error_code is not None and ErrorCode(self.error_code).retryable

    def result(self) -> RowResult:
        """As a RowResult, without a URL: the token was only ever in the memory of its process."""
        code = ErrorCode(self.error_code) if self.error_code else None
        if self.outcome is None and self.request is None:
            code, message = ErrorCode.INVALID, self.problem
        elif self.outcome is None and self.in_doubt:
            code, message = ErrorCode.IN_DOUBT, ("sent, or about to be, when the run's server stopped; no answer was "
                                                 "recorded (resume sends it again: a ticket nobody received is "
                                                 "harmless)")
        elif self.outcome is None:
            code, message = ErrorCode.NOT_ATTEMPTED, "not sent: the run was interrupted"
        else:
            message = self.message or ""
        return RowResult(
            self.row, self.outcome == "ok", None if self.outcome == "ok" else code, message or "",
            issued_at=self.issued_at, expires_at=self.expires_at, attempts=self.attempts,
            token_fingerprint=self.fingerprint,
        )
