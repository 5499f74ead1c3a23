"""results.xlsx: sheets "Success" and "Errors" with text cells, clickable links, a bold frozen header
and filters. Written either at once from the two result tables (to_xlsx_bytes), or while a run goes
on (WorkbookStream): each row lands in its sheet, in input order, as soon as every row before it
is done, so only the last rows and the zip are left for after the run.
"""

from __future__ import annotations

import io
import queue
import re
import threading
from collections.abc import Sequence

from commbox_core.runs.results import RowResult

MAX_URLS = 65_530  # Excel's hyperlinks per worksheet
MAX_URL_LENGTH = 2_079  # Excel's URL length (UTF-16 units)
MAX_WIDTH = 60
WIDTH_SAMPLE_ROWS = 500  # column widths follow the header and the first rows
_LINKABLE = re.compile(r"https?://[^\x00-\x20\s]+", re.IGNORECASE)
_OPTIONS = {"constant_memory": True, "strings_to_numbers": False, "strings_to_formulas": False,
            "strings_to_urls": False}  # constant_memory: rows go to a temporary file as written


class SheetWriter:
    """One sheet, a row at a time: the first cell of a row is its row number (a number), the others
    text; the `url_column`'s cells are links where Excel can take them."""

    def __init__(self, sheet, headers: Sequence[str], formats: tuple, url_column: int | None = None):
        self._sheet, self._url_column, self._link = sheet, url_column, formats[1]
        self._rows = self._links = 0
        self._widths = [len(header) for header in headers]
        for j, header in enumerate(headers):
            if header:
                sheet.write_string(0, j, header, formats[0])
            else:
                sheet.write_blank(0, j, None, formats[0])

    def add(self, row: int, texts: Sequence[str]) -> None:
        self._rows += 1
        at, sheet = self._rows, self._sheet
        sheet.write_number(at, 0, row)
        for j, value in enumerate(texts, start=1):
            if at <= WIDTH_SAMPLE_ROWS:
                self._widths[j] = max(self._widths[j], len(value))
            if not value:
                continue
            if j == self._url_column and self._links < MAX_URLS and linkable(value) and (
                sheet.write_url(at, j, value, self._link, string=value) == 0
            ):
                self._links += 1
            else:
                sheet.write_string(at, j, value)
        if at <= WIDTH_SAMPLE_ROWS:
            self._widths[0] = max(self._widths[0], len(str(row)))

    def finish(self) -> None:
        for j, longest in enumerate(self._widths):
            self._sheet.set_column(j, j, min(max(longest + 2, 8), MAX_WIDTH))
        self._sheet.freeze_panes(1, 0)
        self._sheet.autofilter(0, 0, max(self._rows, 1), max(len(self._widths) - 1, 0))


class Workbook:
    """The two sheets of results.xlsx over one in-memory file."""

    def __init__(self, carried_headers: Sequence[str], success_tail: Sequence[str] = ("url", "expires_at")):
        self._output = io.BytesIO()
        import xlsxwriter  # here, not at the top: a run's WorkbookStream loads it in its own thread

        self._book = xlsxwriter.Workbook(self._output, _OPTIONS)
        formats = (self._book.add_format({"bold": True}), self._book.get_default_url_format())
        first = ["row", *carried_headers]
        self.success = SheetWriter(self._book.add_worksheet("Success"), [*first, *success_tail], formats,
                                   url_column=len(first))
        self.errors = SheetWriter(self._book.add_worksheet("Errors"), [*first, "error_code", "error"], formats)

    def close(self) -> bytes:
        self.success.finish()
        self.errors.finish()
        self._book.close()
        return self._output.getvalue()


class WorkbookStream:
    """results.xlsx built in a thread of its own while the run goes on. `add` takes results in
    any order (from the runner's workers); a row is written once every row before it is."""

    def __init__(self, carried_headers: Sequence[str], carried_values: dict[int, list[str]], rows: Sequence[int],
                 tails):
        self._headers = carried_headers
        self._book: Workbook | None = None  # made in the thread: loading xlsxwriter (30 ms) need not delay the run
        self._values, self._order, self._tails = carried_values, list(rows), tails
        self._results: queue.SimpleQueue[RowResult | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._write, name="results-xlsx", daemon=True)
        self._thread.start()

    def add(self, result: RowResult) -> None:
        self._results.put(result)

    def finish(self, results: Sequence[RowResult]) -> bytes:
        """The workbook of these final results (every row of the run)."""
        for result in results:  # rows not seen yet (a run's earlier outcomes), and any last ones
            self._results.put(result)
        self._results.put(None)
        self._thread.join()
        return self._book.close()

    def _write(self) -> None:
        self._book = Workbook(self._headers)
        unwritten = set(self._order)
        done: dict[int, RowResult] = {}  # finished, waiting for the rows before them
        position = 0
        while (result := self._results.get()) is not None:
            if result.row in unwritten:  # finish() gives every row again; those written are passed over
                done.setdefault(result.row, result)
            while position < len(self._order) and self._order[position] in done:
                row = self._order[position]
                self._put(done.pop(row))
                unwritten.discard(row)
                position += 1

    def _put(self, result: RowResult) -> None:
        sheet = self._book.success if result.ok else self._book.errors
        sheet.add(result.row, [*self._values[result.row], *self._tails(result)])


def linkable(url: str) -> bool:
    """Only plain web links within Excel's limits; xlsxwriter would otherwise warn, echoing the token."""
    length = len(url) if url.isascii() else len(url.encode("utf-16-le")) // 2
    return length <= MAX_URL_LENGTH and _LINKABLE.fullmatch(url) is not None
