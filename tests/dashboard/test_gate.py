"""The access gate, through AppTest: in live mode nothing is served before sign-in."""

from __future__ import annotations

import pytest

import ui.gate
from commbox_core.access import Role, oidc_role
from commbox_core.config.passwords import AttemptLimiter, hash_password
from commbox_core.config.settings import load_settings
from ui.gate import Gate, gate_for, oidc_providers

from .helpers import assert_no_exception, everything_shown, new_app, plain  # noqa: F401

PASSWORD = "correct horse battery staple"
PASSWORD_HASH = hash_password(PASSWORD, n=2**10)  # cheap parameters: the format is what is tested here
PAGES = ["app_pages/single_ticket.py", "app_pages/bulk_tickets.py", "app_pages/history.py", "app_pages/settings.py"]
# Behind the gate every page address is one and the same sign-in page, registered by address.
ADDRESSES = ["single_ticket", "bulk_tickets", "history", "settings"]
OIDC = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "s" * 32,
        "client_id": "console", "client_secret": "x", "server_metadata_url": "https://idp.example/.well-known"}


@pytest.fixture
def live(sandbox):
    """Environment of a live dashboard: the test sandbox stands in for a tenant; no open switch."""
    return sandbox.env() | {"COMMBOX_ALLOW_OPEN_DASHBOARD": "false"}


@pytest.fixture(autouse=True)
def fresh_limiter(monkeypatch):
    monkeypatch.setattr(ui.gate, "attempt_limiter", AttemptLimiter())


def open_address(app, address: str):
    """As a browser opening /<address>: AppTest.switch_page only takes files, and the gate's
    pages are callables registered under every page's address."""
    [page_hash] = [key for key, info in app._registered_pages.items() if info.get("url_pathname") == address]
    app._page_hash = page_hash
    return app.run()


def shows_dashboard(app) -> bool:
    return any("Ticket Console" in str(title.value) for title in app.title)


def test_the_sandbox_stays_open(new_app):
    app = new_app()
    assert shows_dashboard(app)
    assert ui.gate.SANDBOX_USER == app.session_state[ui.gate.CURRENT_USER]


def test_live_without_a_gate_serves_nothing_on_any_page(new_app, live):
    app = new_app(**live)
    for page in [None, *ADDRESSES]:
        if page:
            open_address(app, page)
        assert_no_exception(app)
        assert [t.value for t in app.title] == ["Sign-in required"]
        assert "COMMBOX_ALLOW_OPEN_DASHBOARD" in everything_shown(app)
        assert live["COMMBOX_API_KEY"] not in everything_shown(app)
        assert not app.file_uploader and not app.dataframe


def test_an_open_live_dashboard_warns_on_every_page(new_app, live):
    app = new_app(**live | {"COMMBOX_ALLOW_OPEN_DASHBOARD": "true"})
    for page in [None, *PAGES]:
        if page:
            app.switch_page(page).run()
        assert_no_exception(app)
        assert any("OPEN DASHBOARD" in error.value for error in app.error), page
    assert app.session_state[ui.gate.CURRENT_USER] == "open dashboard"


def sign_in(app, password: str):
    app.text_input(key="gate_password").input(password)
    [submit] = [b for b in app.button if "password" in str(b.label).lower()]
    return submit.click().run()


