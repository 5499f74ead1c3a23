"""Result files: formula-safe CSV that re-reads exactly, XLSX with text cells and links, summary."""

from __future__ import annotations

import csv
import io
import json
import re
import stat
from datetime import datetime, timedelta, timezone

import openpyxl
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from commbox_core.fields import Kind
from commbox_core.outputs import workbook
from commbox_core.outputs.files import (
    errors_frame,
    success_frame,
    summary_json,
    to_csv_bytes,
    to_xlsx_bytes,
    write_outputs,
)
from commbox_core.outputs.lines import carried_cells, workbook_stream
from commbox_core.runs.results import RowResult, RunReport
from commbox_core.outputs.downloads import JobOutputs
from commbox_core.service.run_process import ComingWorkbook
from commbox_core.service.workbook_process import WorkbookProcess
from commbox_core.tables.cells import needs_neutralising, neutralise, unneutralise
from commbox_core.tables.columns import match_columns
from commbox_core.tables.read import read_table, unique_column_names
from commbox_core.vocabulary import ErrorCode

from ..strategies import cell_text, tables

T0 = datetime(2026, 11, 22, 9, 0, tzinfo=timezone.utc)
TOKEN = "tok3nSECRETvalue"


def link(row: int) -> str:
    return f"https://demo.commbox.io/login?ta={TOKEN}{row}"


def make_table(text: str):
    return read_table(text.replace("\n", "\r\n").encode("utf-8"), filename="in.csv")


def make_report(results: list[RowResult]) -> RunReport:
    return RunReport(Kind.AGENT, results, started_at=T0, finished_at=T0 + timedelta(seconds=4), requests_sent=len(results))


def ok(row: int, **extra) -> RowResult:
    return RowResult(row, True, url=link(row), issued_at=T0, expires_at=T0 + timedelta(minutes=1), **extra)


def failed(row: int, code=ErrorCode.NOT_FOUND, error="agent not found") -> RowResult:
    return RowResult(row, False, error_code=code, error=error)


AGENTS = make_table(
    "username,phone,email,email,,remark\n"
    "dana,+44 20 7946 0000,d@x.io,dana@y.io,blank header,=HYPERLINK(\"http://evil\")\n"
    "avi,000123,a@x.io,,,@SUM(A1)\n"
    "לאה,-1+2,l@x.io,,,\"multi\nline, \"\"quoted\"\"\"\n"
)


def parse_csv(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


# ---- neutralisation ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('=HYPERLINK("http://evil","x")', '\'=HYPERLINK("http://evil","x")'),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("-1+2", "'-1+2"),
        ("+44 20 7946 0000", "+44 20 7946 0000"),  # a phone runs nothing: kept as written
        ("+1 (212) 555-0147", "+1 (212) 555-0147"),
        ("+1-212-555-0147", "+1-212-555-0147"),
        ("'+44 20 7946 0000", "''+44 20 7946 0000"),  # a quote of the person's own is kept
        ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
        ("-1+1", "'-1+1"),
        ("+44+1", "'+44+1"),
        ("+", "'+"),
        ("\tcmd", "'\tcmd"),
        ("\rcmd", "'\rcmd"),
        ("'=1", "''=1"),
        ("'plain", "'plain"),
        ("plain", "plain"),
        ("", ""),
        ("'''", "'''"),
        ("a=b", "a=b"),
    ],
)
def test_neutralise_prefixes_one_quote_only_when_needed(value, expected):
    assert neutralise(value) == expected
    assert unneutralise(expected) == value


@settings(max_examples=300)
@given(st.text())
def test_neutralise_round_trips_any_text_and_never_leaves_a_formula(value):
    assert unneutralise(neutralise(value)) == value
    out = neutralise(value)
    assert out[:1] not in set("=+-@\t\r") or re.fullmatch(r"\+[0-9 ().\-]*", out) and re.search(r"[0-9]", out)
    assert needs_neutralising(value) == (neutralise(value) != value)


def test_an_export_from_before_phones_were_kept_as_written_reads_back_the_phone():
    assert unneutralise("'+44 20 7946 0000") == "+44 20 7946 0000"


# ---- frames ---------------------------------------------------------------------------------


def test_success_frame_keeps_original_headers_values_and_row_order():
    report = make_report([ok(3), failed(2), ok(1)])
    frame = success_frame(AGENTS, report)
    assert frame.attrs["headers"] == ["row", "username", "phone", "email", "email", "", "remark", "url", "expires_at"]
    assert frame.columns.is_unique
    assert frame["row"].tolist() == [1, 3]
    assert frame["phone"].tolist() == ["+44 20 7946 0000", "-1+2"]
    assert frame["email (2)"].tolist() == ["dana@y.io", ""]
    assert frame["url"].tolist() == [link(1), link(3)]
    assert frame["expires_at"].tolist() == ["2026-11-22T09:01:00Z"] * 2


