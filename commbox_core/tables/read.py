"""Uploaded tables in: bytes -> InputTable, every value text exactly as given."""

from __future__ import annotations

import codecs
import csv
import io
from typing import TYPE_CHECKING

from commbox_core.errors import InputFileError
from commbox_core.tables.arrow_columns import ColumnBuilder, text_cells
from commbox_core.tables.cells import unneutralise
from commbox_core.tables.encodings import (
    SNIFF_BYTES,
    declared_encoding,
    describe_file,
    is_workbook,
    refuse_unusable,
    undeclared_encodings,
)
from commbox_core.tables.sniff import DELIMITER_NAMES, sniff_delimiter

if TYPE_CHECKING:
    import pandas as pd

MAX_BYTES = 50 * 1024 * 1024
MAX_ROWS = 200_000
MAX_COLUMNS = 1_000  # far beyond any real sheet of people; bounds the work a pathological header causes


class InputTable:
    """A table of text as read: the header cells exactly as in the file, in order (they may repeat
    or be blank); `columns`, the unique names used in `frame` ("email (2)", "column 3"); `frame`,
    every value str, never NaN, index = row number (1 = first data record); `row_problems`, row
    number -> structural problem (the row is still in the table).

    A file's table keeps its columns as Arrow text and builds the pandas `frame` on first use:
    reading and preparing rows need only `cells()`, so a run starts before pandas is loaded."""

    def __init__(self, headers: list[str], columns: list[str], frame: pd.DataFrame | None = None,
                 row_problems: dict[int, str] | None = None, encoding: str = "utf-8", delimiter: str = ",",
                 filename: str = "", *, texts: list | None = None, sheet: str | None = None):
        if (frame is None) == (texts is None):
            raise ValueError("an InputTable holds either a frame or its text columns")
        self.headers, self.columns = headers, columns
        self.row_problems = row_problems if row_problems is not None else {}
        self.encoding, self.delimiter, self.filename = encoding, delimiter, filename
        self.sheet = sheet  # the worksheet read, for a table from an Excel workbook
        self._frame, self._texts = frame, texts

    def __len__(self) -> int:
        return len(self._frame) if self._frame is not None else (len(self._texts[0]) if self._texts else 0)

    def __repr__(self) -> str:
        return f"InputTable({self.filename or 'table'!r}, {len(self):,} rows, columns={self.columns!r})"

    @property
    def frame(self) -> pd.DataFrame:
        if self._frame is None:
            from commbox_core.tables.arrow_columns import text_frame

            self._frame = text_frame(self.columns, self._texts)
        return self._frame

    def row_numbers(self) -> list[int]:
        if self._frame is None:
            return list(range(1, len(self) + 1))
        return self._frame.index.tolist()

    def cells(self, column: str, start: int = 0, stop: int | None = None) -> list:
        """The column's values from position `start` to `stop` as Python strings (an edited frame
        may hold None)."""
        stop = len(self) if stop is None else min(stop, len(self))
        if self._frame is None:
            return text_cells(self._texts[self.columns.index(column)], start, stop)
        return self._frame[column].iloc[start:stop].tolist()

    def replaced(self, frame: pd.DataFrame, row_problems: dict[int, str]) -> InputTable:
        """The same table's headers and origin over other values (edited, or some rows only)."""
        return InputTable(self.headers, self.columns, frame, row_problems, self.encoding, self.delimiter,
                          self.filename, sheet=self.sheet)


def read_table(
    data: bytes, *, filename: str = "", max_bytes: int = MAX_BYTES, max_rows: int = MAX_ROWS, sheet: str | None = None
) -> InputTable:
    """Read CSV bytes, or an Excel workbook's sheet (the first unless `sheet` names one), as text;
    raise InputFileError with a message fit for the user."""
    refuse_unusable(data, filename, max_bytes)
    if is_workbook(data, filename):
        from commbox_core.tables.workbook import read_sheet  # openpyxl: loaded only for workbooks

        read = read_sheet(data, filename, sheet=sheet, max_rows=max_rows, max_columns=MAX_COLUMNS)
        return InputTable(read.headers, unique_column_names(read.headers), None, read.problems, "xlsx", "", filename,
                          texts=read.texts, sheet=read.title)
    declared = declared_encoding(data)
    for encoding in [declared] if declared else undeclared_encodings(data, filename):
        try:
            return _parse(data, encoding, filename, max_rows)
        except UnicodeDecodeError as exc:
            if declared:
                label = declared.removesuffix("-sig").upper()
                raise InputFileError(
                    f"{describe_file(filename)} starts with a {label} marker but contains bytes that are not "
                    f"{label} (around byte {exc.start:,}). Save it again as "
                    "\"CSV UTF-8\" and upload it again."
                ) from None
    raise AssertionError("latin-1 decodes any bytes")  # pragma: no cover


