"""The dashboard killed mid-run and started again on the same job store: History shows the run
interrupted, Resume sends what was left, and the run finishes; or, with COMMBOX_TAKEOVER_SECONDS,
the new dashboard finishes it by itself."""

from __future__ import annotations

import re
import signal
import sqlite3
import subprocess
from pathlib import Path

import pytest
from playwright.sync_api import expect

from ..support import wait_until
from .conftest import screenshot, start_dashboard, stop_server, wait_for_app
from .test_dashboard import open_page, start_slow_run

pytestmark = pytest.mark.e2e
ROWS = 300


def _start_dashboard(data_dir: Path, log_name: str, **env: str) -> tuple[subprocess.Popen, str]:
    return start_dashboard({"COMMBOX_DATA_DIR": str(data_dir), "COMMBOX_CONCURRENCY": "2", **env}, log_name)


def _answered(db: Path) -> int:
    if not db.exists():
        return 0
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT count(*) FROM job_rows WHERE outcome IS NOT NULL").fetchone()[0]


def _killed_mid_run(page, tmp_path, name: str) -> subprocess.Popen:
    """A dashboard on tmp_path/data, SIGKILLed 20 rows into a run of ROWS, before its end; returned dead."""
    first, url = _start_dashboard(tmp_path / "data", f"e2e-{name}-first.log")
    try:
        start_slow_run(page, url, tmp_path, f"{name}.csv", ROWS)
        wait_until(lambda: _answered(tmp_path / "data" / "console.sqlite3") >= 20, timeout=60)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(30)
    answered = _answered(tmp_path / "data" / "console.sqlite3")
    assert answered < ROWS, "the run finished before the kill: raise the latency"
    return first


def test_a_run_cut_short_by_a_server_restart_is_resumed_from_history(page, tmp_path):
    data_dir = tmp_path / "data"
    db = data_dir / "console.sqlite3"
    first = _killed_mid_run(page, tmp_path, "restart")
    second = None
    try:
        second, url = _start_dashboard(data_dir, "e2e-restart-second.log")
        open_page(page, f"{url}/history")
        expect(page.get_by_text("was cut short")).to_be_visible()
        screenshot(page, "history-interrupted")
        page.get_by_role("button", name=re.compile(r"^Resume \(")).click()
        expect(page.get_by_text(f"Done: all {ROWS} rows got a ticket")).to_be_visible(timeout=90_000)
        wait_for_app(page)
        screenshot(page, "bulk-resumed-done")

        def finished() -> tuple | None:
            with sqlite3.connect(db) as conn:
                found = conn.execute(
                    "SELECT status, (SELECT count(*) FROM job_rows WHERE outcome IS NULL) FROM jobs").fetchone()
            return found if found == ("done", 0) else None

        wait_until(finished, timeout=30)
    finally:
        for server in (first, second):
            if server is not None:
                stop_server(server)


def test_a_dashboard_with_takeover_finishes_a_dead_servers_run_with_no_one_pressing_resume(page, tmp_path):
    data_dir = tmp_path / "data"
    db = data_dir / "console.sqlite3"
    first = _killed_mid_run(page, tmp_path, "takeover")
    second = None
    try:
        second, url = _start_dashboard(data_dir, "e2e-takeover-second.log", COMMBOX_TAKEOVER_SECONDS="1")
        open_page(page, url)  # any visit starts the server's runs, and with them its takeover loop
        wait_until(lambda: _owner(db)[0] == second.pid, timeout=30, interval=0.2)  # taken over
        wait_until(lambda: _owner(db)[1] == "done", timeout=90, interval=0.5)
        assert _answered(db) == ROWS
        open_page(page, f"{url}/history")
        expect(page.get_by_text(f"Done: all {ROWS:,} rows got a ticket.")).to_be_visible()  # not a grid cell: those hide
    finally:
        for server in (first, second):
            if server is not None:
                stop_server(server)


def _owner(db: Path) -> tuple[int, str]:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT owner_pid, status FROM jobs").fetchone()
