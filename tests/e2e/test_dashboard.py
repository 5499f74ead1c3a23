"""The dashboard in headless Chromium: bulk runs for agents and customers whose exported links
the sandbox accepts, a run that survives a refresh, and a screenshot of every page."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import openpyxl
import pytest
import requests
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from playwright.sync_api import expect

from .conftest import sandbox_url, screenshot, wait_for_app

pytestmark = pytest.mark.e2e

AGENTS = (
    "brand,username,email,phone1,firstName,lastName\n"
    "demo,john.d,john.d@gmail.com,+44 2501 234567,John,Doe\n"
    "demo,noa.c,noa.cohen@example.co.il,+972-50-123-4567,Noa,Cohen\n"
    "demo,ghost.agent,,,Ghost,Agent\n"
    "demo,sam.t,sam.taylor@,,Sam,Typo\n"
)
CUSTOMERS = (
    "Customer ID,E-mail,Mobile,First,Last\n"
    "000123,dana.levi@example.co.il,+972 54 123 4567,Dana,Levi\n"
    "C-9001,,,Jing,Chen\n"
)
DONE = re.compile(r"Done: (all \d+ rows|\d+ of \d+ rows|the one row) got a ticket")


def open_page(page, url: str) -> None:
    page.goto(url)
    wait_for_app(page)
    # The app's own navigation, even when a deep link is a fresh server's first request.
    expect(page.locator("[data-testid='stSidebarNav']")).to_contain_text("Issue tickets")
    expect(page.locator("[data-testid='stException']")).to_have_count(0)


def upload(page, tmp_path, name: str, text: str) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    page.locator("[data-testid='stFileUploaderDropzoneInput']").set_input_files(str(path))
    expect(page.get_by_text("5 · Check and fix the rows")).to_be_visible()


def start_run(page, tickets: int | str) -> None:
    page.get_by_role("button", name=f"Issue {tickets} tickets").click()
    expect(page).to_have_url(re.compile(r"[?&]job=[0-9a-f]+"))


def start_slow_run(page, url: str, tmp_path, name: str, rows: int) -> None:
    """A run of `rows` agents on the dashboard at `url`, its sandbox answering in 100 ms: long
    enough to act on while it goes."""
    open_page(page, f"{url}/bulk_tickets")
    requests.post(f"{sandbox_url(page)}/_sandbox/config", json={"latency_ms": 100}, timeout=5).raise_for_status()
    people = "".join(f"demo,john.d,,,Row,{n}\n" for n in range(rows))
    upload(page, tmp_path, name, "brand,username,email,phone1,firstName,lastName\n" + people)
    start_run(page, rows)


def download_file(page, tmp_path, label: str) -> Path:
    with page.expect_download() as caught:
        page.locator("[data-testid='stDownloadButton']").filter(has_text=label).first.click()  # not a folded one
    path = tmp_path / label
    caught.value.save_as(path)
    return path


def download(page, tmp_path, label: str) -> list[dict[str, str]]:
    path = download_file(page, tmp_path, label)
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"))))


def test_bulk_runs_for_agents_and_customers_export_links_the_sandbox_accepts(page, dashboard_url, tmp_path):
    open_page(page, f"{dashboard_url}/bulk_tickets")
    assert sandbox_url(page)
    screenshot(page, "bulk-start")
    upload(page, tmp_path, "agents.csv", AGENTS)
    screenshot(page, "bulk-preview")
    start_run(page, 3)
    expect(page.get_by_text(DONE)).to_be_visible()
    expect(page.get_by_text("Errors (2)")).to_be_visible()
    wait_for_app(page)
    screenshot(page, "bulk-results")

    rows = download(page, tmp_path, "success.csv")
    assert [r["username"] for r in rows] == ["john.d", "noa.c"]
    link = page.context.new_page()
    link.goto(rows[0]["url"])
    expect(link.locator("[data-testid=sandbox-login-ok]")).to_be_visible()
    screenshot(link, "sandbox-login-page", streamlit=False)
    link.close()
    errors = download(page, tmp_path, "errors.csv")
    assert [(r["row"], r["error_code"]) for r in errors] == [("3", "not_found"), ("4", "invalid")]
    workbook = openpyxl.load_workbook(download_file(page, tmp_path, "results.xlsx"))  # built on the click
    assert workbook.sheetnames == ["Success", "Errors"] and workbook["Success"].max_row == 3

    page.get_by_role("button", name="New upload").click()
    page.get_by_text("Customers: chat links").click()
    upload(page, tmp_path, "customers.csv", CUSTOMERS)
    start_run(page, 2)
    expect(page.get_by_text("Done: all 2 rows got a ticket")).to_be_visible()
    rows = download(page, tmp_path, "success.csv")
    assert [r["Customer ID"] for r in rows] == ["000123", "C-9001"]
    page.goto(rows[1]["url"])
    expect(page.locator("[data-testid=sandbox-chat-ok]")).to_be_visible()


def test_an_excel_upload_keeps_leading_zeros_and_phones_through_to_the_results(page, dashboard_url, tmp_path):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Customers"
    for row in (["Customer ID", "Phone", "E-mail"], ["000123", "+44 20 7946 0123", ""], [124, "", "c@example.com"]):
        sheet.append(row)
    sheet["A3"].number_format = "000000"  # Excel shows 000124; the cell holds the number 124
    book.save(tmp_path / "customers.xlsx")
    open_page(page, f"{dashboard_url}/bulk_tickets")
    page.get_by_text("Customers: chat links").click()
    wait_for_app(page)
    page.locator("[data-testid='stFileUploaderDropzoneInput']").set_input_files(str(tmp_path / "customers.xlsx"))
    expect(page.get_by_text("2 rows · 3 columns · Excel sheet “Customers”")).to_be_visible()
    screenshot(page, "bulk-excel-preview")
    start_run(page, 2)
    expect(page.get_by_text("Done: all 2 rows got a ticket")).to_be_visible()
    rows = download(page, tmp_path, "success.csv")
    assert [(r["Customer ID"], r["Phone"]) for r in rows] == [("000123", "+44 20 7946 0123"), ("000124", "")]


def test_a_run_survives_a_refresh_and_finishes(page, dashboard_url, tmp_path):
    """1,000 rows: a run this big goes to a process of its own (service/run_process.py)."""
    open_page(page, f"{dashboard_url}/bulk_tickets")
    sandbox = sandbox_url(page)
    requests.post(f"{sandbox}/_sandbox/config", json={"latency_ms": 40}, timeout=5).raise_for_status()
    try:
        people = "".join(f"demo,john.d,,,Row,{n}\n" for n in range(1_000))
        upload(page, tmp_path, "many.csv", "brand,username,email,phone1,firstName,lastName\n" + people)
        start_run(page, "1,000")
        progress = page.locator("[data-testid='stProgress']")
        expect(progress).to_be_visible()
        job_url = page.url
        page.reload()
        wait_for_app(page)
        assert page.url == job_url  # ?job= kept: the same run is shown
        expect(progress.or_(page.get_by_text(DONE))).to_be_visible()
        assert page.get_by_text(DONE).count() == 0, "the run finished before the refresh: raise the latency"
        screenshot(page, "bulk-progress-after-refresh")
        expect(page.get_by_text("Done: all 1,000 rows got a ticket")).to_be_visible(timeout=60_000)
        assert page.url == job_url
        page.locator("[data-testid='stSidebarNav']").get_by_role("link", name="History").click()
        expect(page.get_by_role("heading", name="History")).to_be_visible()
        page.locator("[data-testid='stSidebarNav']").get_by_role("link", name="Bulk tickets").click()
        expect(page.get_by_text("Done: all 1,000 rows got a ticket")).to_be_visible()  # the same run, still shown
        expect(page).to_have_url(job_url)
    finally:
        requests.post(f"{sandbox}/_sandbox/config", json={"latency_ms": 0}, timeout=5).raise_for_status()


def test_every_page_renders_and_is_photographed(page, dashboard_url):
    open_page(page, dashboard_url)
    expect(page.get_by_text("SANDBOX").first).to_be_visible()
    page.get_by_role("button", name="Check connection").click()
    expect(page.get_by_text("the API key works")).to_be_visible()
    screenshot(page, "home")

    open_page(page, f"{dashboard_url}/single_ticket")
    page.get_by_role("textbox", name="Username").fill("john.d")
    page.get_by_role("textbox", name="Email").fill("john.d@gmail.com")
    page.get_by_role("button", name="Issue ticket").click()
    expect(page.get_by_text("Expires in")).to_be_visible()
    url = page.locator("[data-testid='stCode'] code").inner_text().strip()
    assert "/login?ta=" in url
    screenshot(page, "single-ticket")

    page.get_by_role("textbox", name="Email").fill("not-an-email")
    page.get_by_role("button", name="Issue ticket").click()
    expect(page.get_by_text("Fix the fields marked above")).to_be_visible()
    screenshot(page, "single-ticket-error")

    for path, name in (("history", "history"), ("settings", "settings")):
        open_page(page, f"{dashboard_url}/{path}")
        screenshot(page, name)
    expect(page.get_by_text("san…ey").first).to_be_attached()  # a grid cell: drawn on canvas


def click_row(page, grid, row: int) -> None:
    """Select a table's `row` (0 = first data row) by its row marker, left of the first column."""
    grid.scroll_into_view_if_needed()
    box = grid.locator("canvas").first.bounding_box()
    page.mouse.click(box["x"] + 14, box["y"] + 35 + 35 * row + 17)


