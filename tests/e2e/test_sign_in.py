"""Single sign-on in Chromium through a real OpenID Connect provider on loopback (npm's
oauth2-mock-server, tests/oidc/provider.mjs, signing ID tokens with the claims each test sets),
Streamlit's st.login on the dashboard in live mode, and the roles the console gives from them."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import requests
from playwright.sync_api import expect

from commbox_core.fields import Kind
from commbox_core.invitations.options import InvitationOptions
from commbox_core.service.console import Console
from commbox_core.tickets.plan import RunPlan
from commbox_core.tickets.request import RowDefaults

from .conftest import ROOT, free_port, screenshot, start_dashboard, stop_server, wait_for_app

PROVIDER = ROOT / "tests" / "oidc" / "provider.mjs"
ROLE_MAP = "ccadmins=admin,onboarding=issuer,bi=analyst"
NAV = "[data-testid='stSidebarNav']"


@pytest.fixture(scope="module")
def provider():
    if not (PROVIDER.parent / "node_modules").is_dir():
        pytest.fail("the OIDC test provider is not installed: run `make oidc-provider` (make test does)")
    process = subprocess.Popen(["node", str(PROVIDER)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        started = json.loads(process.stdout.readline())
        yield started
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture(scope="module")
def store_with_runs(sandbox_server, tmp_path_factory) -> Path:
    """A data folder whose job store holds a ticket run and an invitation run."""
    folder = tmp_path_factory.mktemp("sso-data")
    settings = sandbox_server_settings(sandbox_server)
    with Console.open(settings, db=folder / "console.sqlite3", user="ada@example.com") as console:
        upload = console.read_upload(b"username,email\njohn.d,john.d@gmail.com\n", "agents.csv")
        plan = RunPlan(console.match_columns(upload.table, Kind.AGENT).mapping, RowDefaults(brand="demo"))
        prepared = console.prepare(upload.table, Kind.AGENT, plan)
        for invitations in (None, InvitationOptions()):
            assert console.start_run(upload.table, prepared, Kind.AGENT, plan, invitations=invitations).wait(30)
    return folder


def sandbox_server_settings(sandbox):
    from commbox_core.config.settings import load_settings

    return load_settings(environ={}, dotenv_path=None).for_sandbox(sandbox.url, sandbox.api_key).replace(
        public_url="https://join.example.com")


@pytest.fixture(scope="module")
def sso_dashboard(provider, sandbox_server, store_with_runs, tmp_path_factory):
    """The dashboard in live mode (the test sandbox stands in for a tenant), signing in through the provider."""
    port = free_port()
    secrets = tmp_path_factory.mktemp("sso") / "secrets.toml"
    secrets.write_text(
        "[auth]\n"
        f'redirect_uri = "http://127.0.0.1:{port}/oauth2callback"\n'
        f'cookie_secret = "{"c" * 40}"\n'
        'client_id = "commbox-console"\nclient_secret = "test-secret"\n'
        f'server_metadata_url = "{provider["issuer"]}/.well-known/openid-configuration"\n', encoding="utf-8")
    env = {"COMMBOX_API_URL": sandbox_server.url, "COMMBOX_API_KEY": sandbox_server.api_key,
           "COMMBOX_LOGIN_URL": f"{sandbox_server.url}/login", "COMMBOX_CHAT_URL": sandbox_server.url,
           "COMMBOX_BRAND": "demo", "COMMBOX_DATA_DIR": str(store_with_runs), "COMMBOX_ROLE_MAP": ROLE_MAP,
           "COMMBOX_ANALYST_EMAILS": "@analysts.example", "COMMBOX_PUBLIC_URL": "https://join.example.com"}
    server, url = start_dashboard(env, "e2e-sso-streamlit.log", port=port, args=("--secrets.files", str(secrets)))
    yield url
    stop_server(server)


def sign_in(page, provider, url: str, **claims) -> None:
    claims = {"sub": claims.get("email", "someone"), **claims}
    requests.post(f"{provider['control']}/claims", json=claims, timeout=5).raise_for_status()
    page.goto(url)
    wait_for_app(page)
    page.get_by_role("button", name="Sign in").click()  # to the provider and back, signed in
    expect(page.get_by_text(f"Signed in as {claims['email']}")).to_be_visible()


def nav_links(page) -> list[str]:
    expect(page.locator(NAV)).to_be_visible()
    return [text.strip().splitlines()[-1] for text in page.locator(f"{NAV} a").all_inner_texts()]  # after the icon


@pytest.mark.parametrize(("group", "pages"), [
    ("ccadmins", ["Home", "Single ticket", "Bulk tickets", "History", "Settings"]),
    ("onboarding", ["Home", "Single ticket", "Bulk tickets", "History", "Settings"]),
    ("bi", ["Home", "History", "Settings"]),
])
def test_each_role_sees_exactly_its_pages_and_signs_out(page, provider, sso_dashboard, group, pages):
    sign_in(page, provider, sso_dashboard, email=f"{group}@example.com", email_verified=True, roles=[group])
    expect(page.get_by_text(f"Signed in as {group}@example.com")).to_be_visible()
    assert nav_links(page) == pages
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()


def test_an_analyst_gets_no_link_anywhere_and_a_deep_link_says_why(page, provider, sso_dashboard, tmp_path):
    sign_in(page, provider, sso_dashboard, email="bea@analysts.example", email_verified=True)  # by allow-list
    page.goto(f"{sso_dashboard}/bulk_tickets")
    wait_for_app(page)
    expect(page.get_by_text("Your role (analyst) cannot issue tickets")).to_be_visible()
    screenshot(page, "analyst-deep-link-refused")
    expect(page.locator("[data-testid='stFileUploaderDropzone']")).to_have_count(0)

    seen, files = [], []
    page.goto(f"{sso_dashboard}/history")
    wait_for_app(page)
    for option in range(2):  # both stored runs: the tickets and the invitations
        page.get_by_label("Open a run").click()
        page.get_by_role("option").nth(option).click()
        wait_for_app(page)
        seen.append(page.locator("[data-testid='stMain']").inner_text())
        screenshot(page, f"analyst-history-{option}")
        with page.expect_download() as caught:
            page.get_by_text("Download outcomes (CSV, no links)").click()
        path = tmp_path / f"outcomes-{option}.csv"
        caught.value.save_as(path)
        files.append(path.read_text(encoding="utf-8-sig"))
    assert "john.d" in files[0] + files[1]
    for address in ("", "/settings"):
        page.goto(f"{sso_dashboard}{address}")
        wait_for_app(page)
        seen.append(page.locator("[data-testid='stMain']").inner_text())
    assert "Check connection" not in seen[-2]  # Home offers an analyst nothing that asks CommBox
    everything = "\n".join(seen + files)
    assert "ta=" not in everything and "/invite/" not in everything and "join.example.com" not in everything
    expect(page.get_by_role("button", name="Resume")).to_have_count(0)


@pytest.mark.parametrize("claims", [
    {"email": "nobody@example.com", "email_verified": True, "roles": []},  # signed in, no role
    {"email": "bea@analysts.example", "email_verified": False},  # on a list, but unverified
    {"email": "eve@evil.example", "email_verified": True},  # outside every list, no role claim
])
def test_no_role_no_dashboard(page, provider, sso_dashboard, claims):
    sign_in(page, provider, sso_dashboard, **claims)
    expect(page.get_by_text(f"Signed in as {claims['email']}, but no role is assigned to you")).to_be_visible()
    screenshot(page, f"sign-in-no-role-{claims['email'].split('@')[0]}")
    page.goto(f"{sso_dashboard}/history")
    wait_for_app(page)
    expect(page.get_by_text("but no role is assigned to you")).to_be_visible()
    expect(page.get_by_role("heading", name="History")).to_have_count(0)
