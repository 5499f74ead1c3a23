"""The job store: jobs, their rows, invitations and the audit log, in one SQLite file (WAL, busy
timeout) or one PostgreSQL database that several servers share (storage/database.py).

Reads open a short-lived connection each. Writes of row outcomes go through one writer thread
per store (storage/writer.py), batched, so a run never waits on the disk and a
crash loses at most the answers of the last fraction of a second. Tokens are never written:
a row keeps the token's fingerprint only.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from commbox_core.errors import ConsoleError
from commbox_core.runs.results import RowResult
from commbox_core.storage.database import open_database, without_password
from commbox_core.storage.records import StoredJob, StoredRow
from commbox_core.storage.schema import migrate
from commbox_core.storage.writer import BatchWriter, Write, in_transaction, update_rows
from commbox_core.vocabulary import ACTIVE, Purpose, RunStatus

__all__ = ["JobStore", "StoredJob", "StoredRow", "default_store", "now_iso"]

LEASE_S = 60.0  # a run's owner renews its lease (the heartbeat); silent this long, it is gone
# A run's counts: (column suffix, test of a job_rows row r, name in StoredJob).
_COUNTS = (("ok", "r.outcome = 'ok'", "succeeded"), ("failed", "r.outcome = 'failed'", "failed"),
           ("unanswered", "r.outcome IS NULL", "unanswered"), ("in_doubt", "r.in_doubt = 1", "in_doubt"),
           ("not_sent", "r.error_code = 'not_attempted'", "not_sent"))


def _row_count(test: str, job: str) -> str:
    return f"(SELECT count(*) FROM job_rows r WHERE r.job_id = {job}.id AND {test})"


_COUNTED = ", ".join(f"counted_{name} = {_row_count(test, 'jobs')}" for name, test, _ in _COUNTS)
_UNCOUNTED = ", ".join(f"counted_{name} = NULL" for name, _, _ in _COUNTS)
# An ended run's counts are kept (set_status); only a running one's rows are counted.
_LISTED_COUNTS = ", ".join(
    f"CASE WHEN j.counted_{name} IS NULL THEN {_row_count(test, 'j')} ELSE j.counted_{name} END AS {alias}"
    for name, test, alias in _COUNTS)
_RECORD_RESULT = update_rows(
    "job_rows", ("job_id", "row"),
    ("outcome", "error_code", "message", "attempts", "issued_at", "expires_at", "fingerprint", "updated_at"),
    integers=("row", "attempts"), added=("attempts",))
_ACTIVE_SQL = "(" + ", ".join(f"'{status}'" for status in sorted(ACTIVE)) + ")"  # for SQL
HOST = socket.gethostname()
_log = logging.getLogger(__name__)
STORE_FILENAME = "console.sqlite3"


def default_store(settings) -> Path | str:
    """COMMBOX_DATABASE_URL when set, else the SQLite file <COMMBOX_DATA_DIR>/console.sqlite3."""
    if settings.database_url is not None and settings.database_url.get_secret_value():
        return settings.database_url.get_secret_value()
    return Path(settings.data_dir) / STORE_FILENAME


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat() if moment else None


def _moment(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, someone else's
        return True
    return True


class JobStore:
    def __init__(self, target: Path | str, *, lease_s: float = LEASE_S):
        """`target`: a SQLite file (a path, or sqlite:///path) or a postgresql:// URL. `lease_s`:
        how long a run's owner may stay silent before another server may take the run over."""
        self.lease_s = lease_s
        self.target = target  # for a run's child process to open the same store (holds a URL's password)
        try:
            self.database = open_database(target)
        except Exception as exc:  # noqa: BLE001 - any driver's error: one clear line, never the password
            raise ConsoleError(f"cannot open the job store {_shown(target)}: {_one_line(exc, target)}") from None
        try:
            with self.database.connection() as conn:
                migrate(conn)
        except BaseException as exc:
            self.database.close()  # a store that cannot be used keeps no connections
            if isinstance(exc, ConsoleError) or not isinstance(exc, Exception):
                raise
            raise ConsoleError(f"cannot open the job store {_shown(target)}: {_one_line(exc, target)}") from None
        self.location = self.database.location  # for messages: a path, or the URL without its password
        self.path = getattr(self.database, "path", None)  # the SQLite file; None on PostgreSQL
        self._writer = BatchWriter(self.database.connection, heartbeat=_heartbeat, heartbeat_s=min(5.0, lease_s / 3))
        self._closed = False

    # -- connections -----------------------------------------------------------------
    def transaction(self, work: Write) -> None:
        """Run `work` in one short write transaction, now (not through the writer thread)."""
        with self.database.connection() as conn:
            in_transaction(conn, [work])

    def query(self, sql: str, params: Iterable = ()) -> list:
        with self.database.connection() as conn:
            return conn.execute(sql, tuple(params)).fetchall()

    # -- the writer thread -------------------------------------------------------------
    def submit(self, work: Write) -> None:
        """Queue a write; it lands within FLUSH_EVERY_S, in the order submitted."""
        self._writer.submit(work)

    def commit_soon(self) -> threading.Event:
        """Have every write submitted so far committed at once, without waiting for it."""
        return self._writer.commit_soon()

    def flush(self, timeout: float | None = 30.0) -> None:
        """Wait until every write submitted so far is committed."""
        self._writer.flush(timeout)

    def close(self) -> None:
        """Commit what is queued and let go of the connections; once is enough, twice is harmless."""
        if self._closed:
            return
        self._closed = True
        self._writer.close()
        self.database.close()

    # -- jobs ----------------------------------------------------------------------
    def create_job(self, job: dict, rows: Iterable[tuple[int, list[str] | None, dict | None, str]]) -> None:
        """Insert a job and all its rows (row, input values, request, problem) before it starts."""
        values = {**job, "owner_host": HOST, "owner_pid": os.getpid(), "heartbeat_at": now_iso()}
        for key in ("options", "plan", "headers", "columns"):
            if values.get(key) is not None:
                values[key] = json.dumps(values[key])
        names = ", ".join(values)
        marks = ", ".join("?" * len(values))

        def insert(conn) -> None:
            conn.execute(f"INSERT INTO jobs ({names}) VALUES ({marks})", tuple(values.values()))
            conn.executemany(
                "INSERT INTO job_rows (job_id, row, input, request, problem) VALUES (?, ?, ?, ?, ?)",
                ((job["id"], row, json.dumps(given) if given is not None else None,
                  json.dumps(request) if request is not None else None, problem)
                 for row, given, request, problem in rows),
            )

        self.transaction(insert)

    def record_result(self, job_id: str, result: RowResult) -> None:
        args = (
            job_id, result.row, "ok" if result.ok else "failed", str(result.error_code) if result.error_code else None,
            result.error or None, result.attempts, _iso(result.issued_at), _iso(result.expires_at),
            result.token_fingerprint, now_iso(),
        )
        self.submit((_RECORD_RESULT, args))

    def set_status(self, job_id: str, status: str, error: str | None = None) -> None:
        """Through the writer, so after every row written before it: an ended run's counts are final."""
        ended = not RunStatus(status).active
        counts = _COUNTED if ended else _UNCOUNTED
        self.submit(lambda conn: conn.execute(
            f"UPDATE jobs SET status=?, error=?, finished_at=?, heartbeat_at=?, {counts} WHERE id=?",
            (status, error, now_iso() if ended else None, now_iso(), job_id)))

    def claim(self, job_id: str) -> bool:
        """Make this process the owner of a job that is not running elsewhere; False if it is."""
        self.mark_interrupted()
        claimed = []

        def take(conn) -> None:
            cursor = conn.execute(
                "UPDATE jobs SET status='running', owner_host=?, owner_pid=?, heartbeat_at=?, finished_at=NULL, "
                f"error=NULL, cancel_requested_at=NULL, cancel_requested_by=NULL, {_UNCOUNTED} "
                f"WHERE id=? AND status NOT IN {_ACTIVE_SQL}",
                (HOST, os.getpid(), now_iso(), job_id))
            claimed.append(cursor.rowcount == 1)

        self.transaction(take)
        return claimed[0]

    def mark_interrupted(self) -> list[str]:
        """Active jobs whose owner is gone become 'interrupted'; returns their ids."""
        stale = datetime.now(UTC) - timedelta(seconds=self.lease_s)
        gone = [
            row["id"] for row in self.query(
                f"SELECT id, owner_host, owner_pid, heartbeat_at FROM jobs WHERE status IN {_ACTIVE_SQL}")
            if (row["owner_host"] == HOST and not _pid_alive(row["owner_pid"] or 0))
            or (_moment(row["heartbeat_at"]) or stale) <= stale
        ]
        if gone:
            self.transaction(lambda conn: _interrupt(conn, gone))
        return gone

    def request_cancel(self, job_id: str, by: str) -> bool:
        """Ask the server running this job to cancel it; False if it is not running."""
        done = []
        self.transaction(lambda conn: done.append(conn.execute(
            f"UPDATE jobs SET cancel_requested_at=?, cancel_requested_by=? WHERE id=? AND status IN {_ACTIVE_SQL}",
            (now_iso(), by, job_id)).rowcount == 1))
        return done[0]

    def cancels_requested(self, job_ids: list[str]) -> set[str]:
        """Of these jobs, those someone asked to cancel."""
        if not job_ids:
            return set()
        marks = ", ".join("?" * len(job_ids))
        return {row["id"] for row in self.query(
            f"SELECT id FROM jobs WHERE id IN ({marks}) AND cancel_requested_at IS NOT NULL", job_ids)}

    def interrupted_since(self, moment: datetime) -> list[str]:
        """Runs interrupted (their server gone) at or after `moment`, oldest first."""
        return [row["id"] for row in self.query(
            "SELECT id FROM jobs WHERE status = 'interrupted' AND finished_at >= ? ORDER BY finished_at",
            [moment.astimezone(UTC).isoformat()])]

    def jobs(self, limit: int = 200, job_id: str | None = None) -> list[StoredJob]:
        where, params = ("WHERE j.id = ?", [job_id]) if job_id else ("", [])
        rows = self.query(
            f"SELECT j.*, {_LISTED_COUNTS} FROM jobs j {where} ORDER BY j.created_at DESC LIMIT ?",
            [*params, limit])
        return [_job(row) for row in rows]

    def job(self, job_id: str) -> StoredJob:
        found = self.jobs(1, job_id)
        if not found:
            raise ConsoleError(f"no job {job_id} in the job store {self.location}")
        return found[0]

    def upload_of(self, job_id: str) -> list[StoredJob]:
        """The upload a run belongs to: its first run (the oldest one still stored), then every
        follow-up of it and of its follow-ups, oldest first."""
        root = self.job(job_id)
        while root.parent_id and (parent := self.jobs(1, root.parent_id)):
            root = parent[0]
        rows = self.query(
            "WITH RECURSIVE upload(id) AS (SELECT id FROM jobs WHERE parent_id = ? "
            "UNION SELECT c.id FROM jobs c JOIN upload u ON c.parent_id = u.id) "
            f"SELECT j.*, {_LISTED_COUNTS} FROM jobs j WHERE j.id IN (SELECT id FROM upload) ORDER BY j.created_at",
            [root.id])
        return [root, *map(_job, rows)]

    def rows(self, job_id: str) -> list[StoredRow]:
        return [
            StoredRow(
                row["row"], json.loads(row["input"]) if row["input"] else None,
                json.loads(row["request"]) if row["request"] else None, row["problem"], row["outcome"],
                row["error_code"], row["message"], row["attempts"], _moment(row["issued_at"]),
                _moment(row["expires_at"]), row["fingerprint"], _moment(row["sent_at"]), bool(row["in_doubt"]),
            )
            for row in self.query("SELECT * FROM job_rows WHERE job_id=? ORDER BY row", [job_id])
        ]

    # -- retention and privacy -------------------------------------------------------
    def apply_retention(self, days: int) -> tuple[int, int]:
        """Delete finished jobs (with their rows and invitations), audit entries and spent single
        invitations older than `days`."""
        cutoff = (datetime.now(UTC) - timedelta(days=days)).isoformat()
        counts = []

        def prune(conn) -> None:
            counts.append(conn.execute(
                f"DELETE FROM jobs WHERE created_at < ? AND status NOT IN {_ACTIVE_SQL}", (cutoff,)).rowcount)
            counts.append(conn.execute("DELETE FROM audit WHERE at < ?", (cutoff,)).rowcount)
            # a run's invitations go with it (ON DELETE CASCADE); single ones, of no run, by age
            # once they can no longer be used (their person's details with them)
            conn.execute("DELETE FROM invitations WHERE job_id IS NULL AND created_at < ? AND expires_at < ?",
                         (cutoff, now_iso()))

        self.transaction(prune)
        return counts[0], counts[1]

    def purge_pii(self, job_id: str) -> None:
        """Forget a job's input values and requests (names, emails, phones); outcomes stay.
        The job can no longer be resumed or re-issued."""
        def purge(conn) -> None:
            conn.execute("UPDATE job_rows SET input=NULL, request=NULL, message=NULL WHERE job_id=?", (job_id,))
            conn.execute("UPDATE jobs SET pii_purged_at=?, plan=NULL WHERE id=?", (now_iso(), job_id))

        self.transaction(purge)


def _interrupt(conn, job_ids: list[str]) -> None:
    """Their server is gone: the rows it sent without an answer recorded are in doubt, the run
    is interrupted (if nobody else said so first) and its counts are kept."""
    at = now_iso()
    for job_id in job_ids:
        taken = conn.execute(f"UPDATE jobs SET status='interrupted', finished_at=? WHERE id=? AND status IN {_ACTIVE_SQL}",
                             (at, job_id)).rowcount
        if taken:
            conn.execute("UPDATE job_rows SET in_doubt=1 WHERE job_id=? AND sent_at IS NOT NULL AND outcome IS NULL",
                         (job_id,))
            conn.execute(f"UPDATE jobs SET {_COUNTED} WHERE id=?", (job_id,))


def _heartbeat(conn) -> None:
    conn.execute(f"UPDATE jobs SET heartbeat_at=? WHERE owner_host=? AND owner_pid=? AND status IN {_ACTIVE_SQL}",
                 (now_iso(), HOST, os.getpid()))


def _one_line(exc: Exception, target: Path | str) -> str:
    """A driver's message (libpq's spans lines) on one line, without the URL's password."""
    text = " ".join(str(exc).split())
    password = urlsplit(target).password if isinstance(target, str) else None
    return text.replace(password, "***") if password else text


def _shown(target: Path | str) -> str:
    return without_password(target) if isinstance(target, str) else str(target)


def _job(row) -> StoredJob:
    data = {key: value for key, value in dict(row).items() if not key.startswith("counted_")}
    for key in ("options", "plan", "headers", "columns"):
        data[key] = json.loads(data[key]) if data[key] else ({} if key == "options" else None if key == "plan" else [])
    for key in ("created_at", "heartbeat_at", "finished_at", "pii_purged_at", "cancel_requested_at"):
        data[key] = _moment(data[key])
    data["status"], data["purpose"] = RunStatus(data["status"]), Purpose(data["purpose"])
    return StoredJob(**data)