def test_a_run_clicked_in_home_or_history_opens_in_history(page, dashboard_url, tmp_path):
    open_page(page, f"{dashboard_url}/bulk_tickets")
    ids = []
    for name in ("first.csv", "second.csv"):
        if ids:
            page.get_by_role("button", name="New upload").click()
        upload(page, tmp_path, name, "username,email\njohn.d,john.d@gmail.com\n")
        page.get_by_role("button", name="Issue 1 ticket").click()
        expect(page.get_by_text(DONE)).to_be_visible(timeout=60_000)
        ids.append(re.search(r"job=([0-9a-f]+)", page.url).group(1))
    open_page(page, dashboard_url)
    click_row(page, page.locator("[data-testid='stDataFrame']").first, 0)  # the newest run
    expect(page).to_have_url(re.compile(rf"/history\?run={ids[1]}"))
    wait_for_app(page)
    expect(page.get_by_text(re.compile(rf"Run {ids[1]} · second\.csv"))).to_be_visible()
    click_row(page, page.locator("[data-testid='stDataFrame']").first, 1)  # the run before it
    expect(page).to_have_url(re.compile(rf"run={ids[0]}"))
    wait_for_app(page)
    expect(page.get_by_text(re.compile(rf"Run {ids[0]} · first\.csv"))).to_be_visible()  # the run shown below


