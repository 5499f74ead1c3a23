"""The store's write path on SQLite and PostgreSQL: many rows' outcomes and audit entries in few
statements, each row still getting its own values, and the marks that rows are about to be sent,
committed ahead of the requests a block at a time."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from commbox_core.runs.results import RowResult
from commbox_core.storage.audit import AuditEntry, AuditFilter, audit, audit_frame
from commbox_core.storage.sent_marks import SentMarks
from commbox_core.storage.writer import ROWS_PER_STATEMENT
from commbox_core.vocabulary import ErrorCode

from ..support import wait_until

ROWS = 2 * ROWS_PER_STATEMENT + 100  # three statements' worth


def _new_job(store, job_id: str, rows: int) -> None:
    job = {"id": job_id, "created_at": datetime.now(UTC).isoformat(), "started_by": "t", "tenant_host": "h",
           "kind": "customer", "status": "running", "total": rows}
    store.create_job(job, [(row, [f"+44 {row:06d}"], {"uniqueId": f"u{row}"}, "") for row in range(1, rows + 1)])


def _sent(store, job_id: str) -> dict[int, str | None]:
    return {r["row"]: r["sent_at"] for r in store.query("SELECT row, sent_at FROM job_rows WHERE job_id = ?", [job_id])}


def test_many_outcomes_land_each_with_its_own_values(store_target, open_store):
    store = open_store(store_target)
    _new_job(store, "j1", ROWS)
    issued = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)
    for row in range(1, ROWS + 1):
        ok = row % 3 != 0
        store.record_result("j1", RowResult(
            row, ok, None if ok else ErrorCode.NOT_FOUND, "" if ok else f"no agent {row}", attempts=1 + row % 2,
            issued_at=issued if ok else None, token_fingerprint=f"fp{row}" if ok else None))
    store.record_result("j1", RowResult(7, True, attempts=2, issued_at=issued, token_fingerprint="again"))
    store.flush()
    rows = {row.row: row for row in store.rows("j1")}
    assert len(rows) == ROWS
    for number in (1, 3, 250, 251, 300, 501, ROWS):
        row, ok = rows[number], number % 3 != 0
        assert (row.outcome, row.fingerprint, row.input) == ("ok" if ok else "failed", f"fp{number}" if ok else None,
                                                              [f"+44 {number:06d}"])
        assert row.message == (None if ok else f"no agent {number}") and row.attempts == 1 + number % 2
        assert row.issued_at == (issued if ok else None)
    assert rows[7].attempts == 2 + 2 and rows[7].fingerprint == "again"  # attempts add up across answers
    assert store.job("j1").failed == ROWS // 3


def test_many_audit_entries_land_in_order_each_with_its_own_values(store_target, open_store):
    store = open_store(store_target)
    audit(store, [AuditEntry("alice", "h", "customer", "ok", subject=f"p{n}", one_time_use=n % 2 == 0, job_id="j")
                  for n in range(ROWS)])
    audit(store, [AuditEntry("bob", "h", "agent", "failed", error_code="not_found")], now=True)
    store.flush()
    entries = audit_frame(store, AuditFilter(user="alice"), limit=-1)
    assert len(entries) == ROWS and list(entries["subject"][:3]) == [f"p{ROWS - 1}", f"p{ROWS - 2}", f"p{ROWS - 3}"]
    assert list(entries["one_time_use"][:2]) == [(ROWS - 1) % 2 == 0, (ROWS - 2) % 2 == 0]
    assert list(audit_frame(store, AuditFilter(user="bob"))["error_code"]) == ["not_found"]


def test_a_row_is_marked_in_the_store_before_its_request_may_leave(store_target, open_store):
    store = open_store(store_target)
    _new_job(store, "j2", 400)
    order = list(range(400, 0, -2))  # the runner's order: any order, rows without a request left out
    marks = SentMarks(store, "j2", order, ahead=8)
    seen_unmarked, lock = [], threading.Lock()
    work = iter(order)

    def worker() -> None:
        while (row := next(work, None)) is not None:
            marks(row)
            if _sent(store, "j2")[row] is None:  # what another server, or a restart, would read now
                with lock:
                    seen_unmarked.append(row)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sent = _sent(store, "j2")
    assert not seen_unmarked
    assert {row for row, at in sent.items() if at} == set(order)  # never a row outside the plan


def test_marks_run_at_most_two_blocks_ahead_of_the_row_leaving(store_target, open_store):
    store = open_store(store_target)
    _new_job(store, "j3", 100)
    marks = SentMarks(store, "j3", list(range(1, 101)), ahead=5)
    for row in range(1, 41):
        marks(row)
        store.flush()  # the block asked for in the background, too
        marked = [number for number, at in _sent(store, "j3").items() if at]
        assert max(marked) - row <= 2 * 5 and len(marked) == max(marked)  # a prefix of the plan
    marks(99)  # a row out of turn (none comes so in a run) is marked before it leaves, too
    assert _sent(store, "j3")[99] is not None


class _HeldStore:
    """A store whose commits happen when the test says (commit_soon's events)."""

    def __init__(self):
        self.commits: list[threading.Event] = []

    def submit(self, work) -> None:
        pass

    def commit_soon(self) -> threading.Event:
        self.commits.append(threading.Event())
        return self.commits[-1]


def test_a_row_whose_block_is_committed_leaves_without_waiting_for_the_next_block():
    store = _HeldStore()
    marks = SentMarks(store, "j", list(range(1, 101)), ahead=4)

    def leaves(row: int, within: float = 5.0) -> bool:
        thread = threading.Thread(target=marks, args=(row,), daemon=True)
        thread.start()
        thread.join(within)  # nothing here takes time: a row that may leave returns at once
        return not thread.is_alive()

    assert not leaves(1, within=0.2)  # its block [1-4] is not committed yet (it is still waiting)
    store.commits[0].set()
    assert leaves(2)  # asks the next block [5-8], which is not committed, and need not be
    assert len(store.commits) == 2 and not store.commits[1].is_set()
    assert leaves(3) and leaves(4)
    assert not leaves(5, within=0.2)


def test_a_run_is_waited_for_until_its_status_is_stored(sandbox, tmp_path, open_store, monkeypatch):
    """`bulk` follows its run with short waits and exits when one says it is over: a wait that
    said so at the report, before the run's thread stored its status, left the run "running"."""
    from commbox_core.fields import Kind
    from commbox_core.service.manager import JobManager

    from .test_store import customers

    store = open_store(tmp_path / "s.sqlite3")
    release, set_status = threading.Event(), store.set_status
    monkeypatch.setattr(store, "set_status", lambda job_id, status, error=None: (
        status == "running" or release.wait(30)) and set_status(job_id, status, error))  # the end's, held
    table, prepared, _ = customers(3)
    job = JobManager(store).start(sandbox.settings(), table, prepared, Kind.CUSTOMER)
    wait_until(lambda: job.report is not None, timeout=30)  # the rows are done; the thread is not
    assert not job.wait(0.05)
    release.set()
    assert job.wait(30) and store.job(job.id).status == "done"
