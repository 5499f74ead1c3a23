"""The job store's writer thread: row outcomes and audit entries are queued and committed in
batches (every FLUSH_EVERY_S or BATCH_ROWS), so a run never waits on the disk and a crash loses
at most the answers of the last fraction of a second. A heartbeat rides along every HEARTBEAT_S.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass
from typing import Any

FLUSH_EVERY_S = 0.2
BATCH_ROWS = 500
HEARTBEAT_S = 5.0
ROWS_PER_STATEMENT = 250  # SQLite takes 32,766 values a statement, PostgreSQL 65,535: 16 columns fit


@dataclass(frozen=True)
class ManyRows:
    """A statement for any number of rows: `head`, then `each` once per row (comma-separated),
    then `tail`. Sent once for many rows, it costs one step where executemany costs one a row,
    and SQLite's driver lets go of the GIL at every step and waits to take it back: under a busy
    run (a dozen threads) that wait made each commit take milliseconds."""

    head: str
    each: str
    tail: str = ""

    def sql(self, count: int) -> str:
        return f"{self.head}{', '.join([self.each] * count)}{self.tail}"


def update_rows(table: str, keys: Sequence[str], columns: Sequence[str], *, integers: Sequence[str] = (),
                added: Sequence[str] = ()) -> ManyRows:
    """UPDATE `table` row by row, found by `keys`, setting `columns` (`added` ones add to the
    value there) from one (keys..., columns...) tuple a row. `integers` are cast, since
    PostgreSQL reads untyped parameters in a VALUES list as text."""
    names = [*keys, *columns]
    slots = ", ".join("CAST(? AS INTEGER)" if name in integers else "?" for name in names)
    sets = ", ".join(f"{c} = {table}.{c} + v.{c}" if c in added else f"{c} = v.{c}" for c in columns)
    where = " AND ".join(f"{table}.{key} = v.{key}" for key in keys)
    return ManyRows(f"WITH v({', '.join(names)}) AS (VALUES ", f"({slots})",
                    f") UPDATE {table} SET {sets} FROM v WHERE {where}")


def run_rows(conn, statement: str | ManyRows, rows: list[tuple]) -> None:
    """Run `statement` for every row: a ManyRows in statements of ROWS_PER_STATEMENT rows."""
    if not isinstance(statement, ManyRows):
        conn.executemany(statement, rows)
        return
    for start in range(0, len(rows), ROWS_PER_STATEMENT):
        chunk = rows[start:start + ROWS_PER_STATEMENT]
        conn.execute(statement.sql(len(chunk)), [value for row in chunk for value in row])


# A write: a function of a connection (storage/database.py), or one row's (statement, values).
# Rows between two functions go as few statements as their statements allow (run_rows): a few
# round trips a commit, not one a row. Rows of different statements may so change places: they
# touch other rows or columns.
Write = Callable[[Any], None] | tuple[str | ManyRows, tuple]
_log = logging.getLogger(__name__)


def in_transaction(conn, writes: list[Write]) -> None:
    conn.execute("BEGIN IMMEDIATE")
    try:
        rows: dict[str | ManyRows, list[tuple]] = {}
        for write in writes:
            if isinstance(write, tuple):
                rows.setdefault(write[0], []).append(write[1])
            else:  # a function sees every row written before it
                _execute_rows(conn, rows)
                rows = {}
                write(conn)
        _execute_rows(conn, rows)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _execute_rows(conn, rows: dict[str | ManyRows, list[tuple]]) -> None:
    for statement, values in rows.items():
        run_rows(conn, statement, values)


class BatchWriter:
    def __init__(self, connection: Callable[[], AbstractContextManager], *, heartbeat: Write,
                 heartbeat_s: float = HEARTBEAT_S):
        self._heartbeat_s = heartbeat_s
        self._connection = connection
        self._heartbeat = heartbeat
        self._writes: queue.Queue[Write | threading.Event | None] = queue.Queue()
        self._thread = threading.Thread(target=self._write_loop, name="job-store-writer", daemon=True)
        self._thread.start()

    def submit(self, work: Write) -> None:
        """Queue a write; it lands within FLUSH_EVERY_S, in the order submitted."""
        self._writes.put(work)

    def commit_soon(self) -> threading.Event:
        """Have every write submitted so far committed at once; the event is set when it is."""
        done = threading.Event()
        self._writes.put(done)
        return done

    def flush(self, timeout: float | None = 30.0) -> None:
        """Wait until every write submitted so far is committed."""
        self.commit_soon().wait(timeout)

    def close(self) -> None:
        self.flush()
        self._writes.put(None)
        self._thread.join(5)

    def _write_loop(self) -> None:
        held = ExitStack()  # one connection for the writer's life; a new one after a failed batch
        conn = None
        next_beat = time.monotonic()
        while True:
            batch, events, stop = self._next_batch(max(0.05, next_beat - time.monotonic()))
            if time.monotonic() >= next_beat:
                batch.append(self._heartbeat)
                next_beat = time.monotonic() + self._heartbeat_s
            if batch:
                try:
                    conn = conn or held.enter_context(self._connection())
                    in_transaction(conn, batch)
                except Exception:  # noqa: BLE001 - the writer must outlive a bad batch (disk full, lock, network)
                    _log.exception("the job store could not write %d changes", len(batch))
                    conn = None
                    held.close()
            for event in events:
                event.set()
            if stop:
                held.close()
                return

    def _next_batch(self, wait_s: float) -> tuple[list[Write], list[threading.Event], bool]:
        """The writes to commit together: those arriving within FLUSH_EVERY_S, or on a flush, at
        once, with whatever is already queued behind it (group commit: the marks of rows about to be
        sent share a commit with whatever else is waiting)."""
        batch: list[Write] = []
        events: list[threading.Event] = []
        try:
            item = self._writes.get(timeout=wait_s)
        except queue.Empty:
            return batch, events, False
        deadline = time.monotonic() + FLUSH_EVERY_S
        flushing = False
        while True:
            if item is None:
                return batch, events, True
            if isinstance(item, threading.Event):
                events.append(item)
                flushing = True
            else:
                batch.append(item)
            if len(batch) >= BATCH_ROWS:
                return batch, events, False
            try:
                item = (self._writes.get_nowait() if flushing
                        else self._writes.get(timeout=max(0.0, deadline - time.monotonic())))
            except queue.Empty:
                return batch, events, False
