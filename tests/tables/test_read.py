"""Reading uploaded CSV files exactly, refusing unusable ones clearly, and matching their columns."""

from __future__ import annotations

import csv
import io
import zipfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from commbox_core.errors import InputFileError
from commbox_core.fields import CUSTOMER_IDENTIFIERS, Kind
from commbox_core.tables.cells import unneutralise
from commbox_core.tables.columns import ColumnMatch, check_columns, match_columns, normalise_header
from commbox_core.tables.read import read_table, unique_column_names

from ..strategies import cell_text, tables
from ..support import ROOT_DIR

DATA = ROOT_DIR / "tests" / "data"


def make_csv(*lines: str, eol: str = "\r\n", encoding: str = "utf-8") -> bytes:
    return (eol.join(lines) + eol).encode(encoding)


def records(table) -> list[list[str]]:
    return table.frame.astype(object).values.tolist()


def test_values_stay_exactly_as_typed():
    weird = ["+44 20 7946 0000", "000123", "1e5", "TRUE", "NaN", "NULL", "N/A", "", "  padded  ", "4.42079E+11"]
    data = make_csv(",".join(f"c{i}" for i in range(len(weird))), ",".join(weird))
    table = read_table(data)
    assert records(table) == [weird]
    assert not table.frame.isna().any().any()
    assert all(isinstance(v, str) for v in table.frame.iloc[0])


@pytest.mark.parametrize(
    ("delimiter", "eol"),
    [(",", "\r\n"), (";", "\n"), ("\t", "\r"), ("|", "\r\n")],
)
def test_delimiter_and_line_endings_are_detected(delimiter, eol):
    data = make_csv(delimiter.join(["username", "email", "remark"]), delimiter.join(["dana", "d@x.io", "hi"]), eol=eol)
    table = read_table(data)
    assert table.delimiter == delimiter
    assert table.headers == ["username", "email", "remark"]
    assert records(table) == [["dana", "d@x.io", "hi"]]


def test_semicolon_file_with_commas_inside_values_and_in_quoted_header():
    data = make_csv('"Last, First";email;note', "Cohen, Dana;d@x.io;a,b,c", "Levi, Avi;a@x.io;")
    table = read_table(data)
    assert table.delimiter == ";"
    assert table.headers == ["Last, First", "email", "note"]
    assert records(table) == [["Cohen, Dana", "d@x.io", "a,b,c"], ["Levi, Avi", "a@x.io", ""]]


@pytest.mark.parametrize(
    ("lines", "delimiter", "expected"),
    [
        ([',";;note;;"', ',";;x;;"'], ",", [["", ";;x;;"]]),  # more ";" than "," on every line
        (['"";","', '"";","'], ";", [["", ","]]),
        (['name|"a,b;c"', 'x|"1,2;3"'], "|", [["x", "1,2;3"]]),
    ],
)
def test_delimiters_inside_quoted_values_do_not_fool_detection(lines, delimiter, expected):
    table = read_table(make_csv(*lines))
    assert table.delimiter == delimiter
    assert records(table) == expected


def test_utf8_bom_is_not_part_of_the_first_header():
    table = read_table(b"\xef\xbb\xbf" + make_csv("username,brand", "a,b"))
    assert table.encoding == "utf-8-sig"
    assert table.headers == ["username", "brand"]


def test_quoted_newlines_and_doubled_quotes_make_one_row():
    data = make_csv("username,remark", 'a,"line one\r\nline ""two"""', 'b,"x\ny"', "c,plain")
    table = read_table(data)
    assert records(table) == [["a", 'line one\r\nline "two"'], ["b", "x\ny"], ["c", "plain"]]
    assert list(table.frame.index) == [1, 2, 3]
    assert table.row_problems == {}


def test_empty_lines_are_skipped_but_a_line_of_separators_is_a_row():
    data = make_csv("", "username,email,remark", "", "a,1,x", "   ", ",,", "b,2,y", "", "")
    table = read_table(data)
    assert records(table) == [["a", "1", "x"], ["", "", ""], ["b", "2", "y"]]
    assert list(table.frame.index) == [1, 2, 3]


