"""Copy a whole job store into another (SQLite to PostgreSQL, or back), then check it row for row.

Both stores are opened at the current schema, so the same tables and columns exist on both sides;
the target must be empty. Tables go parents first, as their references need, in chunks, each in
one transaction; the audit log keeps its ids (and PostgreSQL's id sequence is moved past them).
"""

from __future__ import annotations

import hashlib

from commbox_core.errors import ConsoleError
from commbox_core.storage.store import JobStore

TABLES = ("jobs", "job_rows", "invitations", "audit")  # parents before children
CHUNK_ROWS = 2_000


def copy_store(source: JobStore, target: JobStore) -> dict[str, int]:
    """Rows copied per table; raises ConsoleError if the target is not empty or the copy differs."""
    held = {table: _count(target, table) for table in TABLES}
    if any(held.values()):
        found = ", ".join(f"{n} {table}" for table, n in held.items() if n)
        raise ConsoleError(f"the target store {target.location} is not empty ({found}): copy into an empty one")
    copied = {table: _copy_table(source, target, table) for table in TABLES}
    if target.database.dialect == "postgresql":
        target.transaction(lambda conn: conn.execute(
            "SELECT setval(pg_get_serial_sequence('audit', 'id'), (SELECT COALESCE(max(id), 0) + 1 FROM audit), false)"))
    for table in TABLES:
        if _digest(source, table) != _digest(target, table):
            raise ConsoleError(f"the copy of {table} differs from {source.location}: the target is incomplete")
    return copied


def _count(store: JobStore, table: str) -> int:
    return store.query(f"SELECT count(*) FROM {table}")[0][0]


def _copy_table(source: JobStore, target: JobStore, table: str) -> int:
    copied = 0
    with source.database.connection() as conn:
        cursor = conn.execute(f"SELECT * FROM {table}")
        columns = ", ".join(f'"{column[0]}"' for column in cursor.description)
        insert = f"INSERT INTO {table} ({columns}) VALUES ({', '.join('?' * len(cursor.description))})"
        while chunk := cursor.fetchmany(CHUNK_ROWS):
            rows = [tuple(row) for row in chunk]
            target.transaction(lambda write, rows=rows: write.executemany(insert, rows))
            copied += len(rows)
    return copied


def _digest(store: JobStore, table: str) -> int:
    """Every row's values hashed and summed: equal digests, equal tables. A sum, not a hash of
    the rows in order, because the two databases order text differently."""
    total = 0
    with store.database.connection() as conn:
        cursor = conn.execute(f"SELECT * FROM {table}")
        names = [column[0] for column in cursor.description]
        while chunk := cursor.fetchmany(CHUNK_ROWS):
            for row in chunk:
                one = hashlib.sha256(repr(sorted(zip(names, tuple(row)))).encode()).digest()
                total = (total + int.from_bytes(one, "big")) % 2**256
    return total
