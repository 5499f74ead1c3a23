"""The real dashboard (`streamlit run app.py`) on a free port, and headless Debian Chromium.

The server gets no COMMBOX_API_KEY, so the dashboard starts its own sandbox, as on a fresh
machine. A missing Chromium fails these tests: it is installed by `make browser`.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from playwright.sync_api import expect

from ..support import wait_until

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
SCREENSHOTS = ARTIFACTS / "screenshots"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
START_TIMEOUT_S = 45
# expect() has its own 5 s default, apart from the page's: a Streamlit rerun on a busy
# two-core CI machine can take longer than that.
expect.set_options(timeout=20_000)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_dashboard(env: dict[str, str], log_name: str, *, port: int | None = None,
                    args: tuple[str, ...] = ()) -> tuple[subprocess.Popen, str]:
    """`streamlit run serve.py` (the dashboard and its invitation pages, as `make run`) on a free
    port (or `port`) with these COMMBOX_* settings (none other from this process) and extra
    Streamlit `args`, its output in test-artifacts/<log_name>; returns once it answers its health check."""
    port = port or free_port()
    clean = {name: value for name, value in os.environ.items() if not name.startswith("COMMBOX_")}
    clean |= {"STREAMLIT_SERVER_FILE_WATCHER_TYPE": "none", "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false"}
    ARTIFACTS.mkdir(exist_ok=True)
    with (ARTIFACTS / log_name).open("wb") as log:  # the child keeps its own copy of the handle
        server = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "serve.py", "--server.port", str(port),
             "--server.address", "127.0.0.1", "--server.headless", "true", *args],
            cwd=ROOT, env=clean | env, stdout=log, stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, server, log_name)
    except BaseException:
        stop_server(server)
        raise
    return server, url


@pytest.fixture(scope="session")
def dashboard_url() -> Iterator[str]:
    server, url = start_dashboard({}, "e2e-streamlit.log")
    try:
        yield url
    finally:
        stop_server(server)


def stop_server(server: subprocess.Popen) -> None:
    """Ask the server to stop; kill it if it has not within 10 s."""
    if server.poll() is not None:
        return
    server.terminate()
    try:
        server.wait(10)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def _wait_healthy(url: str, server: subprocess.Popen, log_name: str) -> None:
    def healthy() -> bool:
        if server.poll() is not None:
            pytest.fail(f"streamlit exited with {server.returncode}; see test-artifacts/{log_name}")
        try:
            return requests.get(f"{url}/_stcore/health", timeout=1).text.strip() == "ok"
        except requests.RequestException:
            return False

    try:
        wait_until(healthy, timeout=START_TIMEOUT_S, interval=0.1)
    except AssertionError:
        pytest.fail(f"the dashboard did not answer {url}/_stcore/health within {START_TIMEOUT_S} s")


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.is_file():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (`make browser`); the e2e tests need it")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(accept_downloads=True, viewport={"width": 1440, "height": 1000})
    context.set_default_timeout(20_000)
    page = context.new_page()
    yield page
    context.close()


def wait_for_app(page) -> None:
    """Until Streamlit has connected and the script has finished its current run."""
    page.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning']", state="attached")


def screenshot(page, name: str, *, streamlit: bool = True) -> Path:
    """A full-page PNG under test-artifacts/screenshots/, once every table has been drawn."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    if not streamlit:
        page.screenshot(path=str(path), full_page=True)
        return path
    # Streamlit scrolls inside its main area, not the window: grow the window to the page's
    # height for the picture, so everything is laid out, drawn and captured, then shrink it back.
    viewport = page.viewport_size
    _settle(page)
    height = page.evaluate(
        "() => Math.max(...[...document.querySelectorAll(\"[data-testid='stMain'], body\")].map(e => e.scrollHeight))"
    )
    page.set_viewport_size({"width": viewport["width"], "height": min(max(height, viewport["height"]), 8000)})
    _settle(page)
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size(viewport)
    return path


def _settle(page) -> None:
    wait_for_app(page)
    expect(page.locator("[data-testid='stSkeleton']")).to_have_count(0)
    tables = page.locator("[data-testid='stDataFrame']")
    for index in range(tables.count()):  # a table is drawn once it has been on screen
        table = tables.nth(index)
        if table.is_visible():  # not in a hidden tab
            table.scroll_into_view_if_needed()
            table.locator("canvas").first.wait_for(state="attached")


def sandbox_url(page) -> str:
    """The in-process sandbox's address, as the SANDBOX banner shows it."""
    text = page.locator(".st-key-mode-banner").inner_text()
    found = re.search(r"http://127\.0\.0\.1:\d+", text)
    assert found, f"no sandbox address in the banner: {text!r}"
    return found.group(0)
