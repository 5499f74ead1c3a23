"""Every command is listed by --help and explains itself; the CLI starts without the heavy
libraries (a command imports what it needs when it runs)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from commbox_core.cli import COMMANDS, main

from ..support import ROOT_DIR

COMMAND_LINES = [[name] for name in COMMANDS] + [["jobs", action] for action in
                                                 ("list", "show", "cancel", "resume", "reissue", "export")]


def test_help_lists_every_command(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    listed = [line.split()[0] for line in out.split("Commands:")[1].splitlines() if line.strip()]
    assert listed == list(COMMANDS) == ["bulk", "ticket", "jobs", "invites", "redeem", "worker", "sandbox", "bench", "hash-password"]


@pytest.mark.parametrize("command", COMMAND_LINES, ids=" ".join)
def test_each_command_explains_itself(command, capsys):
    assert main([*command, "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"Usage: python -m commbox_core {' '.join(command)} ") and "Options:" in out


def test_no_command_is_one_usage_error(capsys):
    assert main(["launch"]) == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines() == ["error: python -m commbox_core: no such command 'launch' (see --help)"]


def test_the_cli_starts_without_pandas_streamlit_or_the_sandbox():
    code = ("import sys, commbox_core.cli; "
            "print(sorted(m for m in ('pandas', 'streamlit', 'starlette', 'requests') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT_DIR, capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "[]", done.stderr


FIRST_REQUEST_PROBE = """
import sys, time
from commbox_core.api import client
from commbox_core.cli import main

send = client.CommBoxClient.create_ticket
loaded = []

def noting(self, *args, before_send, **kwargs):
    time.sleep(0.3)  # a slow first request: pandas would load meanwhile if nothing waited for it

    def leaving():
        if not loaded:
            loaded.append(sorted(m for m in ("pandas", "pyarrow", "numpy") if m in sys.modules))
        before_send()
    return send(self, *args, before_send=leaving, **kwargs)

client.CommBoxClient.create_ticket = noting
code = main(sys.argv[1:])
print("loaded at the first request:", loaded[0], file=sys.stderr)
sys.exit(code)
"""


def test_a_small_uploads_first_request_leaves_before_pandas_and_arrow_load(tmp_path):
    """Their start-up (0.5 s together) is spent while the first requests are in flight (xlsxwriter
    loads in the workbook's own thread); the result files, which need pandas, are still exact."""
    source = tmp_path / "people.csv"
    source.write_text("uniqueId,firstName,phone1,email\n000123,Ann,+44 20 7946 0001,ann@example.com\n"
                      "7,'=SUM(1),,bob@@example\n", encoding="utf-8")
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, "-c", FIRST_REQUEST_PROBE, "bulk", str(source), "--kind", "customer", "--sandbox",
         "--out", str(out), "--quiet"], cwd=ROOT_DIR, capture_output=True, text=True, timeout=120,
        env={**os.environ, "COMMBOX_DATA_DIR": str(tmp_path)})
    assert "loaded at the first request: []" in done.stderr, done.stderr
    success = (out / "success.csv").read_text(encoding="utf-8-sig").splitlines()
    assert success[0] == "row,uniqueId,firstName,phone1,email,url,expires_at"
    assert success[1].startswith("1,000123,Ann,+44 20 7946 0001,ann@example.com,http://127.0.0.1:")
    assert done.returncode == 1 and "2 rows: 1 succeeded, 1 failed" in done.stderr
    errors = (out / "errors.csv").read_text(encoding="utf-8-sig").splitlines()
    assert errors[1].startswith("2,7,'=SUM(1),,bob@@example,invalid,")  # guarded again on the way out
    assert (out / "results.xlsx").stat().st_size > 0


def test_a_bug_is_one_line_not_a_traceback(monkeypatch, capsys):
    from commbox_core.cli import tickets

    def broken(*args, **kwargs):
        raise RuntimeError("a secret detail from deep inside")

    monkeypatch.delenv("COMMBOX_DEBUG", raising=False)
    monkeypatch.setattr(tickets, "opened_console", broken)
    assert main(["ticket", "--kind", "agent", "--username", "john.d"]) == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [
        "error: unexpected RuntimeError, a bug in the console: run again with COMMBOX_DEBUG=1 to see where, "
        "and report it"]
    monkeypatch.setenv("COMMBOX_DEBUG", "1")
    with pytest.raises(RuntimeError):
        main(["ticket", "--kind", "agent", "--username", "john.d"])