def test_international_names_survive(tmp_path):
    names = ["דנה כהן", "محمد علي", "张伟", "Zoë 😀", "Ngô Bảo Châu"]
    data = make_csv("firstName,email", *(f"{n},{i}@x.io" for i, n in enumerate(names)))
    table = read_table(data)
    assert table.frame["firstName"].tolist() == names


def test_windows_1252_file_is_decoded():
    data = make_csv("firstName;remark", "José;costs €5", "Chloé;naïve", encoding="cp1252")
    table = read_table(data)
    assert table.encoding == "cp1252"
    assert records(table) == [["José", "costs €5"], ["Chloé", "naïve"]]


def test_windows_1252_bytes_found_late_in_a_big_file_restart_the_read():
    ascii_rows = [f"user{i},plain" for i in range(5000)]  # well past the sniffed sample
    data = make_csv("username,remark", *ascii_rows, "zoe,café €", encoding="cp1252")
    table = read_table(data)
    assert table.encoding == "cp1252"
    assert table.frame.loc[5001, "remark"] == "café €" and table.frame.shape == (5001, 2)


def test_hebrew_windows_1255_file_is_decoded():
    data = make_csv("firstName,lastName", "שלום,כהן", "דנה,לוי", encoding="cp1255")
    table = read_table(data)
    assert table.encoding == "cp1255"
    assert records(table) == [["שלום", "כהן"], ["דנה", "לוי"]]


def test_excel_unicode_text_utf16_tab_file():
    data = "\ufeffusername\tfirstName\r\nava\tאבי\r\n".encode("utf-16-le")
    table = read_table(data)
    assert table.encoding == "utf-16"
    assert table.delimiter == "\t"
    assert records(table) == [["ava", "אבי"]]


def test_invalid_bytes_after_a_utf8_marker_are_refused_clearly():
    with pytest.raises(InputFileError, match="UTF-8"):
        read_table(b"\xef\xbb\xbfusername\r\nJos\xe9\r\n")


def test_duplicate_and_blank_headers_are_kept_and_made_unique():
    data = make_csv("email,email,,email (2), ", "a,b,c,d,e")
    table = read_table(data)
    assert table.headers == ["email", "email", "", "email (2)", " "]
    assert table.columns == ["email", "email (3)", "column 3", "email (2)", "column 5"]
    assert records(table) == [["a", "b", "c", "d", "e"]]


def test_unique_column_names_never_collide():
    names = unique_column_names(["column 2", "", "x", "x", "x (2)"])
    assert len(set(names)) == 5
    assert names[0] == "column 2" and names[4] == "x (2)"


def test_ragged_rows_are_kept_and_reported():
    data = make_csv("username,email,remark", "a,1", "b,2,x,extra,more", "c,3,y,,", "d,4,z")
    table = read_table(data)
    assert records(table) == [["a", "1", ""], ["b", "2", "x"], ["c", "3", "y"], ["d", "4", "z"]]
    assert set(table.row_problems) == {1, 2}  # trailing empty separators lose nothing
    assert "2 values" in table.row_problems[1] and "3 columns" in table.row_problems[1]
    assert '"extra"' in table.row_problems[2] and '"more"' in table.row_problems[2]
    assert "line 3" in table.row_problems[2].lower()


def test_unclosed_quote_at_the_end_is_reported():
    table = read_table(make_csv("username,remark", "a,ok", 'b,"never closed', "c,swallowed"))
    assert table.frame.shape[0] == 2
    assert "never closed" in table.row_problems[2]


def test_unclosed_quote_swallowing_a_huge_file_is_refused_with_a_hint():
    data = make_csv("username,remark", 'a,"oops', *(f"u{i},{'x' * 100}" for i in range(2000)))
    with pytest.raises(InputFileError, match="quote") as info:
        read_table(data)
    assert "line 2" in str(info.value)