def test_expiry_is_written_in_utc_whatever_the_zone():
    israel = timezone(timedelta(hours=2))
    report = make_report([RowResult(1, True, url=link(1), expires_at=datetime(2026, 11, 22, 12, 0, 30, 999, tzinfo=israel)),
                          RowResult(2, True, url=link(2), expires_at=datetime(2026, 11, 22, 10, 0)),
                          RowResult(3, True, url=link(3))])
    assert success_frame(AGENTS, report)["expires_at"].tolist() == ["2026-11-22T10:00:30Z", "2026-11-22T10:00:00Z", ""]


def test_errors_frame_has_codes_and_messages_but_never_a_link():
    leaky = RowResult(2, False, error_code=ErrorCode.BAD_RESPONSE, error=f"odd reply for {link(2)}", url=link(2))
    report = make_report([ok(1), leaky, failed(3, ErrorCode.INVALID, "email: not an address")])
    frame = errors_frame(AGENTS, report)
    assert frame.attrs["headers"] == ["row", "username", "phone", "email", "email", "", "remark", "error_code", "error"]
    assert frame["row"].tolist() == [2, 3]
    assert frame["error_code"].tolist() == ["bad_response", "invalid"]
    assert frame["error"].tolist()[1] == "email: not an address"
    assert TOKEN not in to_csv_bytes(frame).decode("utf-8")


def test_results_for_unknown_rows_are_a_programming_error():
    with pytest.raises(ValueError, match="not in the input"):
        success_frame(AGENTS, make_report([ok(99)]))


def test_a_users_own_url_column_does_not_clash_with_ours():
    table = make_table("username,url,row\nava,https://profile/ava,7\n")
    frame = success_frame(table, make_report([ok(1)]))
    assert frame.attrs["headers"] == ["row", "username", "url (input)", "row (input)", "url", "expires_at"]
    assert frame.columns.is_unique
    assert frame["url"].tolist() == [link(1)]
    assert frame["url (input)"].tolist() == ["https://profile/ava"]


def test_errors_csv_is_re_uploadable_once_fixed():
    first = errors_frame(AGENTS, make_report([ok(1), failed(2), failed(3)]))
    table = read_table(to_csv_bytes(first), filename="errors.csv")
    assert table.headers == first.attrs["headers"]
    match = match_columns(table.columns, Kind.AGENT)
    assert match.mapping == {"username": "username", "phone1": "phone", "email": "email", "remark": "remark"}
    again = errors_frame(table, make_report([failed(1, error="still missing"), ok(2)]))
    # The earlier run's row, error_code and error columns are replaced, not repeated.
    assert again.attrs["headers"] == ["row", "username", "phone", "email", "email", "", "remark", "error_code", "error"]
    assert again.iloc[0].tolist() == [1, "avi", "000123", "a@x.io", "", "", "@SUM(A1)", "not_found", "still missing"]


# ---- CSV bytes ------------------------------------------------------------------------------


def test_csv_is_utf8_with_bom_crlf_and_formula_safe():
    data = to_csv_bytes(success_frame(AGENTS, make_report([ok(1), ok(2), ok(3)])))
    assert data.startswith(b"\xef\xbb\xbfrow,username,phone,email,email,,remark,url,expires_at\r\n")
    assert "לאה".encode("utf-8") in data
    text = data.decode("utf-8-sig")
    assert text.count("\r\n") == 5 and "\n" not in text.replace("\r\n", "")
    cells = [cell for row in parse_csv(data) for cell in row]
    assert not [c for c in cells if c[:1] in set("=@\t\r-") or c[:1] == "+" and not c[1:3].isdigit()]
    assert "+44 20 7946 0000" in cells and "'=HYPERLINK(\"http://evil\")" in cells and "'-1+2" in cells


def test_csv_quotes_only_what_needs_it():
    frame = pd.DataFrame({"a": ["plain", "x,y", 'say "hi"'], "b": ["semi;colon", "tab\there", "ok"]}, dtype="str")
    lines = to_csv_bytes(frame).decode("utf-8-sig").split("\r\n")
    assert lines[:4] == ["a,b", 'plain,"semi;colon"', '"x,y","tab\there"', '"say ""hi""",ok']


def test_csv_of_a_plain_frame_uses_its_column_names():
    frame = pd.DataFrame({"n": [1, 2], "v": ["x", None]})
    assert to_csv_bytes(frame).decode("utf-8-sig") == "n,v\r\n1,x\r\n2,\r\n"


