"""Data shaped for the dashboard's tables and texts. Plain pandas and Python: no Streamlit here.

Pages call these and only lay the results out, so every rule about what a table shows (which
columns, which rows, what "expired" means, what a connection check proves) is testable
without a browser.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import pandas as pd

from .bulk import PreparedRow, Progress
from .client import TicketOutcome
from .csv_io import InputTable, match_columns
from .errors import ErrorCode
from .export import errors_frame, success_frame
from .fields import FIELD_LABELS, Kind, fields_for
from .models import FieldProblem, RowDefaults, TicketRequest
from .results import RowResult, RunReport

ROW = "row"
VALID = "valid"
REASON = "reason"
SUBJECT = "subject"
SECONDS_LEFT = "seconds_left"


# ---- Preview before a run -------------------------------------------------------------------


@dataclass(frozen=True)
class RunPlan:
    """How a run read its file: needed again to re-validate rows edited after the run."""

    mapping: dict[str, str]  # field -> column of the InputTable
    defaults: RowDefaults


def mapped_columns(mapping: Mapping[str, str], kind: Kind) -> list[str]:
    """The table columns a run reads, once each, in the order of the kind's fields."""
    columns: list[str] = []
    for name in fields_for(kind):
        column = mapping.get(name)
        if column and column not in columns:
            columns.append(column)
    return columns


def preview_frame(table: InputTable, prepared: Sequence[PreparedRow], columns: Sequence[str]) -> pd.DataFrame:
    """One line per row (index = row number): valid, reason, then the given input columns."""
    rows = [p.row for p in prepared]
    frame = pd.DataFrame(
        {
            VALID: pd.array([p.request is not None for p in prepared], dtype="bool"),
            REASON: pd.array([p.problem for p in prepared], dtype="str"),
        },
        index=pd.Index(rows, name=ROW),
    )
    values = table.frame.loc[rows, list(columns)]
    values.index = frame.index
    return pd.concat([frame, values], axis=1)


def invalid_rows(prepared: Iterable[PreparedRow]) -> list[int]:
    return [p.row for p in prepared if p.request is None]


def page_count(total: int, page_size: int) -> int:
    return max(1, math.ceil(total / page_size))


def page_of(rows: Sequence[int], page: int, page_size: int) -> list[int]:
    """The row numbers on a 1-based page (the last page when `page` is past the end)."""
    page = min(max(1, page), page_count(len(rows), page_size))
    start = (page - 1) * page_size
    return list(rows[start : start + page_size])


def edits_from_editor(shown: pd.DataFrame, edited_rows: Mapping, editable: Iterable[str]) -> dict[int, dict[str, str]]:
    """st.data_editor's {position: {column: value}} as {row number: {column: text}}."""
    allowed = set(editable)
    edits: dict[int, dict[str, str]] = {}
    for position, changes in edited_rows.items():
        row = int(shown.index[int(position)])
        for column, value in changes.items():
            if column in allowed:
                edits.setdefault(row, {})[column] = "" if value is None else str(value)
    return edits


def merge_edits(earlier: Mapping[int, Mapping[str, str]], later: Mapping[int, Mapping[str, str]]) -> dict:
    merged = {row: dict(cells) for row, cells in earlier.items()}
    for row, cells in later.items():
        merged.setdefault(row, {}).update(cells)
    return merged


def apply_edits(table: InputTable, edits: Mapping[int, Mapping[str, str]]) -> InputTable:
    """A copy of the table with edited cells. An edited row's structural problem (a ragged line)
    is dropped: the person has now looked at the row and set its values."""
    if not edits:
        return table
    frame = table.frame.copy()
    for row, cells in edits.items():
        for column, value in cells.items():
            frame.at[row, column] = value
    problems = {row: text for row, text in table.row_problems.items() if row not in edits}
    return dataclasses.replace(table, frame=frame, row_problems=problems)


def subject_by_row(table: InputTable, prepared: Iterable[PreparedRow], kind: Kind) -> dict[int, str]:
    """Who each row is for: the request's subject, or for an invalid row its best identifier."""
    subjects: dict[int, str] = {}
    guess = None
    for item in prepared:
        if item.request is not None:
            subjects[item.row] = item.request.subject
            continue
        if guess is None:
            mapping = match_columns(table.columns, kind).mapping
            order = ("username",) if kind is Kind.AGENT else ("uniqueId", "email", "phone1")
            guess = [mapping[name] for name in order if name in mapping]
        values = (str(table.frame.at[item.row, column]).strip() for column in guess)
        subjects[item.row] = next((v for v in values if v), "")
    return subjects


# ---- Results of a run -----------------------------------------------------------------------


