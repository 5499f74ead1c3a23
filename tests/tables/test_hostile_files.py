"""Hostile files through the CLI and the dashboard (AppTest upload): each gets a clear message or
runs with every row accounted for; no traceback; memory stays bounded (tracemalloc peaks).

The reader's own cases are in tests/tables/test_read.py; here the whole path is driven, as a user would.
"""

from __future__ import annotations

import csv
import io
import re
import tracemalloc
import zipfile
import zlib
from pathlib import Path

import pytest

from commbox_core.cli import main
from ui.backend import job_manager

from ..dashboard.helpers import assert_no_exception, everything_shown, new_app, wait_for  # noqa: F401

MB = 1024 * 1024
BULK = "app_pages/bulk_tickets.py"
# Generous bounds: they prove memory does not follow what a bomb would unpack to (100 MB) or a
# file's pathological shape, not how lean the reader is.
CLI_MEMORY_BOUND = 48 * MB
DASHBOARD_MEMORY_BOUND = 96 * MB


def _gzip_bomb() -> bytes:
    """100 MB of CSV rows as gzip, about 100 KB."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    return b"".join(packer.compress(b"demo,john.d\n" * (MB // 12)) for _ in range(100)) + packer.flush()


def _zip_bomb() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive, archive.open("agents.csv", "w") as entry:
        for _ in range(100):
            entry.write(b"demo,john.d\n" * (MB // 12))
    return buffer.getvalue()


# name -> (file name, bytes, data rows when it is accepted, or a phrase of the refusal)
REFUSED = {
    "nul_bytes": ("agents.csv", b"brand,username\ndemo,a\x00b\n", "binary data"),
    "utf16_without_bom": ("agents.csv", "brand,username\ndemo,john.d\n".encode("utf-16-le"), "UTF-16"),
    "unquoted_megabyte_cell": ("agents.csv", b"brand,username\ndemo," + b"x" * MB + b"\ndemo,john.d\n", "line 2"),
    "million_columns_header": ("agents.csv", b"," * 1_000_000 + b"\n", "columns"),
    "million_columns_row": ("agents.csv", b"brand,username\ndemo,john.d" + b",x" * 1_000_000 + b"\n", "columns"),
    "gzip_bomb_as_csv": ("agents.csv", _gzip_bomb(), "gzip"),
    "zip_bomb_as_csv": ("agents.csv", _zip_bomb(), "ZIP"),
    "excel_as_csv": ("agents.csv", b"PK\x03\x04xl/workbook.xml" + bytes(200), "Excel"),
}
ACCEPTED = {
    "formulas": (
        "agents.csv",
        b'brand,username,remark\ndemo,john.d,"=HYPERLINK(""http://evil.example"",""click"")"\n'
        b"demo,=1+2,@SUM(A1)\ndemo,noa.c,-3+cmd|calc\n",
        3,
    ),
    "html_and_markdown": (
        "<script>alert(1)</script>.csv",
        b"brand,username,remark\ndemo,<script>alert(1)</script>,<b>bold</b>\n"
        b"demo,<img src=x onerror=alert(1)>,[x](javascript:alert(1))\n",
        2,
    ),
    "control_characters": (
        "agents.csv", b"brand,username,remark\ndemo,jo\x1b[31mhn\x07,\x08\x0c\ndemo,li\x0bwei\x7f,\xe2\x80\xaeevil\n", 2,
    ),
    "deeply_quoted": ("agents.csv", b"brand,username\ndemo," + b'"' * 200_001 + b"\ndemo,john.d\n", None),
    "shift_jis": ("agents.csv", "brand,username\ndemo,山田\ndemo,john.d\n".encode("shift_jis"), 2),
    "ebcdic": ("agents.csv", "brand,username\ndemo,john.d\n".encode("cp500"), None),
}
FORMULA = re.compile(r"^[=+\-@\t\r]")


@pytest.fixture
def cli_env(clean_env, tmp_path):
    # Warm up once (imports, the in-process sandbox's first start) so peaks measure the file.
    warm = tmp_path / "warm.csv"
    warm.write_bytes(b"brand,username\ndemo,john.d\n")
    main(["bulk", str(warm), "--kind", "agent", "--out", str(tmp_path / "warm"), "--sandbox", "--quiet"])
    return clean_env


def run_cli(tmp_path: Path, name: str, data: bytes, capsys) -> tuple[int, str, int, Path]:
    path = tmp_path / name.replace("/", "_")
    path.write_bytes(data)
    out = tmp_path / "out"
    capsys.readouterr()
    tracemalloc.start()
    try:
        code = main(["bulk", str(path), "--kind", "agent", "--out", str(out), "--sandbox", "--quiet"])
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return code, capsys.readouterr().err, peak, out


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_cli_refuses_with_a_clear_message(case, cli_env, tmp_path, capsys):
    name, data, phrase = REFUSED[case]
    code, err, peak, out = run_cli(tmp_path, name, data, capsys)
    assert code == 2
    assert "Traceback" not in err and "\nerror: " in "\n" + err
    assert phrase in err, err
    assert not out.exists()  # nothing half-written
    assert peak < CLI_MEMORY_BOUND, f"{case}: peak {peak / MB:.1f} MB"


@pytest.mark.parametrize("case", sorted(ACCEPTED))
def test_cli_accounts_for_every_row(case, cli_env, tmp_path, capsys):
    name, data, rows = ACCEPTED[case]
    code, err, peak, out = run_cli(tmp_path, name, data, capsys)
    assert "Traceback" not in err
    assert peak < CLI_MEMORY_BOUND, f"{case}: peak {peak / MB:.1f} MB"
    if code == 2:  # refused as a whole: then with a message, and only where no row count was promised
        assert rows is None and "\nerror: " in "\n" + err, err
        return
    assert code in (0, 1)
    success, errors = read_rows(out / "success.csv"), read_rows(out / "errors.csv")
    assert rows is None or len(success) + len(errors) == rows
    assert sorted(int(r["row"]) for r in success + errors) == list(range(1, len(success) + len(errors) + 1))
    for row in success + errors:  # nothing a spreadsheet would run as a formula
        assert not any(FORMULA.match(value) for key, value in row.items() if key not in ("row",)), row


def test_cli_refuses_a_file_over_the_bound_without_reading_it(cli_env, tmp_path, capsys):
    cli_env.setenv("COMMBOX_MAX_UPLOAD_MB", "1")
    huge = tmp_path / "huge.csv"
    with huge.open("wb") as handle:  # sparse: 512 MB on paper, nothing on disk
        handle.truncate(512 * MB)
    tracemalloc.start()
    code = main(["bulk", str(huge), "--kind", "agent", "--out", str(tmp_path / "out"), "--sandbox", "--quiet"])
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    err = capsys.readouterr().err
    assert code == 2 and "limit" in err and "Traceback" not in err
    assert peak < CLI_MEMORY_BOUND


# -- the dashboard ---------------------------------------------------------------------------


def upload(app, name: str, data: bytes):
    tracemalloc.start()
    try:
        app.file_uploader(key="bulk_upload").set_value((name, data, "text/csv")).run()
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert_no_exception(app)
    return peak


def raw_html_shown(app) -> list[str]:
    """Markdown texts holding an unescaped tag: inert text escapes '<' (table cells are plain text)."""
    texts = [str(node.value) for kind in ("markdown", "caption", "title", "subheader", "warning", "error", "info",
                                          "success") for node in getattr(app, kind)]
    texts += [str(node.value) for node in list(app.sidebar.markdown) + list(app.sidebar.caption)]
    return [text for text in texts if re.search(r"(?<!\\)<(script|img|b)\b", text)]


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_dashboard_refuses_with_a_clear_message(case, new_app):
    name, data, phrase = REFUSED[case]
    app = new_app(BULK)
    peak = upload(app, name, data)
    shown = "\n".join(e.value for e in app.error).replace("\\", "")
    assert phrase in shown, shown
    assert not app.button(key="bulk_start") if "bulk_start" in [b.key for b in app.button] else True
    assert peak < DASHBOARD_MEMORY_BOUND, f"{case}: peak {peak / MB:.1f} MB"


@pytest.mark.parametrize("case", sorted(ACCEPTED))
def test_dashboard_runs_every_row_and_shows_text_inert(case, new_app):
    name, data, rows = ACCEPTED[case]
    app = new_app(BULK)
    peak = upload(app, name, data)
    assert peak < DASHBOARD_MEMORY_BOUND, f"{case}: peak {peak / MB:.1f} MB"
    assert not raw_html_shown(app)
    if not app.metric:  # refused as a whole: with a message, and only where no row count was promised
        assert rows is None and app.error, case
        return
    shown = {metric.label: metric.value for metric in app.metric}
    assert rows is None or shown["Rows"] == str(rows), shown  # nothing lost on the way in


def test_dashboard_runs_hostile_rows_and_keeps_them_inert(new_app):
    name, data, rows = ACCEPTED["html_and_markdown"]
    app = new_app(BULK)
    upload(app, name, data + ACCEPTED["formulas"][1].split(b"\n", 1)[1])
    app.button(key="bulk_start").click().run()
    assert_no_exception(app)
    job = wait_for(job_manager().get(app.query_params["job"]))
    app.run()
    assert_no_exception(app)
    assert len(job.results()) == rows + 3
    assert not raw_html_shown(app)


def test_dashboard_refuses_a_file_over_the_bound(new_app):
    app = new_app(BULK, COMMBOX_MAX_UPLOAD_MB="1")
    upload(app, "big.csv", b"brand,username\n" + b"demo,john.d\n" * (MB // 6))
    assert any("limit" in e.value for e in app.error)
    assert "bulk_start" not in [b.key for b in app.button]


def test_cli_messages_carry_no_terminal_escapes_from_the_file(cli_env, tmp_path, capsys):
    # ESC ]0;… sets the terminal's title, ESC [2J clears the screen: a file must not drive the terminal.
    code, err, _, _ = run_cli(tmp_path, "agents.csv", b"brand\x1b]0;owned\x07\x1b[2J,username\n", capsys)
    assert code == 2
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]", err), repr(err)
    assert "\\x1b]0;owned" in err  # shown escaped, so the user still sees what the file holds