def test_success_csv_reads_back_exactly():
    report = make_report([ok(1), ok(2), ok(3)])
    frame = success_frame(AGENTS, report)
    again = read_table(to_csv_bytes(frame))
    assert again.headers == frame.attrs["headers"]
    assert again.frame["phone"].tolist() == ["+44 20 7946 0000", "000123", "-1+2"]
    assert again.frame["remark"].tolist() == ['=HYPERLINK("http://evil")', "@SUM(A1)", 'multi\r\nline, "quoted"']
    assert again.frame["row"].tolist() == ["1", "2", "3"]




@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables(1, 4, cell_text("\ufeff")))
def test_any_table_survives_write_then_read(table):
    headers, rows = table
    names = unique_column_names(headers)
    frame = pd.DataFrame({n: [row[j] for row in rows] for j, n in enumerate(names)}, dtype="str")
    frame.attrs["headers"] = headers
    again = read_table(to_csv_bytes(frame))
    assert again.headers == headers
    assert again.frame.astype(object).values.tolist() == rows
    assert again.row_problems == {}


# ---- XLSX -----------------------------------------------------------------------------------


def open_xlsx(data: bytes) -> openpyxl.Workbook:
    return openpyxl.load_workbook(io.BytesIO(data))


def test_xlsx_has_both_sheets_text_cells_and_links(recwarn):
    report = make_report([ok(1), ok(2), failed(3)])
    book = open_xlsx(to_xlsx_bytes(success_frame(AGENTS, report), errors_frame(AGENTS, report)))
    assert book.sheetnames == ["Success", "Errors"]
    ok_sheet, err_sheet = book["Success"], book["Errors"]
    assert [c.value for c in ok_sheet[1]] == ["row", "username", "phone", "email", "email", None, "remark", "url", "expires_at"]
    assert ok_sheet["C2"].value == "+44 20 7946 0000" and ok_sheet["C2"].data_type == "s"
    assert ok_sheet["C3"].value == "000123" and ok_sheet["C3"].data_type == "s"
    assert ok_sheet["G2"].value == '=HYPERLINK("http://evil")' and ok_sheet["G2"].data_type == "s"
    assert ok_sheet["A2"].value == 1 and ok_sheet["A2"].data_type == "n"
    assert ok_sheet["H2"].hyperlink.target == link(1) and ok_sheet["H2"].value == link(1)
    assert ok_sheet["A1"].font.bold and ok_sheet.freeze_panes == "A2" and ok_sheet.auto_filter.ref
    assert ok_sheet.column_dimensions["H"].width > ok_sheet.column_dimensions["A"].width
    assert err_sheet["A2"].value == 3 and err_sheet["B2"].value == "לאה"
    assert err_sheet["H2"].value == "not_found" and err_sheet["I2"].value == "agent not found"
    assert not any(cell.hyperlink for row in err_sheet.iter_rows() for cell in row)
    assert len(recwarn) == 0


def test_xlsx_falls_back_to_text_beyond_excels_link_limits(monkeypatch, recwarn):
    monkeypatch.setattr(workbook, "MAX_URLS", 2)
    table = make_table("username\na\nb\nc\nd\n")
    too_long = "https://x.io/?ta=" + "t" * 3000
    results = [RowResult(1, True, url=too_long), ok(2), ok(3), ok(4)]
    success = success_frame(table, make_report(results))
    sheet = open_xlsx(to_xlsx_bytes(success, errors_frame(table, make_report(results))))["Success"]
    assert [bool(sheet.cell(r, 3).hyperlink) for r in range(2, 6)] == [False, True, True, False]
    assert sheet["C2"].value == too_long and sheet["C5"].value == link(4)
    assert len(recwarn) == 0  # xlsxwriter's warnings would echo the token


def test_xlsx_keeps_empty_sheets_with_headers():
    report = make_report([failed(1)])
    book = open_xlsx(to_xlsx_bytes(success_frame(AGENTS, report), errors_frame(AGENTS, report)))
    assert book["Success"].max_row == 1 and book["Success"]["H1"].value == "url"


# ---- summary and files ----------------------------------------------------------------------


def test_summary_json_is_the_reports_summary():
    report = make_report([ok(1), failed(2), failed(3, ErrorCode.THROTTLED, "slow down")])
    data = summary_json(report)
    assert json.loads(data) == report.summary()
    assert data.count(b"\n") > 5 and TOKEN.encode() not in data


def test_write_outputs_writes_four_private_files_and_tokens_only_where_expected(tmp_path):
    report = make_report([ok(1), failed(2, error=f"oops ?ta={TOKEN}2"), ok(3)])
    paths = write_outputs(tmp_path / "run", AGENTS, report)
    assert sorted(paths) == ["errors.csv", "results.xlsx", "success.csv", "summary.json"]
    assert all(p.parent == tmp_path / "run" for p in paths.values())
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in paths.values())
    assert TOKEN.encode() in paths["success.csv"].read_bytes()
    assert TOKEN.encode() not in paths["errors.csv"].read_bytes()
    assert TOKEN.encode() not in paths["summary.json"].read_bytes()
    assert read_table(paths["errors.csv"].read_bytes()).frame["error"].tolist() == ["oops ?ta=[removed]"]
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == sorted(paths)


