"""The command line: exit codes, one-line errors, files written, as a script would use it."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from commbox_core.cli import main

from ..support import ROOT_DIR

ROOT = ROOT_DIR
EXAMPLES = ROOT / "examples"


@pytest.fixture
def cli_env(sandbox, clean_env):
    """The CLI pointed at the test sandbox as if it were a tenant; no stray .env is read."""
    for name, value in sandbox.env().items():
        clean_env.setenv(name, value)
    return sandbox


def read_csv(path: Path) -> list[dict]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def test_bulk_agents_example_writes_both_tables(cli_env, tmp_path, capsys):
    code = main(["bulk", str(EXAMPLES / "agents.csv"), "--kind", "agent", "--out", str(tmp_path / "out")])
    out, err = capsys.readouterr()
    assert code == 1  # some rows fail on purpose
    assert {Path(p).name for p in out.split()} == {"success.csv", "errors.csv", "results.xlsx", "summary.json"}
    success = read_csv(tmp_path / "out" / "success.csv")
    errors = read_csv(tmp_path / "out" / "errors.csv")
    assert sorted(int(r["row"]) for r in success + errors) == list(range(1, 11))
    assert {r["username"] for r in success} == {"john.d", "noa.c", "maria.g", "li.wei", "sam.t"}
    assert {r["row"]: r["error_code"] for r in errors} == {
        "6": "not_found", "7": "not_found", "8": "invalid", "9": "invalid", "10": "invalid"
    }
    assert "scientific notation" in next(r["error"] for r in errors if r["row"] == "10")
    assert next(r for r in success if r["username"] == "noa.c")["firstName"] == "נועה"
    assert requests.get(success[0]["url"], timeout=5).status_code == 200
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert (summary["rows"], summary["succeeded"], summary["failed"]) == (10, 5, 5)
    assert "10 rows: 5 succeeded, 5 failed" in err
    assert "?ta=" not in err  # tokens never on stderr


def test_bulk_customers_example(cli_env, tmp_path, capsys):
    code = main(["bulk", str(EXAMPLES / "customers.csv"), "--kind", "customer", "--out", str(tmp_path)])
    assert code == 1
    success = read_csv(tmp_path / "success.csv")
    assert [r["uniqueId"] for r in success] == ["000123", "000124", "C-9001", ""]
    assert success[0]["phone1"] == "+972 54 123 4567"  # a phone is written as given: it runs nothing
    assert all(requests.get(r["url"], timeout=5).status_code == 200 for r in success)
    errors = {r["row"]: r["error_code"] for r in read_csv(tmp_path / "errors.csv")}
    assert errors == {"5": "invalid", "6": "invalid", "7": "invalid", "8": "not_found"}


def test_bulk_reads_the_chosen_sheet_of_an_excel_workbook_as_excel_shows_it(cli_env, tmp_path, capsys):
    import openpyxl

    book = openpyxl.Workbook()
    book.active.title = "Notes"
    book.active.append(["nothing to send here"])
    sheet = book.create_sheet("Customers")
    for row in (["uniqueId", "phone1", "email"], ["000123", "+44 20 7946 0123", "a@example.com"], [124, None, None]):
        sheet.append(row)
    sheet["A3"].number_format = "000000"  # shown 000124 in Excel, stored as the number 124
    book.save(tmp_path / "people.xlsx")
    code = main(["bulk", str(tmp_path / "people.xlsx"), "--sheet", "Customers", "--kind", "customer",
                 "--out", str(tmp_path / "out")])
    assert code == 0, capsys.readouterr().err
    success = read_csv(tmp_path / "out" / "success.csv")
    assert [(r["row"], r["uniqueId"], r["phone1"]) for r in success] == [
        ("1", "000123", "+44 20 7946 0123"), ("2", "000124", "")]
    assert main(["bulk", str(tmp_path / "people.xlsx"), "--sheet", "Clients", "--kind", "customer",
                 "--out", str(tmp_path / "o2")]) == 2
    assert 'no sheet "Clients"; its sheets are "Notes", "Customers"' in capsys.readouterr().err


def test_all_rows_good_exits_zero(cli_env, tmp_path):
    good = tmp_path / "good.csv"
    good.write_text("Username;E-mail\njohn.d;john.d@gmail.com\r\nsam.t;\r\n", encoding="utf-8-sig")
    assert main(["bulk", str(good), "--kind", "agent", "--out", str(tmp_path / "o"), "--one-time-use"]) == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["bulk", "missing.csv", "--kind", "agent", "--out", "o"], "missing.csv: no such file"),
        (["bulk", "x.csv", "--kind", "robot", "--out", "o"], "invalid choice"),
        (["bulk", "x.csv", "--kind", "agent"], "--out"),
        (["ticket", "--kind", "agent", "--brand", "demo"], "Username (username): is empty"),
        (["ticket", "--kind", "customer", "--unique-id", "1", "--phone", "4.4E+11"], "scientific notation"),
    ],
)
def test_usage_and_input_errors_exit_2_with_one_line(cli_env, capsys, args, message):
    assert main(args) == 2
    out, err = capsys.readouterr()
    assert message in err and len(err.strip().splitlines()) == 1 and out == ""


def test_file_problems_exit_2(cli_env, tmp_path, capsys):
    no_columns = tmp_path / "cols.csv"
    no_columns.write_text("colour,size\nred,3\n")
    binary = tmp_path / "agents.csv"
    binary.write_bytes(b"PK\x03\x04" + bytes(range(256)))
    for path in (no_columns, binary):
        assert main(["bulk", str(path), "--kind", "agent", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 2


def test_no_api_key_exits_2_and_says_what_to_do(cli_env, monkeypatch, capsys):
    monkeypatch.delenv("COMMBOX_API_KEY")
    assert main(["ticket", "--kind", "agent", "--username", "john.d"]) == 2
    assert "COMMBOX_API_KEY" in capsys.readouterr().err


def test_wrong_key_stops_the_run_and_exits_2(cli_env, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("COMMBOX_API_KEY", "wrong-key-123")
    assert main(["bulk", str(EXAMPLES / "agents.csv"), "--kind", "agent", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "401" in err and "wrong-key-123" not in err
    codes = {r["error_code"] for r in read_csv(tmp_path / "errors.csv")}
    assert codes <= {"unauthorized", "not_attempted", "invalid"} and "unauthorized" in codes


def test_an_unreachable_api_stops_the_run_and_exits_2(cli_env, monkeypatch, tmp_path, capsys, refused_url):
    monkeypatch.setenv("COMMBOX_API_URL", refused_url)
    monkeypatch.setenv("COMMBOX_MAX_RETRIES", "0")
    people = tmp_path / "many.csv"
    people.write_text("brand,username\n" + "".join(f"demo,agent{n}\n" for n in range(40)))
    assert main(["bulk", str(people), "--kind", "agent", "--out", str(tmp_path / "out"), "--quiet"]) == 2
    assert "could not be reached" in capsys.readouterr().err
    codes = [r["error_code"] for r in read_csv(tmp_path / "out" / "errors.csv")]
    assert len(codes) == 40 and set(codes) == {"network", "not_attempted"}


def test_ticket_prints_one_url_and_its_expiry(cli_env, capsys):
    assert main(["ticket", "--kind", "customer", "--unique-id", "000123", "--channel", "nex9tHPKdBkD_fAfbuUPABg%3d%3d"]) == 0
    out, err = capsys.readouterr()
    url = out.strip()
    assert "/chat/nex9tHPKdBkD_fAfbuUPABg%3D%3D?ta=" in url and len(out.splitlines()) == 1
    assert "expires at" in err and "in 300 s" in err
    assert requests.get(url, timeout=5).status_code == 200


def test_ticket_for_unknown_agent_exits_1(cli_env, capsys):
    assert main(["ticket", "--kind", "agent", "--username", "ghost"]) == 1
    assert "not_found" in capsys.readouterr().err


def test_real_process_with_builtin_sandbox(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMMBOX_")} | {"PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "commbox_core", "bulk", str(EXAMPLES / "agents.csv"), "--kind", "agent",
         "--out", str(tmp_path), "--sandbox"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr and "sandbox running at http://127.0.0.1:" in done.stderr
    assert len(read_csv(tmp_path / "success.csv")) == 5
