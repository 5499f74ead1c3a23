"""BulkRunner: a pool of worker threads that turns prepared rows into RowResults.

Every input row ends in exactly one RowResult, keyed by its row number: invalid rows at once,
sent rows when their answer lands, and rows never sent (401 stop, CommBox unreachable, cancel)
as not_attempted.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from commbox_core.api.client import CommBoxClient, TicketOutcome
from commbox_core.api.pacing import Pacer
from commbox_core.fields import Kind
from commbox_core.runs.results import RowResult, RunReport, fingerprint
from commbox_core.tickets.links import LinkBuilder
from commbox_core.tickets.prepare import PreparedRow
from commbox_core.tickets.request import TicketRequest
from commbox_core.vocabulary import ErrorCode, RunStatus, StopReason

# Rows in a row that failed to reach CommBox after every retry, with no answer in between, before
# the run stops: at least this many, and at least one per worker (a whole wave of them).
UNREACHABLE_AFTER = 8
# Rate and time left come from the rows answered over the last RATE_WINDOW_S: a whole-run average
# was off by minutes after a slow start or a pause behind Retry-After, and never caught up.
RATE_WINDOW_S = 10.0
MIN_RATE_SPAN_S = 1.0  # before a run has been answering this long, its rate says little


@dataclass(frozen=True, slots=True)
class Progress:
    total: int
    done: int
    ok: int
    failed: int
    elapsed_s: float
    rate: float  # rows finished per second
    eta_s: float | None
    throttled: int  # 429s met so far
    state: RunStatus

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 1.0


def result_from_outcome(row: int, request: TicketRequest, outcome: TicketOutcome, links: LinkBuilder) -> RowResult:
    if not outcome.ok:
        return RowResult(
            row, False, outcome.error_code, outcome.message,
            attempts=outcome.attempts, http_status=outcome.http_status,
        )
    link = links.build(request, outcome.token, outcome.issued_at)
    return RowResult(
        row, True, url=link.url, issued_at=link.issued_at, expires_at=link.expires_at,
        attempts=outcome.attempts, http_status=outcome.http_status,
        token_fingerprint=fingerprint(outcome.token),
    )


def issue_ticket(client: CommBoxClient, links: LinkBuilder, request: TicketRequest, row: int = 1) -> RowResult:
    """One ticket, now (the single-ticket form and the `ticket` command)."""
    links.check(request.kind)
    return result_from_outcome(row, request, client.create_ticket(request), links)


class BulkRunner:
    def __init__(
        self,
        client: CommBoxClient,
        links: LinkBuilder,
        *,
        concurrency: int = 8,
        rate_limit: float | None = None,
        adaptive: bool = True,
        on_result: Callable[[RowResult], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.client = client
        self.links = links
        self.concurrency = max(1, concurrency)
        self.pacer = Pacer(rate_limit, adaptive=adaptive)
        self.unreachable_after = max(UNREACHABLE_AFTER, self.concurrency)
        self._unanswered = 0  # rows ended by network failures since CommBox last answered
        self.on_result = on_result
        self.before_send: Callable[[int], None] | None = None  # called with a row's number as it is sent
        self.first_sent = threading.Event()  # set as the first request leaves, or as a run without one ends
        self._stop = threading.Event()
        self._stop_reason: StopReason | None = None
        self._lock = threading.Lock()
        self._total = self._done = self._ok = self._failed = self._requests = self._answered = 0
        self._started = self._finished = None
        self._state = RunStatus.QUEUED
        self._clock = clock
        self._answered_at: deque[float] = deque()  # when rows sent got their answer (RATE_WINDOW_S back)

    # -- control ---------------------------------------------------------------------
    def cancel(self) -> None:
        self._halt(StopReason.CANCELLED)

    def _halt(self, reason: StopReason) -> None:
        with self._lock:
            if self._stop_reason is None:
                self._stop_reason = reason
        self._stop.set()

    def progress(self) -> Progress:
        with self._lock:
            done, total = self._done, self._total
            now = self._clock()
            end = self._finished or now
            elapsed = end - self._started if self._started is not None else 0.0
            rate = self._recent_rate(now) if self._finished is None else self._answered / max(elapsed, 1e-9)
            eta = (total - done) / rate if rate > 0 and self._state is RunStatus.RUNNING else None
            return Progress(
                total, done, self._ok, self._failed, elapsed, rate, eta, self.pacer.throttled, self._state
            )

    def _recent_rate(self, now: float) -> float:
        """Rows answered per second over the last RATE_WINDOW_S (0 until the first answers)."""
        answered = self._answered_at
        while answered and answered[0] < now - RATE_WINDOW_S:
            answered.popleft()
        span = min(RATE_WINDOW_S, now - self._started) if self._started is not None else 0.0
        return len(answered) / span if span >= MIN_RATE_SPAN_S else 0.0

    # -- the run ---------------------------------------------------------------------
    def run(self, rows: Sequence[PreparedRow], kind: Kind) -> RunReport:
        """Run every row; blocks until done. Call it from a background thread in a UI."""
        try:
            return self._run(rows, kind)
        finally:
            self.first_sent.set()  # nobody waits for a request that will never leave

    def _run(self, rows: Sequence[PreparedRow], kind: Kind) -> RunReport:
        self.links.check(kind)
        started_at = datetime.now(UTC)
        results: dict[int, RowResult] = {}
        work: queue.SimpleQueue[PreparedRow] = queue.SimpleQueue()
        with self._lock:
            self._total = len(rows)
            self._started = self._clock()
            self._state = RunStatus.RUNNING
        for prepared in rows:
            if prepared.request is None:
                self._record(results, RowResult(prepared.row, False, ErrorCode.INVALID, prepared.problem))
            else:
                work.put(prepared)

        workers = [
            threading.Thread(target=self._work, args=(work, results), name=f"bulk-{i}", daemon=True)
            for i in range(min(self.concurrency, work.qsize()))
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()

        reason = self._stop_reason
        for prepared in rows:  # rows the workers never reached: stopped or cancelled
            if prepared.row not in results:
                self._record(results, RowResult(prepared.row, False, ErrorCode.NOT_ATTEMPTED, _why_not_sent(reason)))
        with self._lock:
            self._finished = self._clock()
            self._state = RunStatus.after(reason)
            requests_sent = self._requests
        return RunReport(
            kind=kind,
            results=[results[p.row] for p in sorted(rows, key=lambda p: p.row)],
            started_at=started_at,
            finished_at=datetime.now(UTC),
            requests_sent=requests_sent,
            stopped_reason=reason,
            concurrency=self.concurrency,
        )

    def _work(self, work: queue.SimpleQueue, results: dict[int, RowResult]) -> None:
        while not self._stop.is_set():
            try:
                prepared = work.get_nowait()
            except queue.Empty:
                return
            try:
                outcome = self.client.create_ticket(prepared.request, pacer=self.pacer, stop=self._stop,
                                                    before_send=self._sending_hook(prepared.row))
            except Exception as exc:  # noqa: BLE001 - a bug must cost one row, not the run
                outcome = TicketOutcome(False, error_code=ErrorCode.NOT_ATTEMPTED, attempts=1,
                                        message=f"internal error ({type(exc).__name__}); retry the row")
                self._record(results, result_from_outcome(prepared.row, prepared.request, outcome, self.links))
                continue
            if outcome.error_code is ErrorCode.NOT_ATTEMPTED:
                continue  # stopped while waiting for a slot: filled in after the run
            with self._lock:
                self._requests += outcome.attempts
                self._answered += 1
                self._answered_at.append(self._clock())
                reached = outcome.error_code is not ErrorCode.NETWORK
                self._unanswered = 0 if reached else self._unanswered + 1
                unreachable = self._unanswered >= self.unreachable_after
            if outcome.error_code is ErrorCode.UNAUTHORIZED:
                self._halt(StopReason.UNAUTHORIZED)  # every other row would fail the same way
            elif unreachable:
                # Down, or the wrong address: waiting out every retry of every other row would
                # take minutes and end the same way. The rows left can be sent again later.
                self._halt(StopReason.UNREACHABLE)
            self._record(results, result_from_outcome(prepared.row, prepared.request, outcome, self.links))

    def _sending_hook(self, row: int) -> Callable[[], None]:
        mark = self.before_send

        def sending() -> None:
            self.first_sent.set()
            if mark is not None:
                mark(row)
        return sending

    def _record(self, results: dict[int, RowResult], result: RowResult) -> None:
        with self._lock:
            results[result.row] = result
            self._done += 1
            if result.ok:
                self._ok += 1
            else:
                self._failed += 1
        if self.on_result is not None:
            self.on_result(result)


def _why_not_sent(reason: StopReason | None) -> str:
    return reason.unsent_message() if reason else "not sent"
