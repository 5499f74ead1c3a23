"""Moving a job store: everything in one (SQLite, say) copied into an empty other (PostgreSQL)."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path

from commbox_core.storage.copy import copy_store
from commbox_core.storage.store import JobStore


def copy_job_store(source: Path | str, target: Path | str) -> tuple[str, str, dict[str, int]]:
    """(source shown, target shown, rows copied per table); checked row for row, or ConsoleError."""
    with closing(JobStore(source)) as from_store, closing(JobStore(target)) as to_store:
        copied = copy_store(from_store, to_store)
        return from_store.location, to_store.location, copied
