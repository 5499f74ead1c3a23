"""Tables of stored runs for the History page (no Streamlit here): runs from the job store,
with live figures for the runs this process is running, and one stored run's outcomes."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import pandas as pd

from commbox_core.outputs.views import outcome_frame
from commbox_core.outputs.wording import PURPOSE_LABELS, STATUS_LABELS, counted, format_duration, utc_time
from commbox_core.storage.store import StoredJob, StoredRow
from commbox_core.tables.read import InputTable
from commbox_core.vocabulary import ErrorCode, RunStatus

STORED_STATUS_LABELS = STATUS_LABELS | {"interrupted": "interrupted: resume it"}
RUN_COLUMNS = ["run", "started", "file", "kind", "purpose", "status", "rows", "succeeded", "failed", "unsent",
               "in doubt", "duration", "started by", "follows up"]


def stored_runs_frame(stored: Iterable[StoredJob], live: dict) -> pd.DataFrame:
    """One line per stored run, newest first; `live` (id -> jobs.Job) overrides the figures of
    runs held by this process, which are fresher than the store's last flush."""
    lines = []
    for record in stored:
        job = live.get(record.id)
        status, ok, failed, not_sent = record.status, record.succeeded, record.failed, record.not_sent
        ended = record.finished_at if record.status is not RunStatus.INTERRUPTED and not record.status.active else None
        duration = (ended - record.created_at).total_seconds() if ended else None  # interrupted: unknown end
        if job is not None:
            results = job.results()
            status = job.status
            ok, failed = sum(r.ok for r in results), sum(not r.ok for r in results)
            not_sent = sum(r.error_code is ErrorCode.NOT_ATTEMPTED for r in results)
            if job.report is not None:
                duration = job.report.summary()["duration_s"]
            elif not job.earlier:
                duration = job.progress().elapsed_s
        lines.append({
            "run": record.id,
            "started": utc_time(record.created_at),
            "file": record.source_name or "–",
            "kind": f"{record.kind}s",
            "purpose": PURPOSE_LABELS.get(record.purpose, record.purpose),
            "status": STORED_STATUS_LABELS.get(status, status),
            "rows": record.total,
            "succeeded": ok,
            "failed": failed - not_sent,
            "unsent": max(0, record.total - ok - failed) + not_sent,  # never answered, or never sent
            "in doubt": record.in_doubt,  # rows in flight when a server of the run died (sent again)
            "duration": format_duration(duration) if duration is not None else "–",
            "started by": record.started_by,
            "follows up": record.parent_id or "",
        })
    return pd.DataFrame(lines, columns=RUN_COLUMNS)


def stored_outcomes(rows: list[StoredRow], kind: str, table: InputTable | None = None,
                    runs: list[str] | None = None) -> pd.DataFrame:
    """A stored run's outcomes, as outcome_frame gives them for a run in memory (never a link);
    with the run's rebuilt `table`, its own columns too; with `runs`, each row's run."""
    return outcome_frame([row.result() for row in rows], {row.row: _subject(row, kind) for row in rows}, table, runs)


def audit_view(entries: pd.DataFrame) -> pd.DataFrame:
    """The audit log as History shows it: each time in UTC to the second, and a blank where an entry
    has no value (a single ticket has no run), never "None". The export keeps the stored values."""
    shown = entries.copy()
    shown["at"] = pd.array([utc_time(datetime.fromisoformat(at)) if at else "" for at in shown["at"]], dtype="str")
    for column in shown.columns:
        if shown[column].dtype != bool:
            shown[column] = shown[column].fillna("")
    return shown


def stored_label(record: StoredJob, live_status: RunStatus | None = None) -> str:
    """A run's name in a chooser; `live_status`: the status of a run this process holds, which
    the store has a moment later."""
    extra = "" if record.purpose == "run" else f" ({PURPOSE_LABELS.get(record.purpose, record.purpose)})"
    return (f"{utc_time(record.created_at)} · {record.source_name or 'run'}{extra} · {record.total:,} "
            f"{record.kind}s · {live_status or record.status} · {record.id}")


def _subject(row: StoredRow, kind: str) -> str:
    request = row.request or {}
    if kind == "agent":
        return request.get("username") or ""
    return request.get("uniqueId") or request.get("email") or request.get("phone1") or ""


def history_frame(jobs: Iterable, now: datetime) -> pd.DataFrame:
    """One line per run (jobs.Job), newest first: counts come from the report or live progress."""
    lines = []
    for job in jobs:
        progress = job.progress()
        summary = job.report.summary() if job.report is not None else None
        lines.append(
            {
                "run": job.id,
                "started": utc_time(job.created_at),
                "file": job.source_name or "–",
                "kind": f"{job.kind}s",
                "purpose": PURPOSE_LABELS.get(job.purpose, job.purpose),
                "status": STATUS_LABELS.get(job.status, job.status),
                "rows": len(job.prepared),
                "succeeded": summary["succeeded"] if summary else progress.ok,
                "failed": summary["failed"] if summary else progress.failed,
                "duration": format_duration(summary["duration_s"] if summary else progress.elapsed_s),
                "follows up": job.parent_id or "",
            }
        )
    columns = ["run", "started", "file", "kind", "purpose", "status", "rows", "succeeded", "failed", "duration", "follows up"]
    return pd.DataFrame(lines, columns=columns)


def run_label(job) -> str:
    """A run as a person picks it from a list."""
    name = job.source_name or "run"
    extra = "" if job.purpose == "run" else f" ({PURPOSE_LABELS.get(job.purpose, job.purpose)})"
    return f"{utc_time(job.created_at)} · {name}{extra} · {len(job.prepared):,} {job.kind}s · {job.status} · {job.id}"


def outcomes_shown(frame: pd.DataFrame, limit: int) -> pd.DataFrame:
    """At most `limit` of a run's outcomes for a page's table, those that failed first (the ones
    to look at), then the rest in row order. A 20,000-row table made a History visit twice as
    long, in the server and in the browser, for rows nobody reads on screen: the file has them."""
    if len(frame) <= limit:
        return frame
    return pd.concat([frame[~frame["ok"]], frame[frame["ok"]]]).head(limit)


def outcomes_shown_caption(frame: pd.DataFrame, shown: pd.DataFrame) -> str | None:
    """What a cut-down table holds, worded by case (None: every row is shown)."""
    if len(shown) == len(frame):
        return None
    failed = int((~frame["ok"]).sum())
    every = "the file below has every row."
    if failed == 0:
        return f"The first {len(shown):,} of {len(frame):,} rows, none of which failed: {every}"
    if failed >= len(shown):
        return f"{len(shown):,} of the {counted(failed, 'failed row')} shown ({len(frame):,} rows in all): {every}"
    return (f"{len(shown):,} of {len(frame):,} rows shown: the {counted(failed, 'failed row')} first, then the "
            f"others in row order. The file below has every row.")