def seconds_left(expires_at: datetime | None, now: datetime) -> int:
    if expires_at is None:
        return 0
    return max(0, math.floor((expires_at - now).total_seconds()))


def _front(frame: pd.DataFrame, first: list[str]) -> pd.DataFrame:
    rest = [c for c in frame.columns if c not in first]
    return frame[[c for c in first if c in frame.columns] + rest]


def success_view(table: InputTable, report: RunReport, subjects: Mapping[int, str], now: datetime) -> pd.DataFrame:
    """The success table: row, subject, url, expires_at, seconds_left, then the input columns."""
    frame = success_frame(table, report)
    left = {r.row: seconds_left(r.expires_at, now) for r in report.succeeded}
    frame.insert(1, SUBJECT, pd.array([subjects.get(r, "") for r in frame[ROW]], dtype="str"))
    frame[SECONDS_LEFT] = pd.array([left[r] for r in frame[ROW]], dtype="int64")
    frame.attrs = {}
    return _front(frame, [ROW, SUBJECT, "url", "expires_at", SECONDS_LEFT])


def error_view(table: InputTable, report: RunReport, subjects: Mapping[int, str]) -> pd.DataFrame:
    """The error table: row, subject, error_code, reason, retry, then the input columns."""
    frame = errors_frame(table, report).rename(columns={"error": REASON})
    retryable = {r.row for r in report.failed if r.retryable}
    frame.insert(1, SUBJECT, pd.array([subjects.get(r, "") for r in frame[ROW]], dtype="str"))
    frame["retry"] = pd.array(
        ["retry as is" if r in retryable else "fix the row first" for r in frame[ROW]], dtype="str"
    )
    frame.attrs = {}
    return _front(frame, [ROW, SUBJECT, "error_code", REASON, "retry"])


def outcome_frame(results: Sequence[RowResult], subjects: Mapping[int, str]) -> pd.DataFrame:
    """A run's outcomes for analysts: no URL, no token, safe to keep and share."""
    return pd.DataFrame(
        {
            ROW: pd.array([r.row for r in results], dtype="int64"),
            SUBJECT: pd.array([subjects.get(r.row, "") for r in results], dtype="str"),
            "ok": pd.array([r.ok for r in results], dtype="bool"),
            "error_code": pd.array([str(r.error_code) if r.error_code else "" for r in results], dtype="str"),
            "issued_at": pd.array([iso_utc(r.issued_at) for r in results], dtype="str"),
            "expires_at": pd.array([iso_utc(r.expires_at) for r in results], dtype="str"),
        }
    )


def retryable_rows(results: Iterable[RowResult]) -> list[int]:
    return [r.row for r in results if r.retryable]


def expired_rows(results: Iterable[RowResult], now: datetime) -> list[int]:
    return [r.row for r in results if r.ok and r.expires_at is not None and r.expires_at <= now]


def fixable_rows(results: Iterable[RowResult]) -> list[int]:
    """Failed rows that only an edit can change (invalid, not found, refused as bad)."""
    return [r.row for r in results if not r.ok and not r.retryable and r.error_code is not ErrorCode.UNAUTHORIZED]


def live_links(results: Iterable[RowResult], now: datetime) -> tuple[int, datetime | None]:
    """How many links are still valid, and when the next of them expires."""
    ends = [r.expires_at for r in results if r.ok and r.expires_at is not None and r.expires_at > now]
    return len(ends), min(ends) if ends else None


# ---- Progress and history -------------------------------------------------------------------


def format_duration(seconds: float | None) -> str:
    if seconds is None or seconds != seconds:
        return "–"
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def progress_text(progress: Progress) -> str:
    """One line for the progress bar: counts, rate and time left."""
    parts = [
        f"{progress.done:,} of {progress.total:,} rows",
        f"{progress.ok:,} ok",
        f"{progress.failed:,} failed",
    ]
    if progress.rate > 0:
        parts.append(f"{progress.rate:,.1f} rows/s")
    if progress.eta_s is not None:
        parts.append(f"about {format_duration(progress.eta_s)} left")
    if progress.throttled:
        parts.append(f"throttled {progress.throttled:,}×")
    return " · ".join(parts)


STATUS_LABELS = {
    "queued": "queued",
    "running": "running",
    "done": "done",
    "cancelled": "cancelled",
    "stopped": "stopped: API key refused",
    "unreachable": "stopped: CommBox unreachable",
    "failed": "failed",
}
PURPOSE_LABELS = {"run": "run", "retry": "retry of failed rows", "reissue": "re-issue of expired links"}


