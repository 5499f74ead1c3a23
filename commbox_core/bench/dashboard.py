"""The dashboard as a user times it: `streamlit run serve.py` (as `make run`) on the embedded
sandbox, driven by Chromium through Playwright. Page loads of History in a fresh tab, idle and
while a big run goes on (ratio); the run's rate against `bulk`'s on a sandbox in another process
at 0 ms (ratio), both over the run (first request to last answer) and as a user times each (the
click to "Done", the command to its exit with its files); results.xlsx from the click to the
file. Needs Playwright (a test dependency) and Debian's Chromium: run it with `--only dashboard`;
it is not part of a plain `bench`."""

from __future__ import annotations

import json
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import requests

from commbox_core.bench.end_to_end import bulk_environment, write_customers
from commbox_core.bench.network import Sizes
from commbox_core.bench.report import Finding
from commbox_core.service.sandbox_process import SandboxProcess, child_environment

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
LOADS = 5  # page loads on each side; the median counts
APP_DONE = "[data-testid='stApp'][data-test-script-state='notRunning']"


@dataclass(frozen=True)
class Timed:
    """A run's rows and seconds: over the run, and as its user times it."""

    rows: int
    run_s: float  # the first request to the last answer
    whole_s: float  # the dashboard: the click to "Done"; `bulk`: the command to its exit, its files written

    @property
    def rate(self) -> float:
        return self.rows / self.run_s

    @property
    def whole_rate(self) -> float:
        return self.rows / self.whole_s


