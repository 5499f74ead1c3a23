"""Two dashboards on one PostgreSQL, as behind a load balancer: a run started on the first is
followed live in the second's History (its counts move without a reload), cancelled from there
(the first server stops it), and exported from there once it has ended."""

from __future__ import annotations

import csv
import io
import re

import pytest
from playwright.sync_api import expect

from commbox_core.outputs.wording import counted

from ..support import wait_until
from .conftest import screenshot, start_dashboard, stop_server, wait_for_app
from .test_dashboard import download_file, open_page, start_slow_run

pytestmark = pytest.mark.e2e
ROWS = 400
ANSWERED = re.compile(r"Running on .+: ([\d,]+) of 400 rows answered")


def _answered(progress) -> int:
    found = ANSWERED.search(progress.inner_text())
    return int(found.group(1).replace(",", "")) if found else -1


def test_a_run_is_followed_live_cancelled_and_exported_from_another_dashboard(
        browser, postgres_server, tmp_path):
    env = {"COMMBOX_DATABASE_URL": postgres_server.new_database(), "COMMBOX_DATA_DIR": str(tmp_path / "data"),
           "COMMBOX_CONCURRENCY": "2"}
    first, first_url = start_dashboard(env, "e2e-two-servers-first.log")
    second, second_url = start_dashboard(env, "e2e-two-servers-second.log")
    contexts = [browser.new_context(accept_downloads=True, viewport={"width": 1440, "height": 1000})
                for _ in range(2)]
    here, there = (context.new_page() for context in contexts)
    try:
        start_slow_run(here, first_url, tmp_path, "two-servers.csv", ROWS)

        open_page(there, f"{second_url}/history")
        progress = there.locator("[data-testid='stProgress']").filter(has_text=ANSWERED)
        expect(progress).to_be_visible()
        seen = _answered(progress)
        wait_until(lambda: _answered(progress) > seen, timeout=20, interval=0.2)  # live: no reload
        screenshot(there, "history-run-on-another-server")
        there.get_by_role("button", name="Cancel run").click()

        expect(here.get_by_text(re.compile(r"^Cancelled\. [\d,]+ rows got"))).to_be_visible(timeout=30_000)
        expect(there.get_by_text("status cancelled")).to_be_visible(timeout=30_000)  # History followed it
        wait_for_app(there)
        outcomes = download_file(there, tmp_path, "Download outcomes (CSV, no links)")
        rows = list(csv.DictReader(io.StringIO(outcomes.read_text(encoding="utf-8-sig"))))
        assert len(rows) == ROWS  # every row, once
        not_sent = [row for row in rows if row["error_code"] == "not_attempted"]
        assert 0 < len(not_sent) < ROWS and all(row["ok"] != "True" for row in not_sent)
        assert sum(1 for row in rows if row["ok"] == "True") + len(not_sent) == ROWS
        # The server that ran it counts those rows as not sent, not as failed.
        metrics = here.locator("[data-testid='stMetric']")
        expect(metrics.filter(has_text="Not sent")).to_contain_text(f"{len(not_sent):,}")
        expect(metrics.filter(has_text="Failed")).to_have_text(re.compile(r"Failed\s*0$"))
        expect(here.get_by_text(f"{counted(len(not_sent), 'row')} never sent")).to_be_visible()
    finally:
        for context in contexts:
            context.close()
        for server in (first, second):
            stop_server(server)
