"""Tables of stored runs for the History page (no Streamlit here): runs from the job store,
with live figures for the runs this process is running, and one stored run's outcomes."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from .store import StoredJob, StoredRow
from .views import PURPOSE_LABELS, STATUS_LABELS, format_duration, local_time, outcome_frame

RESUMABLE = frozenset({"interrupted", "cancelled", "stopped", "unreachable", "failed"})
STORED_STATUS_LABELS = STATUS_LABELS | {"interrupted": "interrupted: resume it"}
RUN_COLUMNS = ["run", "started", "file", "kind", "purpose", "status", "rows", "succeeded", "failed", "unsent",
               "duration", "started by", "follows up"]


def stored_runs_frame(stored: Iterable[StoredJob], live: dict) -> pd.DataFrame:
    """One line per stored run, newest first; `live` (id -> jobs.Job) overrides the figures of
    runs held by this process, which are fresher than the store's last flush."""
    lines = []
    for record in stored:
        job = live.get(record.id)
        status, ok, failed = record.status, record.succeeded, record.failed
        ended = record.finished_at if record.status not in ("interrupted", "queued", "running") else None
        duration = (ended - record.created_at).total_seconds() if ended else None  # interrupted: unknown end
        if job is not None:
            results = job.results()
            status = job.status
            ok, failed = sum(r.ok for r in results), sum(not r.ok for r in results)
            if job.report is not None:
                duration = job.report.summary()["duration_s"]
            elif not job.earlier:
                duration = job.progress().elapsed_s
        lines.append({
            "run": record.id,
            "started": local_time(record.created_at),
            "file": record.source_name or "–",
            "kind": f"{record.kind}s",
            "purpose": PURPOSE_LABELS.get(record.purpose, record.purpose),
            "status": STORED_STATUS_LABELS.get(status, status),
            "rows": record.total,
            "succeeded": ok,
            "failed": failed,
            "unsent": max(0, record.total - ok - failed),
            "duration": format_duration(duration) if duration is not None else "–",
            "started by": record.started_by,
            "follows up": record.parent_id or "",
        })
    return pd.DataFrame(lines, columns=RUN_COLUMNS)


def stored_outcomes(rows: list[StoredRow], kind: str) -> pd.DataFrame:
    """A stored run's outcomes, as outcome_frame gives them for a run in memory (never a link)."""
    return outcome_frame([row.result() for row in rows], {row.row: _subject(row, kind) for row in rows})


def stored_label(record: StoredJob) -> str:
    extra = "" if record.purpose == "run" else f" ({PURPOSE_LABELS.get(record.purpose, record.purpose)})"
    return (f"{local_time(record.created_at)} · {record.source_name or 'run'}{extra} · {record.total:,} "
            f"{record.kind}s · {record.status} · {record.id}")


def _subject(row: StoredRow, kind: str) -> str:
    request = row.request or {}
    if kind == "agent":
        return request.get("username") or ""
    return request.get("uniqueId") or request.get("email") or request.get("phone1") or ""
