"""Where the job store lives: a SQLite file (the embedded default) or a PostgreSQL database
shared by several servers, chosen by what is given: a path or `sqlite:///path`, or
`postgresql://…`. The store writes one SQL for both; this module owns the few differences.

- Connections come from `Database.connection()`, a context manager: a new SQLite connection each
  time (cheap, and WAL lets readers and one writer work at once), or one from a psycopg pool.
- PostgreSQL connections are wrapped so the store's `?` placeholders and `row["name"]` /
  `row[0]` access work unchanged, and `BEGIN IMMEDIATE` (SQLite's "take the write lock now")
  becomes a plain BEGIN: PostgreSQL locks the rows an UPDATE touches, so a conditional UPDATE
  still lets exactly one of many racing callers through.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from commbox_core.vocabulary import POSTGRES_URL_PREFIXES, SQLITE_URL_PREFIX

BUSY_TIMEOUT_MS = 15_000
CONNECT_TIMEOUT_S = 10
POOL_SIZE = 8  # connections a process keeps to PostgreSQL: its writer, reads, invitation clicks


def is_postgres(target: str | Path) -> bool:
    return isinstance(target, str) and f"{urlsplit(target).scheme}://" in POSTGRES_URL_PREFIXES


def open_database(target: str | Path) -> SQLiteDatabase | PostgresDatabase:
    if is_postgres(target):
        return PostgresDatabase(str(target))
    text = str(target)
    return SQLiteDatabase(Path(text.removeprefix(SQLITE_URL_PREFIX)))


class SQLiteDatabase:
    dialect = "sqlite"

    def __init__(self, path: Path):
        self.path = path.resolve()  # a relative data folder must not follow later chdirs
        self.location = str(self.path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        _create_owner_only(self.path)
        with self.connection() as conn:
            _use_wal(conn)

    @contextmanager
    def connection(self) -> Iterator[sqlite3.Connection]:
        conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                               check_same_thread=False)
        with closing(conn):
            conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable across a process crash
            conn.row_factory = sqlite3.Row
            yield conn

    def close(self) -> None:
        pass


def _create_owner_only(path: Path) -> None:
    """A new store file readable by its owner only: rows hold people's names, emails and phones
    (SQLite gives its -wal and -shm files the database file's permissions). Never an open() and
    close() of a file that exists: closing any descriptor of a file drops every POSIX lock this
    process holds on it, those of its SQLite connections too, and another process could then
    take the file for its own (https://www.sqlite.org/howtocorrupt.html, 2.2). A second store on
    the same file in one process (a test, a notebook) did that: "database disk image is malformed"."""
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError:
        pass


def _use_wal(conn: sqlite3.Connection) -> None:
    """Switch the file to WAL. The switch needs the file to itself and, unlike other statements,
    can fail at once as locked rather than wait its turn (two processes opening a new store
    together: 1 in 8 failed), so it is retried here for as long as the busy timeout."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


class PostgresDatabase:
    dialect = "postgresql"

    def __init__(self, url: str):
        import psycopg  # only a PostgreSQL store pays for the driver
        from psycopg_pool import ConnectionPool

        self.location = without_password(url)
        # One plain connection first: a wrong URL or a server that is down is said at once, where
        # the pool would keep trying for its whole timeout.
        psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT_S).close()
        self._pool = ConnectionPool(url, min_size=1, max_size=POOL_SIZE, open=False, name="commbox-store",
                                    kwargs={"autocommit": True, "row_factory": _row_factory})
        self._pool.open(wait=True, timeout=BUSY_TIMEOUT_MS / 1000)

    @contextmanager
    def connection(self) -> Iterator[PostgresConnection]:
        with self._pool.connection(timeout=BUSY_TIMEOUT_MS / 1000) as conn:
            yield PostgresConnection(conn)

    def close(self) -> None:
        self._pool.close()


class PostgresConnection:
    """The part of sqlite3.Connection's interface the store uses, over a psycopg connection."""

    dialect = "postgresql"

    def __init__(self, conn):
        self._conn = conn

    def execute(self, sql: str, params: Iterable = ()):
        return self._conn.execute(_postgres_sql(sql), tuple(params))

    def executemany(self, sql: str, seq: Iterable[Iterable]):
        cursor = self._conn.cursor()
        cursor.executemany(_postgres_sql(sql), [tuple(params) for params in seq])
        return cursor


def _postgres_sql(sql: str) -> str:
    if sql == "BEGIN IMMEDIATE":
        return "BEGIN"
    # The store's SQL holds no literal ? or %: every value travels as a parameter.
    return sql.replace("%", "%%").replace("?", "%s")


class Row(tuple):
    """A result row by position or by column name, like sqlite3.Row."""

    names: tuple[str, ...] = ()

    def __getitem__(self, key):
        if isinstance(key, str):
            return tuple.__getitem__(self, self.names.index(key))
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self.names)


def _row_factory(cursor):
    names = tuple(column.name for column in cursor.description or ())
    kind = type("Row", (Row,), {"names": names, "__slots__": ()})
    return kind


def without_password(url: str) -> str:
    """The URL to show in messages and logs: never its password."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    user = f"{parts.username}:***@" if parts.username else ""
    port = f":{parts.port}" if parts.port else ""
    return urlunsplit((parts.scheme, f"{user}{host}{port}", parts.path, parts.query, parts.fragment))