def dashboard(sizes: Sizes, rows: int, large: int) -> list[Finding]:
    """`rows`: the runs' size for loads and rates; `large`: one more run's, for results.xlsx."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return [Finding("dashboard", "page loads and run rate", "not measured", "Playwright installed", False,
                        "pip install -r requirements-dev.txt (make setup) to measure the dashboard")]
    with tempfile.TemporaryDirectory(prefix="commbox-dash-") as folder, sync_playwright() as playwright:
        source = Path(folder) / "customers.csv"
        write_customers(source, "dash-", rows)
        bulk = _cli_timed(source, folder)
        stored = _cli_timed(source, folder, "--db", str(Path(folder) / "cli.sqlite3"))
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                             args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        server, url = _start_dashboard(folder)
        try:
            findings = _measure(browser, url, Path(folder), source, rows, (bulk, stored))
            big = Path(folder) / "big.csv"
            write_customers(big, "big-", large)
            return [*findings, _large_workbook(browser, url, Path(folder), big, large)]
        finally:
            browser.close()
            server.terminate()
            server.wait(20)


def _measure(browser, url: str, folder: Path, source: Path, rows: int, cli: tuple[Timed, Timed]) -> list[Finding]:
    """Two runs of the same file: one watched on its page (its rate, then results.xlsx), one
    while History is loaded again and again in fresh tabs; the idle loads come between the two,
    so that they show the same store but no run going on."""
    store = folder / "data" / "console.sqlite3"
    _load(browser, f"{url}/history")  # warm: the first load imports the pages
    page = browser.new_page()
    _start_run(page, url, source, rows)
    watched = _wait_for_run(store, 1)
    page.wait_for_selector("text=Done: all", timeout=120_000)
    xlsx = _download_seconds(page, "results.xlsx")
    # Idle now holds what the second run's loads will hold (one run of this size behind), but no
    # run. Each load shows that first run, finished, with its outcomes: the newest run (the page's
    # default) would be the second one during the run, a page without them.
    history = f"{url}/history?run={_run_id(store, 1)}"
    idle = [_load(browser, history) for _ in range(LOADS)]
    _start_run(page, url, source, rows)
    busy = [_load(browser, history) for _ in range(LOADS)]
    during = "the run still going after the last load" if _finished(store) < 2 else "THE RUN ENDED BEFORE THE LAST LOAD"
    loaded = _wait_for_run(store, 2)
    page.close()
    ratio = statistics.median(busy) / statistics.median(idle)
    bulk, stored = cli
    over_run, as_timed = watched.rate / bulk.rate, watched.whole_rate / bulk.whole_rate
    return [
        Finding("dashboard", f"History (a finished {rows:,}-row run open) in a fresh tab during a run of as "
                "many rows, over idle",
                f"{ratio:.2f}x", "<= 1.5x", ratio <= 1.5,
                f"idle {_seconds(idle)}; during the run {_seconds(busy)} (median of {LOADS} each; {during})"),
        Finding("dashboard", f"the dashboard's run of {rows:,} customers at 0 ms over `bulk`'s, each over its run "
                "(first request to last answer)", f"{over_run:.2f}", ">= 0.9", over_run >= 0.9,
                f"dashboard {watched.rate:,.0f} rows/s ({watched.run_s:.1f} s, its page open, store included); "
                f"bulk {bulk.rate:,.0f} rows/s; bulk --db (a store, as the dashboard) {stored.rate:,.0f} rows/s: "
                f"{watched.rate / stored.rate:.2f} of it; while History was loaded {LOADS} times: "
                f"{loaded.rate:,.0f} rows/s"),
        Finding("dashboard", "the same, as a user times each: the click to \"Done\" over `bulk`'s command to its "
                "exit (reading the file, the run, its four files)", f"{as_timed:.2f}", ">= 0.9", as_timed >= 0.9,
                f"dashboard {watched.whole_s:.1f} s ({watched.whole_rate:,.0f} rows/s); bulk {bulk.whole_s:.1f} s "
                f"({bulk.whole_rate:,.0f} rows/s); bulk --db {stored.whole_s:.1f} s"),
        Finding("dashboard", f"results.xlsx of {rows:,} rows, from the click to the file", f"{xlsx:.2f} s",
                "<= 2 s", xlsx <= 2.0, "written as rows landed, by a helper of the run's process, and zipped as the run "
                "ended"),
    ]


def _large_workbook(browser, url: str, folder: Path, source: Path, rows: int) -> Finding:
    """A third run, of `rows` rows, watched to its end; then results.xlsx from the click to the file."""
    page = browser.new_page()
    _start_run(page, url, source, rows)
    timed = _wait_for_run(folder / "data" / "console.sqlite3", 3)
    page.wait_for_selector("text=Done: all", timeout=300_000)
    xlsx = _download_seconds(page, "results.xlsx")
    page.close()
    return Finding("dashboard", f"results.xlsx of {rows:,} rows, from the click to the file", f"{xlsx:.2f} s",
                   "<= 2 s", xlsx <= 2.0, f"the run took {timed.whole_s:.1f} s ({timed.whole_rate:,.0f} rows/s); its "
                   "process's helper wrote the workbook as rows landed and zipped it as the run ended")


def _download_seconds(page, label: str) -> float:
    started = time.perf_counter()
    with page.expect_download(timeout=300_000) as caught:
        page.locator("[data-testid='stDownloadButton']").filter(has_text=label).first.click()
    caught.value.path()
    return time.perf_counter() - started


def _start_run(page, url: str, source: Path, rows: int) -> None:
    page.goto(f"{url}/bulk_tickets")
    page.wait_for_selector(APP_DONE, state="attached", timeout=60_000)
    new_upload = page.get_by_role("button", name="New upload")
    if new_upload.count():  # the page shows the last run
        new_upload.click()
        page.wait_for_selector(APP_DONE, state="attached", timeout=60_000)
    page.get_by_text("Customers: chat links").click()
    page.wait_for_selector(APP_DONE, state="attached", timeout=60_000)
    page.locator("[data-testid='stFileUploaderDropzoneInput']").set_input_files(str(source))
    button = page.get_by_role("button", name=f"Issue {rows:,} tickets")
    button.wait_for(timeout=120_000)
    button.click()
    page.wait_for_url("**job=*", timeout=60_000)


def _load(browser, url: str) -> float:
    """Seconds from asking for the page in a fresh tab to its script having run."""
    page = browser.new_page()
    started = time.perf_counter()
    page.goto(url)
    page.wait_for_selector("[data-testid='stSidebarNav']", timeout=120_000)
    page.wait_for_selector(APP_DONE, state="attached", timeout=120_000)
    seconds = time.perf_counter() - started
    page.close()
    return seconds


def _finished(store: Path) -> int:
    with sqlite3.connect(store) as conn:
        return conn.execute("SELECT count(*) FROM jobs WHERE finished_at IS NOT NULL").fetchone()[0]


def _wait_for_run(store: Path, nth: int) -> Timed:
    """The `nth` run's times, as its store records them: from its start to its end, and from its
    first row marked as leaving to its last answer."""
    while True:
        with sqlite3.connect(store) as conn:
            found = conn.execute("SELECT id, created_at, finished_at FROM jobs ORDER BY created_at").fetchall()
            if len(found) >= nth and found[nth - 1][2]:
                job_id, created, finished = found[nth - 1]
                rows, first, last = conn.execute("SELECT count(*), min(sent_at), max(updated_at) FROM job_rows "
                                                 "WHERE job_id = ?", (job_id,)).fetchone()
                return Timed(rows, _between(first, last), _between(created, finished))
        time.sleep(0.5)


def _run_id(store: Path, nth: int) -> str:
    with sqlite3.connect(store) as conn:
        return conn.execute("SELECT id FROM jobs ORDER BY created_at").fetchall()[nth - 1][0]


def _between(start: str, end: str) -> float:
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


def _cli_timed(source: Path, folder: str, *store: str) -> Timed:
    """`bulk` against a sandbox process at 0 ms: its run (from summary.json), and the command from
    its start to its exit; `store`: extra arguments (--db PATH: recording every row, as the
    dashboard always does)."""
    out = Path(folder) / f"cli-out{len(store)}"
    with SandboxProcess() as sandbox:
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "commbox_core", "bulk", str(source), "--kind", "customer", "--out",
                        str(out), "--quiet", *store], env=bulk_environment(sandbox, folder), check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=900)
        whole = time.perf_counter() - started
    summary = json.loads((out / "summary.json").read_text())
    return Timed(summary["rows"], summary["duration_s"], whole)


def _start_dashboard(folder: str) -> tuple[subprocess.Popen, str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {name: value for name, value in child_environment().items() if not name.startswith("COMMBOX_")}
    env |= {"COMMBOX_DATA_DIR": str(Path(folder) / "data"), "STREAMLIT_SERVER_FILE_WATCHER_TYPE": "none",
            "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false", "COMMBOX_BRAND": "demo",
            "COMMBOX_CHANNEL_ID": "demo-channel"}
    server = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "serve.py", "--server.port", str(port),
                               "--server.address", "127.0.0.1", "--server.headless", "true"],
                              cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{url}/_stcore/health", timeout=1).text.strip() == "ok":
                return server, url
        except requests.RequestException:
            time.sleep(0.2)
    server.terminate()
    raise RuntimeError("the dashboard did not start within 60 s")


def _seconds(values: list[float]) -> str:
    return ", ".join(f"{v:.2f}" for v in values) + " s"

