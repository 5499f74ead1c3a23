"""Marks in the job store that rows' requests may have left, committed before they leave.

After a crash, the rows marked and unanswered are the rows in doubt: a resume sends them again
and reports them. Committing one mark per request made every request wait for a commit (a
fifth of a run's rate at 0 ms), so rows are marked a block at a time, in the order the runner
sends them, and the next block is committed while the current one is being sent: a request
waits only when it overtakes the marks.

What that costs: a crash can also leave in doubt rows marked but not yet sent, at most
2 x `ahead` of them beyond the requests in flight, and the answers that were waiting for the
commit the next block brings. Sending those on resume is what would happen to them anyway, and
a ticket nobody received is harmless.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from commbox_core.storage.store import JobStore, now_iso
from commbox_core.storage.writer import update_rows
from commbox_core.tickets.prepare import PreparedRow

# Rows a block marks, per request in flight: a block must outlast a commit, which takes 4-5 ms
# in a busy run (9 ms at the 90th percentile: the writer's thread waits for the GIL at each
# step). A 20,000-row run at 1,100 rows/s, 8 in flight, watched in the dashboard: blocks of 16
# made requests wait 670-840 times (2.7 s in all); blocks of 32, 12-35 times (0.1 s), at its start.
AHEAD_PER_REQUEST = 4
_MARK = update_rows("job_rows", ("job_id", "row"), ("sent_at",), integers=("row",))


class SentMarks:
    """`before_send` for a run's runner: `rows` in the order it sends them (those with a request)."""

    @classmethod
    def of(cls, store: JobStore, job_id: str, prepared: Sequence[PreparedRow], *, concurrency: int) -> SentMarks:
        """For a runner sending `prepared` (rows without a request are never sent), `concurrency` at once."""
        return cls(store, job_id, [p.row for p in prepared if p.request is not None],
                   ahead=AHEAD_PER_REQUEST * concurrency)

    def __init__(self, store: JobStore, job_id: str, rows: list[int], *, ahead: int):
        self._store, self._job_id, self._rows = store, job_id, rows
        self._index = {row: index for index, row in enumerate(rows)}
        self._ahead = max(1, ahead)
        self._asked = 0  # rows[:_asked] are marked or queued to be
        self._pending: list[tuple[int, int, threading.Event]] = []  # (start, end index, committed) per block
        self._lock = threading.Lock()

    def __call__(self, row: int) -> None:
        """Return once `row` is marked in the store, and keep the next block's marks coming."""
        index = self._index.get(row)
        if index is None:  # not in the plan given: mark it alone, as before
            self._store.submit((_MARK, (self._job_id, row, now_iso())))
            self._store.flush()
            return
        with self._lock:
            if index + self._ahead >= self._asked:
                self._ask(max(index + 1, self._asked + self._ahead))
            while self._pending and self._pending[0][2].is_set():
                del self._pending[0]
            waiting = next((done for start, end, done in self._pending if start <= index < end), None)
        if waiting is not None:  # this row's block is not committed yet (None: it is)
            waiting.wait(30.0)

    def _ask(self, end: int) -> None:
        end = min(end, len(self._rows))
        moment = now_iso()
        for row in self._rows[self._asked:end]:
            self._store.submit((_MARK, (self._job_id, row, moment)))
        self._pending.append((self._asked, end, self._store.commit_soon()))
        self._asked = end
