"""Excel workbooks in (.xlsx, .xlsm): the first sheet, or a chosen one, as an InputTable of text.

Each cell becomes the text Excel shows for it, not the number underneath: text as typed (a phone
or an id typed as text keeps its `+` and leading zeros), whole numbers without ".0" and in full
(447911123456, not 4.47911E+11), zeros a format such as 000000 shows kept, decimals as the format
rounds them, dates as ISO dates, TRUE/FALSE. A formula gives the value Excel saved with the file.
The same bounds as a CSV file: rows, columns, and a clear message instead of a traceback.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from commbox_core.errors import InputFileError
from commbox_core.tables.arrow_columns import ColumnBuilder
from commbox_core.tables.encodings import describe_file

_ZERO_PADDED = re.compile(r"0+")  # 000000: an id shown with its leading zeros
_DECIMALS = re.compile(r"(#,##)?0(?:\.(0+))?")  # 0.00, #,##0, #,##0.00
_PERCENT = re.compile(r"0(?:\.(0+))?%")
_GENERAL_DIGITS = 15  # Excel keeps 15 significant digits


def sheet_names(data: bytes, filename: str = "") -> list[str]:
    """The workbook's worksheets, in order (chart sheets, which hold no cells, left out)."""
    book = _open(data, filename)
    try:
        return [sheet.title for sheet in book.worksheets]
    finally:
        book.close()


@dataclass(frozen=True)
class Sheet:
    """One worksheet read: what tables.read makes an InputTable of."""

    title: str
    headers: list[str]
    texts: list  # the columns, as Arrow text (ColumnBuilder.arrays())
    problems: dict[int, str]  # row number -> what was left out


def read_sheet(data: bytes, filename: str, *, sheet: str | None, max_rows: int, max_columns: int) -> Sheet:
    """One worksheet's cells as text: its first row with text is the header."""
    book = _open(data, filename)
    try:
        worksheet = _worksheet(book, sheet, filename)
        rows = worksheet.iter_rows()
        headers = _header(rows, filename, worksheet.title, max_columns)
        builder, problems = ColumnBuilder(len(headers)), {}
        count = 0
        for cells in rows:
            values = [cell_text(cell) for cell in cells]
            if not any(v.strip() for v in values):
                continue  # formatted but empty rows, common at the end of a sheet
            count += 1
            if count > max_rows:
                raise InputFileError(
                    f"{_where(filename, worksheet.title)} has more than {max_rows:,} rows; the limit is {max_rows:,} "
                    "rows per upload. Split it into smaller files and upload them one by one.")
            builder.add(_fit(values, len(headers), count, problems))
        if count == 0:
            raise InputFileError(f"{_where(filename, worksheet.title)} has a header row but no data rows below it. "
                                 "Add one row per person under the header and upload it again.")
        return Sheet(worksheet.title, headers, builder.arrays(), problems)
    finally:
        book.close()


def cell_text(cell) -> str:
    """The text Excel shows for a cell (see the module's docstring)."""
    value = cell.value
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time() else value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return str(value)
    return number_text(value, getattr(cell, "number_format", "General") or "General")


def number_text(value: float | int, number_format: str) -> str:
    fmt = number_format.split(";")[0].replace("\\", "").replace('"', "")
    if _ZERO_PADDED.fullmatch(fmt) and float(value).is_integer():
        return str(int(value)).zfill(len(fmt))
    if found := _DECIMALS.fullmatch(fmt):
        places = len(found.group(2) or "")
        return f"{value:,.{places}f}" if found.group(1) else f"{value:.{places}f}"
    if found := _PERCENT.fullmatch(fmt):
        return f"{value * 100:.{len(found.group(1) or '')}f}%"
    if float(value).is_integer() and abs(value) < 10**_GENERAL_DIGITS:
        return str(int(value))
    return format(value, f".{_GENERAL_DIGITS}g")


def _open(data: bytes, filename: str):
    from openpyxl import load_workbook

    try:
        return load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - zip, XML and openpyxl's own errors: one message for the user
        raise InputFileError(
            f"{describe_file(filename)} looks like an Excel workbook but cannot be opened ({type(exc).__name__}): "
            "it may be damaged, password-protected or only partly uploaded. Open it in Excel, save it again "
            "as \"Excel Workbook (.xlsx)\" or \"CSV UTF-8\", and upload that file.") from None


def _worksheet(book, sheet: str | None, filename: str):
    names = [worksheet.title for worksheet in book.worksheets]
    if not names:
        raise InputFileError(f"{describe_file(filename)} has no worksheet with cells (only charts).")
    if sheet is None:
        return book[names[0]]
    if sheet not in names:
        shown = ", ".join(f'"{name}"' for name in names)
        raise InputFileError(f"{describe_file(filename)} has no sheet \"{sheet}\"; its sheets are {shown}.")
    return book[sheet]


def _header(rows, filename: str, title: str, max_columns: int) -> list[str]:
    for cells in rows:
        values = [cell_text(cell) for cell in cells]
        named = [i for i, v in enumerate(values) if v.strip()]
        if named:
            if named[-1] + 1 > max_columns:
                raise InputFileError(
                    f"{_where(filename, title)} has {named[-1] + 1:,} columns; the limit is {max_columns:,}. Keep only "
                    "the columns the tickets need (and any you want in the results) and upload it again.")
            return values[: named[-1] + 1]  # blank cells past the last named column are formatting
    raise InputFileError(f"{_where(filename, title)} is empty. Put a header row and one row per person in it.")


def _fit(values: list[str], width: int, row_number: int, problems: dict[int, str]) -> list[str]:
    """The row cut or padded to the header's width; values beyond it are reported, not lost silently."""
    extra = [v for v in values[width:] if v.strip()]
    if extra:
        shown = ", ".join(f'"{v[:40]}"' for v in extra[:5]) + (", ..." if len(extra) > 5 else "")
        problems[row_number] = (f"Row {row_number:,} has values beyond the last named column ({shown}); they were "
                                "left out. Give that column a name in the header row and upload the file again.")
    return values[:width] + [""] * (width - len(values))


def _where(filename: str, title: str) -> str:
    return f"Sheet \"{title}\" of {describe_file(filename).removeprefix('The file ').strip() or 'the file'}"

