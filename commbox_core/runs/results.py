"""What a run produces: one RowResult per input row, and the run's report."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from commbox_core.fields import Kind
from commbox_core.vocabulary import ErrorCode, RunStatus, StopReason


def fingerprint(token: str) -> str:
    """A short, stable, non-reversible id of a token: safe to store and log."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()[:16]


@dataclass(slots=True)
class RowResult:
    """The outcome of one input row. `row` is 1 for the first data record after the header."""

    row: int
    ok: bool
    error_code: ErrorCode | None = None
    error: str = ""
    # The URL carries the token: it is a credential, so it never shows in repr() or logs.
    url: str | None = field(default=None, repr=False)
    issued_at: datetime | None = None
    expires_at: datetime | None = None
    attempts: int = 0
    http_status: int | None = None
    token_fingerprint: str | None = None
    invitation_id: str | None = None  # an invitation's public id (its link is in `url`)

    @property
    def retryable(self) -> bool:
        return not self.ok and self.error_code is not None and self.error_code.retryable


@dataclass(slots=True)
class RunReport:
    """Everything a finished (or stopped) run knows, for tables, exports and summary.json."""

    kind: Kind
    results: list[RowResult]  # exactly one per input row, ordered by row
    started_at: datetime
    finished_at: datetime
    requests_sent: int = 0
    stopped_reason: StopReason | None = None
    concurrency: int | None = None  # the workers it ran with (None: not recorded)

    @property
    def status(self) -> RunStatus:
        return RunStatus.after(self.stopped_reason)

    @property
    def succeeded(self) -> list[RowResult]:
        return [r for r in self.results if r.ok]

    @property
    def failed(self) -> list[RowResult]:
        return [r for r in self.results if not r.ok]

    def summary(self) -> dict:
        """Counts by outcome and error_code, and timings: the content of summary.json."""
        by_code = Counter(str(r.error_code) for r in self.results if not r.ok)
        duration = (self.finished_at - self.started_at).total_seconds()
        ok = sum(1 for r in self.results if r.ok)
        # Rows never sent (a cancel, a stop) and rows refused before sending took no time: a rate
        # counting them would flatter a cancelled run.
        sent = len(self.results) - by_code[ErrorCode.NOT_ATTEMPTED.value] - by_code[ErrorCode.INVALID.value]
        return {
            "kind": str(self.kind),
            "rows": len(self.results),
            "succeeded": ok,
            "failed": len(self.results) - ok,
            "not_sent": by_code[ErrorCode.NOT_ATTEMPTED.value],
            "by_error_code": dict(sorted(by_code.items())),
            "requests_sent": self.requests_sent,
            "stopped_reason": self.stopped_reason,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat(),
            "duration_s": round(duration, 3),
            "rows_per_s": round(sent / duration, 1) if duration > 0 and sent else None,  # rows sent a second
        }


def retryable_rows(results: Iterable[RowResult]) -> list[int]:
    return [r.row for r in results if r.retryable]


def expired_rows(results: Iterable[RowResult], now: datetime) -> list[int]:
    return [r.row for r in results if r.ok and r.expires_at is not None and r.expires_at <= now]


def fixable_rows(results: Iterable[RowResult]) -> list[int]:
    """Failed rows that only an edit can change (invalid, not found, refused as bad)."""
    return [r.row for r in results if not r.ok and not r.retryable and r.error_code is not ErrorCode.UNAUTHORIZED]


def latest_outcomes(runs: Iterable[Iterable[RowResult]]) -> dict[int, tuple[int, RowResult]]:
    """Each row's latest outcome across a run and its follow-ups (given oldest first), with the
    position of the run it came from. A follow-up that never sent a row (cancelled, stopped)
    leaves the row's earlier outcome standing: not sending it changed nothing."""
    latest: dict[int, tuple[int, RowResult]] = {}
    for position, results in enumerate(runs):
        for result in results:
            if result.error_code is ErrorCode.NOT_ATTEMPTED and result.row in latest:
                continue
            latest[result.row] = (position, result)
    return latest


def live_links(results: Iterable[RowResult], now: datetime) -> tuple[int, datetime | None]:
    """How many links are still valid, and when the next of them expires."""
    ends = [r.expires_at for r in results if r.ok and r.expires_at is not None and r.expires_at > now]
    return len(ends), min(ends) if ends else None


ASSUMED_ROUND_TRIP_S = 0.25  # a ticket request at a real tenant, when no run has been timed yet
MIN_TIMED_ROWS = 50


def estimated_rate(reports: Iterable[RunReport], concurrency: int) -> float:
    """Rows a second a run with `concurrency` workers may reach: the newest report's rate with
    enough rows (scaled to this concurrency), else one request per ASSUMED_ROUND_TRIP_S per worker."""
    for report in reports:
        seconds = (report.finished_at - report.started_at).total_seconds()
        workers = report.concurrency or concurrency
        if len(report.results) >= MIN_TIMED_ROWS and seconds > 0:
            return len(report.results) / seconds * concurrency / workers
    return concurrency / ASSUMED_ROUND_TRIP_S