def unique_column_names(headers: list[str]) -> list[str]:
    """Headers made usable as DataFrame columns: blanks -> "column 3", repeats -> "email (2)"."""
    reserved = {h for h in headers if h.strip()}
    used: set[str] = set()
    names = []
    for position, header in enumerate(headers, start=1):
        if header.strip() and header not in used:
            name = header
        else:
            base = header if header.strip() else f"column {position}"
            name, n = base, 1
            while name in used or name in reserved:
                n += 1
                name = f"{base} ({n})"
        used.add(name)
        names.append(name)
    return names


def _parse(data: bytes, encoding: str, filename: str, max_rows: int) -> InputTable:
    sample = codecs.getincrementaldecoder(encoding)(errors="replace").decode(
        data[:SNIFF_BYTES], final=len(data) <= SNIFF_BYTES
    )
    if "\x00" in sample:
        raise InputFileError(f"{describe_file(filename)} contains binary data, not text. Upload a CSV file.")
    delimiter = sniff_delimiter(sample.lstrip("\ufeff"), complete=len(data) <= SNIFF_BYTES)
    stream = io.TextIOWrapper(io.BytesIO(data), encoding=encoding, newline="")
    lines = _bounded_lines(stream, delimiter, filename)
    reader = csv.reader(lines, delimiter=delimiter, quotechar='"', doublequote=True, strict=False)
    return _read_records(reader, data, encoding, delimiter, filename, max_rows)


def _bounded_lines(stream, delimiter: str, filename: str):
    """The file's lines, refusing one with absurdly many separators before the csv module
    turns it into millions of values (a 50 MB line of commas would take gigabytes)."""
    limit = 10 * MAX_COLUMNS
    for number, line in enumerate(stream, start=1):
        if line.count(delimiter) > limit:
            raise InputFileError(
                f"{describe_file(filename)} has more than {limit:,} separators on line {number:,}; a table of people "
                f"has at most {MAX_COLUMNS:,} columns. Check that the file is the right one."
            )
        yield line


def _read_records(reader, data: bytes, encoding: str, delimiter: str, filename: str, max_rows: int) -> InputTable:
    header: list[str] | None = None
    for header in reader:
        if header and any(v.strip() for v in header):
            break
        if len(header) > 1:  # a line of separators only, where the header should be
            raise _no_header(filename, reader.line_num)
    else:
        raise InputFileError(f"{describe_file(filename)} is empty. Upload a CSV file with a header line and one row per person.")
    if len(header) > MAX_COLUMNS:
        raise InputFileError(
            f"{describe_file(filename)} has {len(header):,} columns; the limit is {MAX_COLUMNS:,}. "
            "Keep only the columns the tickets need (and any you want in the results) and upload it again."
        )
    headers = [unneutralise(h) for h in header]
    columns = unique_column_names(headers)
    width = len(headers)
    named_width = max((i for i, h in enumerate(headers, start=1) if h.strip()), default=width)
    builder = ColumnBuilder(width)
    problems: dict[int, str] = {}
    row_number = 0
    start_line = reader.line_num + 1
    last_start = last_end = start_line
    rows = _unbroken(reader, filename, lambda: start_line)
    for row in rows:
        if len(row) != width:
            if not row or (width > 1 and len(row) == 1 and not row[0].strip()):
                start_line = reader.line_num + 1
                continue  # an empty (or whitespace-only) line
            row = _fit(row, width, named_width, row_number + 1, start_line, delimiter, problems)
        row_number += 1
        if row_number > max_rows:
            lines = data.count(b"\n") or data.count(b"\r")
            raise InputFileError(
                f"{describe_file(filename)} has more than {max_rows:,} rows (about {lines:,} lines); the limit is "
                f"{max_rows:,} rows per upload. Split it into smaller files and upload them one by one."
            )
        builder.add(row)
        last_start, last_end = start_line, reader.line_num
        start_line = last_end + 1
    if row_number == 0:
        shown = ", ".join(f'"{c}"' for c in columns[:10]) + (", ..." if width > 10 else "")
        raise InputFileError(
            f"{describe_file(filename)} has a header line ({shown}) but no data rows below it. "
            "Add one row per person under the header and upload it again."
        )
    if last_end > last_start and _ends_inside_quotes(data, encoding, delimiter, last_start):
        problems[row_number] = (
            f"A quote (\") opened on line {last_start:,} is never closed, so everything after it was "
            "read as one value. Close the quote and upload the file again."
        )
    return InputTable(headers, columns, None, problems, encoding, delimiter, filename, texts=builder.arrays())


