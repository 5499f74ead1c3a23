"""Big runs in a child process (the dashboard's): on the real sandbox and a real store, on both
backends, the run looks exactly like one in a thread: every row once, links that work, outcomes
and audit entries stored (never a link), a streamed results.xlsx, cancel; and a server that dies
takes its run's process with it, so no ticket is asked for after its end. A process waits ready for
the next big run, and goes when its console closes."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import openpyxl
import requests

from commbox_core import Console, Kind
from commbox_core.outputs.files import errors_frame, success_frame, to_xlsx_bytes
from commbox_core.service.run_process import PROCESS_MIN_ROWS, ProcessRunner
from commbox_core.storage.audit import AuditFilter
from commbox_core.tickets.plan import RunPlan
from commbox_core.tickets.request import RowDefaults

from ..support import ROOT_DIR, stored_text, wait_until

ROWS = PROCESS_MIN_ROWS
PEOPLE = ("brand,username,email,note\n" + "demo,john.d,john.d@gmail.com,000123\n" * (ROWS - 1)
          + "demo,,no.username@example.com,last\n").encode()


def _start(console: Console, data: bytes = PEOPLE):
    upload = console.read_upload(data, "many.csv")
    plan = RunPlan(console.match_columns(upload.table, Kind.AGENT).mapping, RowDefaults())
    return console.start_run(upload.table, console.prepare(upload.table, Kind.AGENT, plan), Kind.AGENT, plan,
                             stream_workbook=True)


def _sheet(data: bytes, name: str) -> list[tuple]:
    return list(openpyxl.load_workbook(io.BytesIO(data), read_only=True)[name].iter_rows(values_only=True))


def test_a_big_run_in_a_child_process_gives_what_a_thread_gives(sandbox, store_target):
    with Console.open(sandbox.settings(), db=store_target, user="alice@example.com", run_in_process=True) as console:
        job = _start(console)
        assert isinstance(job.runner, ProcessRunner)
        assert job.wait(120) and job.status == "done"
        results = job.results()
        assert [r.row for r in results] == list(range(1, ROWS + 1))
        assert sum(r.ok for r in results) == ROWS - 1 and results[-1].error_code == "invalid"
        page = requests.get(results[0].url, timeout=5)
        assert page.ok and "sandbox-login-ok" in page.text
        # The child wrote every outcome and audit entry; the store holds no link.
        console.store.flush()
        stored = console.store.job(job.id)
        assert (stored.status, stored.succeeded, stored.failed) == ("done", ROWS - 1, 1)
        audit = console.audit(AuditFilter(user="alice@example.com"), limit=-1)
        assert (audit.job_id == job.id).sum() == ROWS - 1
        text = stored_text(console.store)
        assert not any(r.url in text for r in results[:50] if r.url)
        # results.xlsx came from the child, written as rows landed: the same cells as one built at the end.
        streamed = job.outputs.xlsx
        built = to_xlsx_bytes(success_frame(job.table, job.report), errors_frame(job.table, job.report))
        for sheet in ("Success", "Errors"):
            assert _sheet(streamed, sheet) == _sheet(built, sheet)


def test_a_run_in_a_child_process_is_cancelled(sandbox, tmp_path):
    sandbox.configure(latency_ms=50)
    with Console.open(sandbox.settings(), db=tmp_path / "s.sqlite3", run_in_process=True) as console:
        job = _start(console)
        wait_until(lambda: job.progress().done >= 50, timeout=30)
        console.cancel(job.id)
        assert job.wait(30) and job.status == "cancelled"
        assert 50 <= job.progress().done and 0 < job.not_sent() < ROWS - 50
        assert len(job.results()) == ROWS
        console.store.flush()
        assert console.store.job(job.id).not_sent == job.not_sent()


def test_a_process_waits_ready_for_each_big_run_and_goes_with_the_console(sandbox, tmp_path):
    others = set(_run_processes())  # a dashboard's, kept by an earlier test in this process
    console = Console.open(sandbox.settings(), db=tmp_path / "s.sqlite3", run_in_process=True)
    [ready] = set(_run_processes()) - others  # started with the console, before any run
    job = _start(console)
    wait_until(lambda: job.progress().done >= 10, timeout=30)
    assert set(_run_processes()) - others == {ready}  # the run took it: none other started meanwhile
    assert job.wait(120) and job.status == "done" and len(job.results()) == ROWS
    [next_ready] = wait_until(lambda: set(_run_processes()) - others - {ready}, timeout=10)
    assert wait_until(lambda: set(_run_processes()) - others == {next_ready}, timeout=10)  # the run's, gone
    console.close()
    assert wait_until(lambda: not set(_run_processes()) & {ready, next_ready}, timeout=10)


def test_a_small_run_stays_in_a_thread(sandbox, tmp_path):
    with Console.open(sandbox.settings(), db=tmp_path / "s.sqlite3", run_in_process=True) as console:
        job = _start(console, b"brand,username\ndemo,john.d\n")
        assert not isinstance(job.runner, ProcessRunner) and job.wait(30) and job.status == "done"


SERVER = textwrap.dedent("""
    import sys
    from commbox_core import Console, Kind
    from commbox_core.config.settings import load_settings
    from commbox_core.tickets.plan import RunPlan
    from commbox_core.tickets.request import RowDefaults

    url, key, db = sys.argv[1:4]
    settings = load_settings(environ={}, dotenv_path=None).for_sandbox(url, key)
    console = Console.open(settings, db=db, run_in_process=True)
    upload = console.read_upload(sys.stdin.buffer.read(), "many.csv")
    plan = RunPlan(console.match_columns(upload.table, Kind.AGENT).mapping, RowDefaults())
    job = console.start_run(upload.table, console.prepare(upload.table, Kind.AGENT, plan), Kind.AGENT, plan,
                            stream_workbook=True)
    print("started", flush=True)
    job.wait()
""")


def test_a_server_killed_mid_run_takes_its_runs_process_with_it(sandbox, tmp_path):
    sandbox.configure(latency_ms=50)
    server = subprocess.Popen([sys.executable, "-c", SERVER, sandbox.url, sandbox.api_key, str(tmp_path / "s.sqlite3")],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=ROOT_DIR, text=False)
    server.stdin.write(PEOPLE)
    server.stdin.close()
    assert server.stdout.readline().strip() == b"started"
    wait_until(lambda: sandbox.stats()["tickets_issued"] >= 100, timeout=30)
    [child] = _children(server.pid)  # the run's process
    [helper] = _children(child)  # the one writing its results.xlsx
    os.kill(server.pid, signal.SIGKILL)
    server.wait()
    wait_until(lambda: not _alive(child) and not _alive(helper), timeout=5)  # each saw its parent's end, and stopped
    assert sandbox.stats()["tickets_issued"] < ROWS - 1  # the rest of the run was never asked for


def _run_processes() -> list[int]:
    """This test process's run processes."""
    found = []
    for pid in _children(os.getpid()):
        try:
            if b"commbox_core.service.run_child" in Path(f"/proc/{pid}/cmdline").read_bytes():
                found.append(pid)
        except OSError:
            continue  # ended meanwhile
    return found


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended meanwhile
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    """Running, not ended (an ended child may linger as a zombie until someone reaps it)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