def history_frame(jobs: Iterable, now: datetime) -> pd.DataFrame:
    """One line per run (jobs.Job), newest first: counts come from the report or live progress."""
    lines = []
    for job in jobs:
        progress = job.progress()
        summary = job.report.summary() if job.report is not None else None
        lines.append(
            {
                "run": job.id,
                "started": local_time(job.created_at),
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
    return f"{local_time(job.created_at)} · {name}{extra} · {len(job.prepared):,} {job.kind}s · {job.status} · {job.id}"


def iso_utc(moment: datetime | None) -> str:
    if moment is None:
        return ""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def local_time(moment: datetime) -> str:
    """UTC, spelled out: the server's clock is the only one every viewer shares."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


# ---- Single ticket --------------------------------------------------------------------------


def problems_by_field(problems: Iterable[FieldProblem]) -> dict[str, str]:
    """Messages per field, for showing next to each input (several joined)."""
    found: dict[str, list[str]] = {}
    for problem in problems:
        found.setdefault(problem.field, []).append(problem.message)
    return {name: "; ".join(messages) for name, messages in found.items()}


def form_fields(kind: Kind) -> list[tuple[str, str]]:
    """(field, label) of the text inputs of the single-ticket form, in order."""
    return [(name, FIELD_LABELS[name]) for name in fields_for(kind) if name not in ("oneTimeUse", "overrideUserInfo")]


# ---- Connection check -----------------------------------------------------------------------

PROBE_USERNAME = "connection-check.nobody"


def connection_probe(brand: str | None) -> TicketRequest:
    """An agent ticket request for an agent that does not exist: a working tenant answers 404
    (which it can only do after accepting the key), so no ticket is ever issued by the check."""
    return TicketRequest(kind=Kind.AGENT, brand=brand or "connection-check", username=PROBE_USERNAME, oneTimeUse=True)


@dataclass(frozen=True)
class ConnectionVerdict:
    level: str  # "success", "warning" or "error"
    headline: str
    detail: str


def explain_probe(outcome: TicketOutcome, host: str) -> ConnectionVerdict:
    status = f"HTTP {outcome.http_status}" if outcome.http_status else "no HTTP answer"
    if outcome.ok:
        return ConnectionVerdict(
            "warning",
            f"Connected to {host}; the API key works",
            "CommBox issued a ticket for the check's made-up agent "
            f"'{PROBE_USERNAME}', which should not exist. The ticket was thrown away unused.",
        )
    code = outcome.error_code
    if code is ErrorCode.NOT_FOUND:
        return ConnectionVerdict(
            "success",
            f"Connected to {host}; the API key works",
            f"A ticket was requested for an agent that does not exist and CommBox answered {status} "
            "Not Found, which it only does after accepting the key. No ticket was issued.",
        )
    if code is ErrorCode.UNAUTHORIZED:
        return ConnectionVerdict(
            "error",
            f"{host} refused the API key ({status})",
            "Check COMMBOX_API_KEY: it may be mistyped, revoked, or for another tenant.",
        )
    if code is ErrorCode.NETWORK:
        return ConnectionVerdict(
            "error",
            f"Could not reach {host}",
            f"{outcome.message}. Check COMMBOX_API_URL and the network (proxy, firewall, VPN).",
        )
    if code is ErrorCode.BAD_REQUEST:
        return ConnectionVerdict(
            "warning",
            f"{host} answered, but refused the check's request as invalid ({status})",
            "The URL reaches a server; whether it accepted the key is not known. " + outcome.message,
        )
    return ConnectionVerdict(
        "warning",
        f"{host} answered, but not as expected ({status})",
        outcome.message or str(code),
    )


def fix_frame(table: InputTable, failed: Sequence[RowResult], columns: Sequence[str]) -> pd.DataFrame:
    """Failed rows to edit before sending them again (index = row number): error_code, reason,
    then the input columns the run read."""
    rows = [r.row for r in failed]
    frame = pd.DataFrame(
        {
            "error_code": pd.array([str(r.error_code or "") for r in failed], dtype="str"),
            REASON: pd.array([r.error for r in failed], dtype="str"),
        },
        index=pd.Index(rows, name=ROW),
    )
    values = table.frame.loc[rows, list(columns)]
    values.index = frame.index
    return pd.concat([frame, values], axis=1)


def rows_of(table: InputTable, rows: Sequence[int]) -> InputTable:
    """The same table narrowed to some rows (row numbers kept), e.g. to validate only those."""
    wanted = set(rows)
    return dataclasses.replace(
        table,
        frame=table.frame.loc[list(rows)],
        row_problems={row: text for row, text in table.row_problems.items() if row in wanted},
    )