def test_password_gate(new_app, live):
    app = new_app(**live, COMMBOX_ADMIN_PASSWORD_HASH=PASSWORD_HASH)
    assert [t.value for t in app.title] == ["Sign in"]
    open_address(app, "bulk_tickets")
    assert [t.value for t in app.title] == ["Sign in"] and not app.file_uploader

    sign_in(app, "wrong password")
    assert_no_exception(app)
    assert any("Wrong password" in e.value for e in app.error)
    sign_in(app, PASSWORD)  # too soon: refused without being checked
    assert any("Too many failed sign-ins" in e.value for e in app.error)
    assert not shows_dashboard(app)

    ui.gate.attempt_limiter = AttemptLimiter()  # as if the wait had passed
    sign_in(app, PASSWORD)
    assert_no_exception(app)
    assert app.session_state[ui.gate.CURRENT_USER] == "admin"
    app.switch_page("app_pages/bulk_tickets.py").run()
    assert app.file_uploader  # the real page now
    assert PASSWORD not in everything_shown(app) and PASSWORD_HASH not in everything_shown(app)

    app.switch_page("app_pages/home.py").run()
    assert any("Signed in as admin" in c.value for c in app.sidebar.caption)
    [sign_out] = [b for b in app.sidebar.button if b.label == "Sign out"]
    sign_out.click().run()
    assert [t.value for t in app.title] == ["Sign in"]
    open_address(app, "bulk_tickets")
    assert [t.value for t in app.title] == ["Sign in"] and not app.file_uploader


def test_failed_attempts_slow_down_new_sessions_too(new_app, live):
    first = new_app(**live, COMMBOX_ADMIN_PASSWORD_HASH=PASSWORD_HASH)
    sign_in(first, "guess 1")
    second = new_app(**live, COMMBOX_ADMIN_PASSWORD_HASH=PASSWORD_HASH)
    sign_in(second, PASSWORD)
    assert any("Too many failed sign-ins" in e.value for e in second.error)


def test_a_malformed_password_hash_is_a_configuration_problem_that_does_not_echo_it(new_app, live):
    app = new_app(**live, COMMBOX_ADMIN_PASSWORD_HASH="scrypt$oops$my-secret-guess")
    assert [t.value for t in app.title] == ["Configuration problem"]
    assert "COMMBOX_ADMIN_PASSWORD_HASH" in plain(everything_shown(app))
    assert "my-secret-guess" not in everything_shown(app)


def test_oidc_sign_in_screen(clean_env, live):
    from streamlit.testing.v1 import AppTest

    from .helpers import APP, RUN_TIMEOUT_S

    for name, value in live.items():
        clean_env.setenv(name, value)  # the fixture new_app would open the dashboard
    app = AppTest.from_file(APP, default_timeout=RUN_TIMEOUT_S)
    app.secrets["auth"] = OIDC
    app.run()
    assert_no_exception(app)
    assert [t.value for t in app.title] == ["Sign in"]
    assert [b.label for b in app.button] == ["Sign in"]
    assert not app.text_input  # no password configured: no password field


def test_which_gate_applies():
    live = {"COMMBOX_API_URL": "https://api.example", "COMMBOX_API_KEY": "k" * 20}
    assert gate_for(load_settings({}, dotenv_path=None), {}) is Gate.SANDBOX
    assert gate_for(load_settings(live, dotenv_path=None), {}) is Gate.REFUSE
    assert gate_for(load_settings(live | {"COMMBOX_ALLOW_OPEN_DASHBOARD": "true"}, dotenv_path=None), {}) is Gate.OPEN
    assert gate_for(load_settings(live, dotenv_path=None), OIDC) is Gate.SIGN_IN
    # A sign-in wins over the open switch.
    both = live | {"COMMBOX_ALLOW_OPEN_DASHBOARD": "true", "COMMBOX_ADMIN_PASSWORD_HASH": PASSWORD_HASH}
    assert gate_for(load_settings(both, dotenv_path=None), {}) is Gate.SIGN_IN


def test_oidc_providers_from_secrets():
    assert oidc_providers({}) == []
    assert oidc_providers({"client_id": "x"}) == []  # no redirect_uri / cookie_secret: st.login would fail
    assert oidc_providers(OIDC) == [None]
    named = {"redirect_uri": "u", "cookie_secret": "c", "google": {"client_id": "g"}, "okta": {"client_id": "o"}}
    assert oidc_providers(named) == ["google", "okta"]


