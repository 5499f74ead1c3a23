"""Data shaped for the dashboard's tables and texts. Plain pandas and Python: no Streamlit here.

Pages call these and only lay the results out, so every rule about what a table shows (which
columns, which rows, what "expired" means, what a connection check proves) is testable
without a browser.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

import pandas as pd

from commbox_core.fields import Kind, fields_for
from commbox_core.outputs.files import errors_frame, success_frame
from commbox_core.outputs.lines import carried_columns, cell_text, without_token
from commbox_core.outputs.wording import iso_utc
from commbox_core.runs.results import RowResult, RunReport
from commbox_core.tables.columns import match_columns
from commbox_core.tables.read import InputTable
from commbox_core.tickets.prepare import PreparedRow

ROW = "row"
VALID = "valid"
REASON = "reason"
SUBJECT = "subject"
SECONDS_LEFT = "seconds_left"


# ---- Preview before a run -------------------------------------------------------------------


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


def outcome_frame(results: Sequence[RowResult], subjects: Mapping[int, str],
                  table: InputTable | None = None, runs: Sequence[str] | None = None) -> pd.DataFrame:
    """A run's outcomes for analysts: no URL, no token, safe to keep and share. With the run's
    `table`, each row's own columns follow, its values as given (as in errors.csv); with `runs`
    (an upload's), the id of the run each row's outcome comes from."""
    columns = {
        ROW: pd.array([r.row for r in results], dtype="int64"),
        **({"run": pd.array(list(runs), dtype="str")} if runs is not None else {}),
        SUBJECT: pd.array([subjects.get(r.row, "") for r in results], dtype="str"),
        "ok": pd.array([r.ok for r in results], dtype="bool"),
        "error_code": pd.array([str(r.error_code) if r.error_code else "" for r in results], dtype="str"),
        "error": pd.array([without_token(r) if not r.ok else "" for r in results], dtype="str"),
        "issued_at": pd.array([iso_utc(r.issued_at) for r in results], dtype="str"),
        "expires_at": pd.array([iso_utc(r.expires_at) for r in results], dtype="str"),
    }
    if table is not None:
        position = {row: i for i, row in enumerate(table.row_numbers())}
        for column, _, name in carried_columns(table):
            cells = table.cells(column)
            while name in columns:  # a user's "subject", "ok" or "issued_at" stays apart from ours
                name += " (input)"
            columns[name] = pd.array([cell_text(cells[position[r.row]]) if r.row in position else ""
                                      for r in results], dtype="str")
    return pd.DataFrame(columns)


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