# ---- a finished run's downloads: each built on first use, once ----------------------------------


def test_job_outputs_build_each_file_on_first_use_and_once(monkeypatch):
    from commbox_core.outputs import downloads as outputs_module

    report = make_report([ok(1), failed(2), ok(3)])
    expected = {
        "success.csv": to_csv_bytes(success_frame(AGENTS, report)),
        "errors.csv": to_csv_bytes(errors_frame(AGENTS, report)),
        "summary.json": summary_json(report),
    }
    xlsx_builds = []
    real_xlsx = outputs_module.to_xlsx_bytes
    monkeypatch.setattr(outputs_module, "to_xlsx_bytes", lambda *a: xlsx_builds.append(1) or real_xlsx(*a))

    files = JobOutputs(AGENTS, report)
    assert files.success_csv == expected["success.csv"] and files.errors_csv == expected["errors.csv"]
    assert files.summary_json == expected["summary.json"]
    assert not files.built("results.xlsx") and xlsx_builds == []  # the CSVs never wait for the workbook
    later = files.later("results.xlsx")
    assert xlsx_builds == []
    assert later() is files.xlsx is files.file("results.xlsx")  # built on the click, then kept
    assert xlsx_builds == [1]
    assert openpyxl.load_workbook(io.BytesIO(files.xlsx)).sheetnames == ["Success", "Errors"]
    assert files.success_csv is files.success_csv
    with pytest.raises(KeyError):
        files.later("tokens.txt")


def test_job_outputs_asked_from_many_threads_at_once_build_once(monkeypatch):
    import threading

    from commbox_core.outputs import downloads as outputs_module

    builds, gate = [], threading.Event()

    def slow_csv(frame):
        builds.append(1)
        gate.wait(5)
        return b"csv"

    monkeypatch.setattr(outputs_module, "to_csv_bytes", slow_csv)
    files = JobOutputs(AGENTS, make_report([ok(1)]))
    got = []
    threads = [threading.Thread(target=lambda: got.append(files.success_csv)) for _ in range(6)]
    for thread in threads:
        thread.start()
    gate.set()
    for thread in threads:
        thread.join(5)
    assert got == [b"csv"] * 6 and builds == [1]


def _in_a_helper_process(table, rows):
    return WorkbookProcess(*carried_cells(table, rows), rows)


@pytest.mark.parametrize("start_stream", [workbook_stream, _in_a_helper_process], ids=["thread", "helper process"])
def test_the_workbook_written_during_a_run_is_the_one_written_after_it(start_stream):
    """Results arrive out of order from the workers; the streamed workbook still has every row in
    input order, on its sheet, with the same cells and links as the one built from the tables.
    Row 5 arrives only with the final results, as a run's earlier outcomes do."""
    table = make_table("username,phone1\na,+44 20 7946 0000\nb,=1+1\nc,\nd,000123\ne,x\n")
    results = [failed(5, ErrorCode.INVALID, "bad"), ok(3), RowResult(1, True, url=link(1)), failed(2), ok(4)]
    report = make_report(sorted(results, key=lambda r: r.row))
    stream = start_stream(table, [1, 2, 3, 4, 5])
    for result in results[1:]:
        stream.add(result)
    streamed = open_xlsx(stream.finish(report.results))
    batch = open_xlsx(to_xlsx_bytes(success_frame(table, report), errors_frame(table, report)))
    for name in ("Success", "Errors"):
        cells = [[(c.value, bool(c.hyperlink)) for c in row] for row in streamed[name].iter_rows()]
        assert cells == [[(c.value, bool(c.hyperlink)) for c in row] for row in batch[name].iter_rows()]
        assert streamed[name].auto_filter.ref == batch[name].auto_filter.ref and streamed[name].freeze_panes == "A2"
    assert [row[0].value for row in streamed["Success"].iter_rows(min_row=2)] == [1, 3, 4]
    assert streamed["Errors"]["C2"].value == "=1+1"  # a text cell, never a formula


def test_a_helper_process_that_fails_leaves_the_workbook_to_be_built_from_the_results():
    table = make_table("username\na\nb\n")
    stream = _in_a_helper_process(table, [1, 2])
    stream.add(ok(1))
    stream._process.kill()  # noqa: SLF001 - as a crash of the helper would
    report = make_report([ok(1), ok(2)])
    assert stream.finish(report.results) is None  # so the run's process sends none
    coming = ComingWorkbook()
    coming.put(None)
    built = open_xlsx(JobOutputs(table, report, workbook=coming).xlsx)  # the job's outputs build it instead
    assert [row[0].value for row in built["Success"].iter_rows(min_row=2)] == [1, 2]
