"""Every command is listed by --help and explains itself; the CLI starts without the heavy
libraries (a command imports what it needs when it runs)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from commbox_core.cli import COMMANDS, main

from ..support import ROOT_DIR

COMMAND_LINES = [[name] for name in COMMANDS] + [["jobs", action] for action in
                                                 ("list", "show", "resume", "reissue", "export")]


def test_help_lists_every_command(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    listed = [line.split()[0] for line in out.split("Commands:")[1].splitlines() if line.strip()]
    assert listed == list(COMMANDS) == ["bulk", "ticket", "jobs", "invites", "redeem", "sandbox", "bench", "hash-password"]


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
