"""A result's line as text cells, without pandas: the input columns the exports repeat, and the
url/expiry or error cells after them. The result files and the results.xlsx written while a run
goes on (which starts before pandas is loaded) share them."""

from __future__ import annotations

import re
from datetime import datetime, timezone

from commbox_core.outputs.workbook import WorkbookStream
from commbox_core.runs.results import RowResult
from commbox_core.tables.cells import OWN_EXPORT_COLUMNS
from commbox_core.tables.read import InputTable

_TOKEN_PARAM = re.compile(r"([?&]ta=)[^&#\s]+")


def workbook_stream(table: InputTable, rows: list[int]) -> WorkbookStream:
    """results.xlsx written while the run goes on; give it every result (WorkbookStream.add),
    then pass it to write_outputs. Its cells are those of to_xlsx_bytes(success_frame, errors_frame)."""
    return WorkbookStream(*carried_cells(table, rows), rows, tail_cells)


def carried_cells(table: InputTable, rows: list[int]) -> tuple[list[str], dict[int, list[str]]]:
    """The headers of the input columns results.xlsx repeats, and each row's cells of them."""
    carried = carried_columns(table)
    position = {row: i for i, row in enumerate(table.row_numbers())}
    columns = [table.cells(column) for column, _, _ in carried]
    values = {row: [cell_text(cells[position[row]]) for cells in columns] for row in rows}
    return [header for _, header, _ in carried], values


def cell_text(value) -> str:
    """A cell as text: an edited frame's missing cell (None or NaN) is blank."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    return str(value)


def tail_cells(result: RowResult) -> list[str]:
    """The last cells of a result's line: url and expiry (and an invitation's id), or error code
    and message."""
    if result.ok:
        cells = [result.url or "", iso_utc(result.expires_at)]
        return [*cells, result.invitation_id] if result.invitation_id else cells
    return [str(result.error_code) if result.error_code is not None else "", without_token(result)]


def carried_columns(table: InputTable) -> list[tuple[str, str, str]]:
    """(input column, header to write, output column) for the input columns the exports repeat.

    An earlier export's own columns (re-uploaded errors.csv or success.csv) are dropped: a stale
    error next to the new one misleads, and an old link must not reach errors.csv. A user's own
    column that happens to share one of our names is kept under "<name> (input)".
    """
    headers = table.headers
    earlier_export = bool(headers) and headers[0] == "row" and (
        {"error_code", "error"} <= set(headers) or {"url", "expires_at"} <= set(headers)
    )
    carried = []
    taken = set(OWN_EXPORT_COLUMNS)  # output columns must stay unique for pandas
    for column, header in zip(table.columns, headers):
        if header in OWN_EXPORT_COLUMNS:
            if earlier_export:
                continue
            header = f"{header} (input)"
        name = header if column in OWN_EXPORT_COLUMNS else column
        while name in taken:
            name += " (input)"
        taken.add(name)
        carried.append((column, header, name))
    return carried


def iso_utc(moment: datetime | None) -> str:
    if moment is None:
        return ""
    if moment.tzinfo is not None:  # a naive time is already UTC: the core works in UTC throughout
        moment = moment.astimezone(timezone.utc)
    return moment.replace(microsecond=0, tzinfo=None).isoformat() + "Z"


def without_token(result: RowResult) -> str:
    """A result's message with any link or token in it removed."""
    message = result.error or ""
    if result.url:
        message = message.replace(result.url, "[link removed]")
    return _TOKEN_PARAM.sub(r"\1[removed]", message)