def test_rows_short_only_under_blank_trailing_headers_are_fine():
    table = read_table(make_csv("username,email,,", "a,1", "b", "c,3,,x"))
    assert records(table) == [["a", "1", "", ""], ["b", "", "", ""], ["c", "3", "", "x"]]
    assert set(table.row_problems) == {2}


def test_duplicate_rows_are_all_kept_with_their_row_numbers():
    data = make_csv("username,brand", "a,b", "a,b", "a,b")
    table = read_table(data)
    assert records(table) == [["a", "b"]] * 3
    assert list(table.frame.index) == [1, 2, 3]


def test_our_own_formula_neutralisation_is_undone_on_read():
    data = make_csv("phone,formula,quoted,doubled", "'+44 20 7946 0000,'=HYPERLINK(\"x\"),'plain,''=1")
    assert records(read_table(data)) == [["+44 20 7946 0000", '=HYPERLINK("x")', "'plain", "'=1"]]


def test_filename_is_kept_and_named_in_messages():
    assert read_table(make_csv("a,b", "1,2"), filename="agents.csv").filename == "agents.csv"
    with pytest.raises(InputFileError, match='"agents.csv"'):
        read_table(b"", filename="agents.csv")


@pytest.mark.parametrize("data", [b"", b"  \r\n\r\n", b"\xef\xbb\xbf", b"\xef\xbb\xbf\r\n\n"])
def test_empty_file_is_refused(data):
    with pytest.raises(InputFileError, match="empty"):
        read_table(data)


def test_header_only_file_says_there_are_no_data_rows():
    with pytest.raises(InputFileError, match="no data rows") as info:
        read_table(make_csv("username,email", "", ""))
    assert '"username"' in str(info.value)


def test_file_without_a_header_is_refused():
    with pytest.raises(InputFileError, match="no column names"):
        read_table(make_csv(",,", "a,b,c"))


def _xlsx_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (_xlsx_bytes(), "cannot be opened"),
        (b"PK\x03\x04" + b"\x00" * 40 + b"notes.txt", "ZIP"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "PDF"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 20, "image"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 20, "Excel"),
        (b"username,email\r\na\x00b,c\r\n", "binary"),
        ("username,email\r\nava,a@x.io\r\n".encode("utf-16-le"), "UTF-16"),
    ],
)
def test_binary_files_are_refused_with_what_to_do(data, expected):
    with pytest.raises(InputFileError, match=expected):
        read_table(data)


def test_oversize_file_is_refused_with_size_and_limit():
    data = make_csv("username", *("x" * 50 for _ in range(10)))
    with pytest.raises(InputFileError) as info:
        read_table(data, max_bytes=100)
    assert f"{len(data)} bytes" in str(info.value) and "100 bytes" in str(info.value)


def test_absurdly_wide_file_is_refused():
    with pytest.raises(InputFileError, match="5,000 columns; the limit is 1,000"):
        read_table(make_csv(",".join(f"c{i}" for i in range(5000)), "x"))


def test_a_line_of_a_million_separators_is_refused_early():
    with pytest.raises(InputFileError, match="separators on line 3"):
        read_table(make_csv("a,b", "1,2", "," * 1_000_000))


def test_too_many_rows_is_refused_without_reading_the_whole_file():
    # Past the limit sits an unclosed quote that would fail differently if it were ever parsed.
    data = make_csv("username,remark", *(f"u{i},ok" for i in range(20)), 'bad,"' + "x" * 200_000)
    with pytest.raises(InputFileError, match="more than 10 rows") as info:
        read_table(data, max_rows=10)
    assert "limit is 10" in str(info.value)
    assert read_table(data[: data.index(b"bad")], max_rows=20).frame.shape[0] == 20