def edit_cell(page, grid, column: int, was: str, text: str) -> None:
    """Type `text` into the first row's cell `column` places right of the row number, which holds
    `was`, in a data editor (drawn on a canvas: reached by a click on the row, then the keyboard).
    The editor must open on `was`: under load a rerun of the page can move the selection between
    the click and the keys (seen once in CI: the text went into another column), so it tries again."""
    editor = page.locator("textarea.gdg-input")
    for _ in range(3):
        grid.scroll_into_view_if_needed()
        box = grid.locator("canvas").first.bounding_box()
        page.mouse.click(box["x"] + 20, box["y"] + 35 + 17)  # the row number of the first data row
        for _ in range(column):
            page.keyboard.press("ArrowRight")
        page.keyboard.press("Enter")  # opens the cell's editor
        try:
            editor.wait_for(timeout=5_000)
        except PlaywrightTimeoutError:
            continue
        if editor.input_value() == was:
            editor.fill(text)
            page.keyboard.press("Enter")
            return
        page.keyboard.press("Escape")
    raise AssertionError(f"no editor opened on {was!r}, {column} cells right of the first row's number")


def test_fix_resend_and_reissue_end_in_one_file_for_the_upload(page, tmp_path):
    """Upload, a row fixed in the grid and resent, expired links re-issued (the button counting
    them without a reload): the upload's files then hold every row once, at its latest outcome."""
    from .conftest import start_dashboard, stop_server

    server, url = start_dashboard({"COMMBOX_AGENT_TTL": "3"}, "e2e-short-ttl-streamlit.log")
    try:
        open_page(page, f"{url}/bulk_tickets")
        upload(page, tmp_path, "agents.csv", AGENTS)  # rows 1-2 fine, 3 not on record, 4 a bad e-mail
        start_run(page, 3)
        expect(page.get_by_text(DONE)).to_be_visible(timeout=60_000)
        first_run = page.url
        page.get_by_text("Fix and resend rows that need an edit (2)").click()
        edit_cell(page, page.locator("[data-testid='stDataFrame']").last, 4, "ghost.agent", "maria.g")  # row 3: username
        resend = page.get_by_role("button", name="Resend edited rows (1)")
        expect(resend).to_be_enabled()
        resend.click()
        expect(page.get_by_text("3 of 4 rows of this upload have a ticket; 1 failed")).to_be_visible(timeout=60_000)
        assert page.url != first_run  # the resend's own page, showing the whole upload
        before = {r["row"]: r["url"] for r in download(page, tmp_path, "success.csv")}
        assert sorted(before) == ["1", "2", "3"]

        loaded = page.url
        reissue = page.get_by_role("button", name="Re-issue expired links (3)")
        expect(reissue).to_be_enabled(timeout=15_000)  # counted as they expire, without a reload
        assert page.url == loaded
        reissue.click()
        try:
            page.wait_for_url(lambda address: address != loaded, timeout=10_000)  # the re-issue's own page
        except PlaywrightTimeoutError:  # a click landing as the button's fragment reruns on its timer is
            reissue.click()  # lost (seen once in CI under load); a person clicks again, and so does this test
            page.wait_for_url(lambda address: address != loaded, timeout=30_000)
        expect(page.get_by_text("3 of 4 rows of this upload have a ticket; 1 failed")).to_be_visible(timeout=60_000)
        expect(page.get_by_text(re.compile(r"· 2 follow-ups: "))).to_be_visible(timeout=30_000)
        screenshot(page, "bulk-upload-with-follow-ups")

        success = download(page, tmp_path, "success.csv")
        assert [(r["row"], r["username"]) for r in success] == [("1", "john.d"), ("2", "noa.c"), ("3", "maria.g")]
        assert not {r["url"] for r in success} & set(before.values())  # every link the re-issue's
        errors = download(page, tmp_path, "errors.csv")
        assert [(r["row"], r["error_code"]) for r in errors] == [("4", "invalid")]
        book = openpyxl.load_workbook(download_file(page, tmp_path, "results.xlsx"))
        assert [row[0] for row in book["Success"].iter_rows(min_row=2, values_only=True)] == [1, 2, 3]
        assert [row[0] for row in book["Errors"].iter_rows(min_row=2, values_only=True)] == [4]
        link = page.context.new_page()
        link.goto(success[2]["url"])
        expect(link.locator("[data-testid=sandbox-login-ok]")).to_be_visible()

        page.goto(first_run)  # the first run shows the upload too: not its own "2 failed"
        expect(page.get_by_text("3 of 4 rows of this upload have a ticket; 1 failed")).to_be_visible()
    finally:
        stop_server(server)
