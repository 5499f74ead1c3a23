"""The access gate on a real server, in a real browser: a deep link as a fresh server's very first
request (Streamlit then runs the page file directly, without app.py) shows the sign-in screen
and nothing of the page; the password lets the user in; sign out locks again.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from commbox_core.config.passwords import hash_password
from commbox_core.sandbox import SandboxConfig, SandboxServer

from .conftest import screenshot, start_dashboard, stop_server, wait_for_app

KEY = "E2E-GATE-CANARY-KEY-91ab"
PASSWORD = "e2e gate password"


@pytest.fixture(scope="module")
def gated_url(tmp_path_factory) -> Iterator[str]:
    """A live dashboard (a sandbox stands in for the tenant) behind the shared password."""
    with SandboxServer(SandboxConfig(api_key=KEY)) as tenant:
        env = {
            "COMMBOX_API_URL": tenant.url, "COMMBOX_API_KEY": KEY, "COMMBOX_BRAND": "demo",
            "COMMBOX_ADMIN_PASSWORD_HASH": hash_password(PASSWORD, n=2**12),
            "COMMBOX_DATA_DIR": str(tmp_path_factory.mktemp("gate-data")),
        }
        server, url = start_dashboard(env, "e2e-gate-streamlit.log")
        try:
            yield url
        finally:
            stop_server(server)


def test_a_deep_link_on_a_fresh_server_shows_only_the_sign_in(page, gated_url):
    page.goto(f"{gated_url}/bulk_tickets")  # the server's very first page request
    wait_for_app(page)
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.locator("[data-testid='stFileUploader']")).to_have_count(0)
    assert KEY not in page.content()
    screenshot(page, "gate-sign-in")

    page.get_by_label("Admin password").fill("not the password")
    page.get_by_role("button", name="Sign in with password").click()
    refusal = page.get_by_text(re.compile(r"Wrong password\. The next attempt is possible in \d+ s"))
    expect(refusal).to_be_visible()
    # A failure brakes the next attempt; the message says for how long. Wait for that moment.
    brake_s = int(re.search(r"in (\d+) s", refusal.inner_text()).group(1))
    page.wait_for_timeout(brake_s * 1000 + 300)
    page.get_by_label("Admin password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in with password").click()
    # Signed in, on the page the link asked for.
    expect(page.locator("[data-testid='stFileUploader']")).to_be_visible()
    expect(page.get_by_text("Signed in as admin")).to_be_visible()
    assert KEY not in page.content()

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
