"""Invitation links in Chromium: the confirmation page, the button, and the sandbox's console or
chat on the far side; through the `redeem` app alone, and through the dashboard's own server
(`make run`'s serve.py) from the Single ticket and Bulk tickets pages."""

from __future__ import annotations

import dataclasses
import os
from datetime import UTC, datetime, timedelta

import pytest
import requests
from playwright.sync_api import expect

from commbox_core.fields import Kind
from commbox_core.invitations.issue import new_invitation
from commbox_core.invitations.options import InvitationOptions
from commbox_core.service.console import Console
from commbox_core.storage.invitations import insert_invitations
from commbox_core.tickets.request import RowDefaults, build_request

from ..invitations.conftest import invite, start_redeem
from .conftest import ARTIFACTS, sandbox_url, screenshot, wait_for_app
from .test_dashboard import download, open_page, upload


@pytest.fixture
def redeem_console(sandbox, tmp_path):
    app = start_redeem(sandbox, tmp_path / "store.sqlite3", tmp_path / "redeem.log")
    with Console.open(sandbox.settings(public_url=app.url), db=app.db, user="issuer@example.com") as console:
        yield app, console
    app.stop()


def click_through(page, link: str) -> None:
    page.goto(link)
    page.get_by_role("button", name="Continue").click()


@pytest.mark.parametrize("kind, landing", [(Kind.AGENT, "Agent console"), (Kind.CUSTOMER, "Customer chat")])
def test_an_invitation_of_each_kind_lands_signed_in(page, sandbox, redeem_console, kind, landing):
    _, console = redeem_console
    link = invite(console, kind).url
    requests.head(link, timeout=10)
    requests.get(link, timeout=10)
    page.goto(link)
    expect(page.get_by_role("heading", name="Continue to CommBox as")).to_be_visible()
    assert sandbox.stats()["ticket_requests"] == 0  # a HEAD and two GETs used nothing up
    screenshot(page, f"invitation-confirm-{kind}", streamlit=False)
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name=landing)).to_be_visible()
    assert "ta=" in page.url
    assert sandbox.stats()["tickets_issued"] == 1


def test_used_expired_revoked_and_unknown_links_get_their_page_and_mint_nothing(page, sandbox, redeem_console):
    app, console = redeem_console
    used = invite(console).url
    click_through(page, used)
    expect(page.get_by_role("heading", name="Agent console")).to_be_visible()
    page.goto(used)
    expect(page.get_by_role("heading", name="This link has already been used")).to_be_visible()

    revoked = invite(console)
    console.invitations.revoke([revoked.invitation_id])
    page.goto(revoked.url)
    expect(page.get_by_role("heading", name="This link has been withdrawn")).to_be_visible()

    request, _ = build_request({"username": "john.d"}, Kind.AGENT, RowDefaults(brand="demo"))
    token, item = new_invitation(request, InvitationOptions(timedelta(hours=1)), created_by="test")
    insert_invitations(console.store, [dataclasses.replace(item, created_at=datetime.now(UTC) - timedelta(days=1))])
    page.goto(f"{app.url}/invite/{token}")
    expect(page.get_by_role("heading", name="This link has expired")).to_be_visible()
    screenshot(page, "invitation-expired", streamlit=False)

    page.goto(f"{app.url}/invite/{'Z' * 32}")
    expect(page.get_by_role("heading", name="This link is not valid")).to_be_visible()
    assert sandbox.stats()["tickets_issued"] == 1  # the first click only


def test_the_dashboards_own_server_serves_invitations_from_single_ticket(page, dashboard_url):
    open_page(page, f"{dashboard_url}/single_ticket")
    page.get_by_text("Invitation link instead of a ticket").click()
    expect(page.get_by_role("button", name="Make invitation link")).to_be_visible()
    wait_for_app(page)  # the toggle's rerun is over: the form now keeps what is typed
    page.get_by_role("textbox", name="Username").fill("john.d")
    page.get_by_role("button", name="Make invitation link").click()
    expect(page.get_by_text("Invitation link made for")).to_be_visible()
    link = page.locator("[data-testid='stCode'] code").inner_text().strip()
    assert link.startswith(f"{dashboard_url}/invite/")
    screenshot(page, "single-ticket-invitation")
    sandbox = sandbox_url(page)
    before = requests.get(f"{sandbox}/_sandbox/stats", timeout=5).json()["tickets_issued"]
    click_through(page, link)
    expect(page.get_by_role("heading", name="Agent console")).to_be_visible()
    assert requests.get(f"{sandbox}/_sandbox/stats", timeout=5).json()["tickets_issued"] == before + 1


def test_a_bulk_run_of_invitations_exports_links_that_work_and_can_be_revoked(page, dashboard_url, tmp_path):
    open_page(page, f"{dashboard_url}/bulk_tickets")
    upload(page, tmp_path, "agents.csv", "username,email\njohn.d,john.d@gmail.com\nnoa.c,noa.cohen@example.co.il\n")
    page.get_by_text("Invitation links: wait days for their person").click()
    wait_for_app(page)
    page.get_by_role("button", name="Issue 2 invitation links").click()
    expect(page.get_by_text("Done: all 2 rows got an invitation link")).to_be_visible(timeout=60_000)
    expect(page.get_by_text("Invitations", exact=True)).to_be_visible()
    rows = download(page, tmp_path, "success.csv")
    assert [row["username"] for row in rows] == ["john.d", "noa.c"]
    assert all(row["url"].startswith(f"{dashboard_url}/invite/") and row["invitation_id"] for row in rows)
    screenshot(page, "bulk-invitations")

    page.get_by_role("button", name="Revoke all pending (2)").click()
    expect(page.get_by_text("2 invitations revoked")).to_be_visible()
    page.goto(rows[0]["url"])
    expect(page.get_by_role("heading", name="This link has been withdrawn")).to_be_visible()
    assert os.environ.get("COMMBOX_PUBLIC_URL") is None  # the dashboard used its own address
    server_log = (ARTIFACTS / "e2e-streamlit.log").read_text(encoding="utf-8", errors="replace")
    assert not any(row["url"].rsplit("/", 1)[1] in server_log for row in rows)  # no token in the server's log