def test_committed_fixture_with_everything_at_once():
    table = read_table((DATA / "nasty_agents.csv").read_bytes(), filename="nasty_agents.csv")
    assert table.delimiter == ";"
    assert table.headers == ["Brand", "User-Name", "E-Mail", "Phone", "", "remark", "remark"]
    assert table.frame.shape == (6, 7)
    first = table.frame.loc[1].tolist()
    assert first == ["demo", "דנה", "dana@example.com", "+972 54 123 4567", "", "=HYPERLINK(\"http://x\")", "שלום; עולם"]
    assert table.frame.loc[2, "Phone"] == "0541234567"
    assert table.frame.loc[3, "remark"] == 'multi\r\nline "quoted"'
    assert table.frame.loc[4, "Phone"] == "4.42079E+11"
    assert set(table.row_problems) == {5}
    match = match_columns(table.columns, Kind.AGENT)
    assert match.mapping == {"brand": "Brand", "username": "User-Name", "email": "E-Mail", "phone1": "Phone", "remark": "remark"}




@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(table=tables(2, 5, cell_text()), delimiter=st.sampled_from([",", ";", "\t", "|"]),
       eol=st.sampled_from(["\r\n", "\n"]))
def test_every_record_comes_back_once_with_its_row_number(table, delimiter, eol):
    header, rows = table
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator=eol, quoting=csv.QUOTE_ALL).writerows([header, *rows])
    result = read_table(buffer.getvalue().encode("utf-8"))
    assert result.delimiter == delimiter
    assert result.headers == [unneutralise(h) for h in header]
    assert records(result) == [[unneutralise(v) for v in row] for row in rows]
    assert list(result.frame.index) == list(range(1, len(rows) + 1))
    assert result.row_problems == {}


@settings(max_examples=200, deadline=None)
@given(data=st.one_of(st.binary(max_size=300), cell_text().map(lambda t: t.encode("utf-8"))))
def test_any_bytes_give_a_table_or_a_clear_refusal(data):
    try:
        table = read_table(data, max_rows=50)
    except InputFileError as exc:
        assert str(exc) and "Traceback" not in str(exc)
    else:
        assert len(table.columns) == len(set(table.columns)) == len(table.headers)
        assert not table.frame.isna().any().any()


# ---- column matching ------------------------------------------------------------------------


@pytest.mark.parametrize("header", ["First Name", "first_name", "firstName", "FIRST-NAME", "first.name", "\ufefffirst\u200bname\u200f"])
def test_header_spelling_does_not_matter(header):
    assert normalise_header(header) == "firstname"


def test_agent_columns_match_by_case_spaces_dashes_and_aliases():
    match = match_columns(["Account", "Login", "E-Mail", "Mobile Phone", "Given Name", "SURNAME", "Notes", "single use"], Kind.AGENT)
    assert match.mapping == {
        "brand": "Account", "username": "Login", "email": "E-Mail", "phone1": "Mobile Phone",
        "firstName": "Given Name", "lastName": "SURNAME", "remark": "Notes", "oneTimeUse": "single use",
    }
    assert match.unmatched == []


def test_customer_columns_match_their_own_fields():
    match = match_columns(["Customer ID", "Channel", "Override", "msisdn", "agent"], Kind.CUSTOMER)
    assert match.mapping == {"uniqueId": "Customer ID", "phone1": "msisdn", "overrideUserInfo": "Override", "channelId": "Channel"}
    assert match.unmatched == ["agent"]  # a customer's "agent" column is not their username


def test_a_hebrew_sheet_saved_by_excel_is_matched_and_read_as_written():
    """Excel in Israel saves CSV as windows-1255, headers in Hebrew (a right-to-left mark or two)."""
    text = ("מותג,שם משתמש,דוא״ל,טלפון נייד,שם פרטי,שם משפחה,\u200fהערות\n"
            "demo,noa.c,noa@example.co.il,054-1234567,נועה,כהן,ותיקה\n")
    table = read_table(text.encode("cp1255"))
    match = match_columns(table.columns, Kind.AGENT)
    assert match.mapping == {
        "brand": "מותג", "username": "שם משתמש", "email": "דוא״ל", "phone1": "טלפון נייד",
        "firstName": "שם פרטי", "lastName": "שם משפחה", "remark": "\u200fהערות",
    }
    assert table.frame.iloc[0].tolist() == ["demo", "noa.c", "noa@example.co.il", "054-1234567", "נועה", "כהן", "ותיקה"]


