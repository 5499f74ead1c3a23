"""Issuing invitations: a run whose rows get an invitation link each, not a ticket.

InvitationIssuer stands where BulkRunner stands in a job (run, progress, cancel, on_result), so
a run of invitations is followed, stored, exported and audited like any other. Nothing is sent
to CommBox now: each click mints its own ticket later (invitations/redeem.py).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from commbox_core.errors import ConfigError
from commbox_core.fields import Kind
from commbox_core.invitations.options import InvitationOptions
from commbox_core.invitations.tokens import greeting, invitation_url, new_id, new_token, token_hash
from commbox_core.runs.results import RowResult, RunReport
from commbox_core.runs.runner import Progress
from commbox_core.storage.invitations import NewInvitation, insert_invitations
from commbox_core.storage.store import JobStore
from commbox_core.tickets.prepare import PreparedRow
from commbox_core.tickets.request import TicketRequest
from commbox_core.vocabulary import ErrorCode, RunStatus, StopReason

BATCH = 500  # invitations written per transaction
NO_PUBLIC_URL = ("COMMBOX_PUBLIC_URL is not set: invitation links need the address their recipients reach "
                 "(the redeem app, or the dashboard's own address)")


def check_can_issue(public_url: str | None, store: JobStore | None) -> None:
    if not public_url:
        raise ConfigError(NO_PUBLIC_URL)
    if store is None:
        raise ConfigError("invitations need the job store: the redeem app finds them there")


def new_invitation(request: TicketRequest, options: InvitationOptions, *, created_by: str,
                   job_id: str | None = None, row: int | None = None) -> tuple[str, NewInvitation]:
    """A token (to put in the link, then forget) and the record the store keeps."""
    token = new_token()
    return token, NewInvitation(
        id=new_id(), token_hash=token_hash(token), job_id=job_id, row=row, kind=str(request.kind),
        request=request.model_dump(mode="json"), greeting=greeting(request),
        confirm_email=options.confirm_email and request.kind is Kind.AGENT and bool(request.email),
        single_use=options.single_use, valid_for_s=int(options.valid_for.total_seconds()),
        created_at=datetime.now(UTC), created_by=created_by,
    )


def invitation_result(row: int, token: str, item: NewInvitation, public_url: str) -> RowResult:
    return RowResult(row, True, url=invitation_url(public_url, token), issued_at=item.created_at,
                     expires_at=item.expires_at, invitation_id=item.id)


class InvitationIssuer:
    def __init__(self, store: JobStore, public_url: str, options: InvitationOptions, *, job_id: str,
                 created_by: str, on_result: Callable[[RowResult], None] | None = None):
        check_can_issue(public_url, store)
        self.store, self.public_url, self.options = store, public_url, options
        self.job_id, self.created_by, self.on_result = job_id, created_by, on_result
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._total = self._done = self._ok = self._failed = 0
        self._started = self._finished = None
        self._state = RunStatus.QUEUED

    def cancel(self) -> None:
        self._stop.set()

    def progress(self) -> Progress:
        with self._lock:
            end = self._finished or time.monotonic()
            elapsed = end - self._started if self._started else 0.0
            rate = self._done / elapsed if elapsed > 0 else 0.0
            return Progress(self._total, self._done, self._ok, self._failed, elapsed, rate, None, 0, self._state)

    def run(self, rows: Sequence[PreparedRow], kind: Kind) -> RunReport:
        started_at = datetime.now(UTC)
        with self._lock:
            self._total, self._started, self._state = len(rows), time.monotonic(), RunStatus.RUNNING
        results: dict[int, RowResult] = {}
        for start in range(0, len(rows), BATCH):
            if self._stop.is_set():
                break
            self._issue_batch(rows[start:start + BATCH], results)
        cancelled = len(results) < len(rows)
        for prepared in rows:
            if prepared.row not in results:
                self._emit(results, RowResult(prepared.row, False, ErrorCode.NOT_ATTEMPTED,
                                              StopReason.CANCELLED.unsent_message()))
        reason = StopReason.CANCELLED if cancelled else None
        with self._lock:
            self._finished, self._state = time.monotonic(), RunStatus.after(reason)
        return RunReport(kind=kind, results=[results[p.row] for p in sorted(rows, key=lambda p: p.row)],
                         started_at=started_at, finished_at=datetime.now(UTC), stopped_reason=reason)

    def _issue_batch(self, batch: Sequence[PreparedRow], results: dict[int, RowResult]) -> None:
        made, items = [], []
        for prepared in batch:
            if prepared.request is None:
                made.append(RowResult(prepared.row, False, ErrorCode.INVALID, prepared.problem))
                continue
            token, item = new_invitation(prepared.request, self.options, created_by=self.created_by,
                                         job_id=self.job_id, row=prepared.row)
            items.append(item)
            made.append(invitation_result(prepared.row, token, item, self.public_url))
        insert_invitations(self.store, items)  # stored before any link is handed out
        for result in made:
            self._emit(results, result)

    def _emit(self, results: dict[int, RowResult], result: RowResult) -> None:
        results[result.row] = result
        with self._lock:
            self._done += 1
            self._ok += result.ok
            self._failed += not result.ok
        if self.on_result is not None:
            self.on_result(result)
