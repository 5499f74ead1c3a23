"""Excel workbooks in: every cell as Excel shows it (text as typed, leading zeros, phones, whole
numbers in full, formats, dates), the first sheet or a chosen one, and the same bounds and clear
messages as a CSV file. Workbooks are made with openpyxl, as Excel would save them."""

from __future__ import annotations

import io
from datetime import date, datetime

import openpyxl
import pytest

from commbox_core.errors import InputFileError
from commbox_core.tables.read import read_table
from commbox_core.tables.workbook import number_text, sheet_names


def workbook(*sheets: tuple[str, list[list]], formats: dict[str, str] | None = None) -> bytes:
    book = openpyxl.Workbook()
    book.remove(book.active)
    for title, rows in sheets:
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
    for address, number_format in (formats or {}).items():
        book[sheets[0][0]][address].number_format = number_format
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def values(table) -> list[list[str]]:
    return table.frame.values.tolist()


def test_every_cell_reads_as_excel_shows_it():
    data = workbook(("People", [
        ["uniqueId", "phone1", "account", "amount", "share", "joined", "active"],
        ["000123", "+44 7911 123456", 12345678901234567890, 1234.5, 0.125, datetime(2026, 12, 6), True],
        [123, 447911123456, "12345678901234567890", 2, 0.5, datetime(2026, 1, 2, 9, 30), False],
    ]), formats={"A3": "000000", "D2": "#,##0.00", "D3": "0.00", "E2": "0.0%"})
    table = read_table(data, filename="people.xlsx")
    assert table.headers == ["uniqueId", "phone1", "account", "amount", "share", "joined", "active"]
    assert values(table) == [
        ["000123", "+44 7911 123456", "1.23456789012346e+19", "1,234.50", "12.5%", "2026-12-06", "TRUE"],
        ["000123", "447911123456", "12345678901234567890", "2.00", "0.5", "2026-01-02 09:30:00", "FALSE"],
    ]
    assert table.sheet == "People" and table.row_numbers() == [1, 2]


@pytest.mark.parametrize(("value", "number_format", "shown"), [
    (7, "General", "7"), (7.0, "General", "7"), (0.1 + 0.2, "General", "0.3"), (123, "00000", "00123"),
    (1234567, "#,##0", "1,234,567"), (2.5, "0", "2"), (-3, "0.00", "-3.00"), (0.25, "0%", "25%"),
    (5, '"ID-"0000', "5"),  # a format this reader does not draw: the plain number, never a wrong one
])
def test_numbers_follow_their_format(value, number_format, shown):
    assert number_text(value, number_format) == shown


def test_the_first_sheet_is_read_unless_another_is_chosen():
    data = workbook(("Agents", [["username"], ["ann"]]), ("Customers", [["uniqueId"], ["c1"], ["c2"]]))
    assert sheet_names(data) == ["Agents", "Customers"]
    assert values(read_table(data, filename="b.xlsx")) == [["ann"]]
    chosen = read_table(data, filename="b.xlsx", sheet="Customers")
    assert (chosen.sheet, values(chosen)) == ("Customers", [["c1"], ["c2"]])
    with pytest.raises(InputFileError, match='no sheet "Clients"; its sheets are "Agents", "Customers"'):
        read_table(data, filename="b.xlsx", sheet="Clients")


def test_blank_rows_are_skipped_and_stray_values_reported_not_lost_silently():
    data = workbook(("S", [[None], ["username", "email", None], ["ann", "a@x.io"], [None, None], [None, None],
                           ["bob", "b@x.io", None, "stray"], [None, None, None]]))
    table = read_table(data, filename="s.xlsx")
    assert table.headers == ["username", "email"]  # the first row with text is the header
    assert values(table) == [["ann", "a@x.io"], ["bob", "b@x.io"]]
    assert "Row 2" in table.row_problems[2] and '"stray"' in table.row_problems[2]


@pytest.mark.parametrize(("rows", "expected"), [
    ([], 'Sheet "S" of "s.xlsx" is empty'),
    ([["username", "email"]], "has a header row but no data rows"),
    ([["username"], *([f"u{n}"] for n in range(6))], "more than 5 rows; the limit is 5"),
])
def test_sheets_that_cannot_be_used_get_a_clear_message(rows, expected):
    with pytest.raises(InputFileError, match=expected):
        read_table(workbook(("S", rows)), filename="s.xlsx", max_rows=5)


def test_a_damaged_or_truncated_workbook_says_what_to_do():
    data = workbook(("S", [["username"], ["ann"]]))
    with pytest.raises(InputFileError, match="looks like an Excel workbook but cannot be opened") as info:
        read_table(data[: len(data) // 2], filename="cut.xlsx")
    assert "Excel Workbook (.xlsx)" in str(info.value) and "Traceback" not in str(info.value)


def test_a_workbook_over_the_size_limit_is_refused_before_it_is_opened():
    data = workbook(("S", [["username"], *([f"user{n}"] for n in range(2000))]))
    with pytest.raises(InputFileError, match="the limit is"):
        read_table(data, filename="big.xlsx", max_bytes=len(data) - 1)


def test_dates_stored_as_dates_read_as_iso_dates():
    data = workbook(("S", [["uniqueId", "since"], ["c1", date(2025, 3, 4)]]))
    assert values(read_table(data, filename="d.xlsx")) == [["c1", "2025-03-04"]]