def test_hebrew_customer_headers_match_and_the_serving_agent_is_not_the_customer():
    match = match_columns(["מספר לקוח", 'דוא"ל', "נייד", "ערוץ", "נציג"], Kind.CUSTOMER)
    assert match.mapping == {"uniqueId": "מספר לקוח", "email": 'דוא"ל', "phone1": "נייד", "channelId": "ערוץ"}
    assert match.unmatched == ["נציג"]


def test_agent_ids_are_never_taken_for_the_username():
    match = match_columns(["id", "userid", "User ID", "uniqueId", "channel", "brand"], Kind.AGENT)
    assert match.mapping == {"brand": "brand"}
    assert match.missing_for(Kind.AGENT) == ["username"]


def test_exact_names_win_over_aliases_and_first_column_wins():
    match = match_columns(["mail", "phone", "email", "mobile", "first_name", "firstName"], Kind.CUSTOMER)
    assert match.mapping == {"email": "email", "firstName": "firstName", "phone1": "phone"}
    assert match.unmatched == ["mail", "mobile", "first_name"]


def test_own_export_columns_are_never_matched():
    columns = ["row", "brand", "username", "error_code", "error", "url", "expires_at"]
    match = match_columns(columns, Kind.AGENT)
    assert match.mapping == {"brand": "brand", "username": "username"}
    assert match.unmatched == ["row", "error_code", "error", "url", "expires_at"]


def test_missing_fields_per_kind():
    assert match_columns(["email"], Kind.AGENT).missing_for(Kind.AGENT) == ["brand", "username"]
    assert match_columns(["email"], Kind.AGENT).missing_for(Kind.AGENT, default_brand="demo") == ["username"]
    assert match_columns(["email"], Kind.AGENT).missing_for(Kind.AGENT, default_brand="  ") == ["brand", "username"]
    assert match_columns(["remark"], Kind.CUSTOMER).missing_for(Kind.CUSTOMER) == list(CUSTOMER_IDENTIFIERS)
    assert match_columns(["Phone"], Kind.CUSTOMER).missing_for(Kind.CUSTOMER) == []


def test_check_columns_passes_with_a_default_brand():
    check_columns(match_columns(["username"], Kind.AGENT), Kind.AGENT, default_brand="demo")
    with pytest.raises(InputFileError, match="default brand"):
        check_columns(match_columns(["username"], Kind.AGENT), Kind.AGENT, default_brand=None)


def test_missing_username_message_names_found_columns_and_aliases():
    with pytest.raises(InputFileError) as info:
        check_columns(match_columns(["brand", "id", "mail"], Kind.AGENT), Kind.AGENT, default_brand=None)
    message = str(info.value)
    assert '"id"' in message and '"mail"' in message
    assert "Username" in message and "login" in message and "agent username" in message


def test_customer_without_identifier_is_told_the_three_options():
    with pytest.raises(InputFileError) as info:
        check_columns(match_columns(["firstName", "remark"], Kind.CUSTOMER), Kind.CUSTOMER, default_brand=None)
    message = str(info.value)
    assert all(label in message for label in ("Unique ID", "Email", "Phone")) and '"firstName"' in message


def test_no_usable_column_explains_and_spots_data_in_the_header():
    match = match_columns(["dana@example.com", "+972541234567", "Dana"], Kind.AGENT)
    with pytest.raises(InputFileError) as info:
        check_columns(match, Kind.AGENT, default_brand="demo")
    message = str(info.value)
    assert "None of the columns" in message and "looks like data" in message
    assert '"dana@example.com"' in message and "brand name" in message


def test_hand_built_match_still_reports_columns():
    match = ColumnMatch(mapping={"email": "mail"}, unmatched=["x"])
    with pytest.raises(InputFileError, match='"x"'):
        check_columns(match, Kind.AGENT, default_brand=None)