def _unbroken(reader, filename: str, record_start):
    """The reader's records; the one error left with strict=False is a value over the csv
    module's size limit, which in practice means a quote opened and never closed."""
    try:
        yield from reader
    except csv.Error:
        raise InputFileError(
            f"{describe_file(filename)} cannot be read: the value starting on line {record_start():,} runs on for "
            f"more than {csv.field_size_limit():,} characters: a quote (\") there is never closed, or a cell "
            "is far longer than any name, e-mail or phone. Check that line and upload the file again."
        ) from None


def _no_header(filename: str, line: int) -> InputFileError:
    return InputFileError(
        f"{describe_file(filename)} has no column names: line {line:,}, the first line with content, is empty "
        "between its separators. The first line must name the columns, e.g. brand,username,email."
    )


def _fit(
    row: list[str], width: int, named_width: int, row_number: int, line: int, delimiter: str, problems: dict
) -> list[str]:
    """Pad or cut a ragged row to the header's width, recording why unless nothing is lost:
    values missing only under blank headers, or extra values that are all empty."""
    count = len(row)
    if count < width:
        if count >= named_width:
            return row + [""] * (width - count)
        problems[row_number] = (
            f"Line {line:,} has {count} value{'s' * (count != 1)} but the header has {named_width} columns; "
            "the missing values were read as empty. A line break inside a value needs quotes around the value."
        )
        return row + [""] * (width - count)
    extra = row[width:]
    if any(v.strip() for v in extra):  # trailing empty separators (common from Excel) lose nothing
        shown = ", ".join(f'"{v[:40]}"' for v in extra[:5]) + (", ..." if len(extra) > 5 else "")
        problems[row_number] = (
            f"Line {line:,} has {count} values but the header has {width} columns; the extra values "
            f"({shown}) were left out. Put quotes around values that contain a {DELIMITER_NAMES[delimiter]}."
        )
    return row[:width]


def _ends_inside_quotes(data: bytes, encoding: str, delimiter: str, first_line: int) -> bool:
    """True when the last record only ended because the file did (an unclosed quote)."""
    stream = io.TextIOWrapper(io.BytesIO(data), encoding=encoding, newline="")
    for _ in range(first_line - 1):
        stream.readline()
    try:
        list(csv.reader(stream, delimiter=delimiter, strict=True))
    except csv.Error as exc:
        return "unexpected end of data" in str(exc)
    return False


def table_from_frame(frame: pd.DataFrame, *, filename: str = "dataframe", max_rows: int = MAX_ROWS) -> InputTable:
    """A DataFrame (from a notebook) as an InputTable: every cell as text, a missing cell blank.
    Read files with dtype=str so that pandas keeps `000123` and `+44…` as written."""
    import pandas as pd

    if len(frame) > max_rows:
        raise InputFileError(f"the table has {len(frame):,} rows; at most {max_rows:,} are allowed (COMMBOX_MAX_ROWS)")
    headers = [str(column) for column in frame.columns]
    columns = unique_column_names(headers)
    cells = frame.astype(object).where(frame.notna(), "").map(str)
    cells.columns, cells.index = columns, pd.RangeIndex(1, len(frame) + 1)
    return InputTable(headers=headers, columns=columns, frame=cells, row_problems={}, encoding="utf-8",
                      delimiter=",", filename=filename)