@pytest.mark.parametrize(
    ("email", "verified", "allowed"),
    [
        ("ann@example.com", True, True),
        ("ANN@Example.com", None, True),
        ("bob@example.com", True, True),
        ("eve@evil.example.com", True, False),
        ("eve@example.com.evil", True, False),
        ("example.com@evil.org", True, False),
        ("ann@example.com", False, False),  # unverified
        (None, True, False),
    ],
)
def test_email_allow_list(email, verified, allowed):
    settings = load_settings({"COMMBOX_ALLOWED_EMAILS": "ann@example.com", "COMMBOX_ALLOWED_DOMAIN": "@example.com"},
                             dotenv_path=None)
    claims = {"email": email, "email_verified": verified}
    assert oidc_role(claims, settings) is (Role.ADMIN if allowed else None)  # the old lists mean admin
    assert oidc_role(claims, load_settings({}, dotenv_path=None)) is Role.ADMIN  # no list: the provider decides


@pytest.mark.parametrize(
    ("user", "admitted"),
    [
        ({"is_logged_in": True, "email": "ann@example.com", "email_verified": True}, True),
        ({"is_logged_in": True, "email": "eve@evil.example", "email_verified": True}, False),
        ({"is_logged_in": True, "email": "ann@example.com", "email_verified": False}, False),
        ({"is_logged_in": False}, False),
    ],
)
def test_oidc_sign_in_with_a_domain_allow_list(clean_env, live, user, admitted):
    from streamlit.testing.v1 import AppTest

    from .helpers import APP, RUN_TIMEOUT_S

    for name, value in (live | {"COMMBOX_ALLOWED_DOMAIN": "example.com"}).items():
        clean_env.setenv(name, value)
    app = AppTest.from_file(APP, default_timeout=RUN_TIMEOUT_S)
    app.secrets["auth"] = OIDC
    app.user = user
    app.run()
    assert_no_exception(app)
    assert shows_dashboard(app) is admitted
    if admitted:
        assert app.session_state[ui.gate.CURRENT_USER] == "ann@example.com"
        app.switch_page("app_pages/bulk_tickets.py").run()
        assert app.file_uploader and any(b.label == "Sign out" for b in app.sidebar.button)
    elif user["is_logged_in"]:
        assert any("but no role is assigned to you" in plain(e.value) for e in app.error)
        assert [b.label for b in app.button] == ["Sign out"]


ROLE_PASSWORDS = {Role.ADMIN: "admin pass phrase", Role.ISSUER: "issuer pass phrase", Role.ANALYST: "analyst phrase"}


@pytest.mark.parametrize("role", list(Role))
def test_each_roles_password_signs_in_as_that_role(new_app, live, role):
    hashes = {f"COMMBOX_{r.upper()}_PASSWORD_HASH": hash_password(p, n=2**10) for r, p in ROLE_PASSWORDS.items()}
    app = new_app(**live, **hashes)
    assert [t.value for t in app.title] == ["Sign in"] and app.text_input(key="gate_password").label == "Password"
    sign_in(app, ROLE_PASSWORDS[role])
    assert_no_exception(app)
    assert app.session_state[ui.gate.CURRENT_ROLE] == role
    app.switch_page("app_pages/bulk_tickets.py").run()
    if role is Role.ANALYST:  # a deep link says why, and shows nothing of the page
        assert any("Your role (analyst) cannot issue tickets" in e.value for e in app.error)
        assert not app.file_uploader
    else:
        assert app.file_uploader
    app.switch_page("app_pages/history.py").run()
    assert_no_exception(app)


def test_a_wrong_password_slows_every_role_down(new_app, live):
    hashes = {f"COMMBOX_{r.upper()}_PASSWORD_HASH": hash_password(p, n=2**10) for r, p in ROLE_PASSWORDS.items()}
    app = new_app(**live, **hashes)
    sign_in(app, "guess")
    assert any("Wrong password" in e.value for e in app.error)
    sign_in(app, ROLE_PASSWORDS[Role.ISSUER])
    assert any("Too many failed sign-ins" in e.value for e in app.error) and not shows_dashboard(app)
