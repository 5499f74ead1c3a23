"""The access gate: in live mode nothing but a sign-in screen until the session is signed in.

A ticket URL logs its holder in as an agent or customer, so the dashboard is guarded like an
identity provider's admin panel. Two ways in, either or both configured:

- OIDC through Streamlit (`st.login`), configured under `[auth]` in .streamlit/secrets.toml,
  optionally limited to COMMBOX_ALLOWED_EMAILS or COMMBOX_ALLOWED_DOMAIN;
- a shared admin password, configured as COMMBOX_ADMIN_PASSWORD_HASH (commbox_core.config.passwords).

With neither, a live dashboard refuses to serve unless COMMBOX_ALLOW_OPEN_DASHBOARD=true, and
then warns on every page. The sandbox (no API key) stays open: its tickets log nobody in.
"""

from __future__ import annotations

import enum
import logging
import math
import threading
from collections.abc import Callable, Mapping
from typing import Any

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from commbox_core.access import Role, oidc_role
from commbox_core.config.passwords import AttemptLimiter, PasswordHash, verify_password
from commbox_core.config.settings import Settings
from commbox_core.errors import ConsoleError
from ui.text import inert

SIGNED_IN_AS = "gate_signed_in_as"  # st.session_state: who signed in with the password
CURRENT_USER = "gate_current_user"  # st.session_state: who this session acts as, for the audit log
CURRENT_ROLE = "gate_current_role"  # st.session_state: the role it acts under (commbox_core.access)
PASSWORD_FORM = "gate_password_form"
PASSWORD_USER = "admin"  # the shared admin password names no person; the audit log says so
# Each role's password, by the Settings field holding its hash; the user it signs in as is the role's name.
PASSWORD_ROLES = {"admin_password_hash": Role.ADMIN, "issuer_password_hash": Role.ISSUER,
                  "analyst_password_hash": Role.ANALYST}
SANDBOX_USER = "sandbox"
OPEN_USER = "open dashboard"
NOBODY = "not signed in"  # only before the gate has run, or while it shows its own page

log = logging.getLogger(__name__)

# One brake for the whole server process: a new browser session does not reset it.
attempt_limiter = AttemptLimiter()
# Each check costs scrypt's 32 MiB: many sessions guessing at once must not add up to gigabytes.
_checks_at_once = threading.BoundedSemaphore(2)


class Gate(enum.Enum):
    SANDBOX = "sandbox"  # no live key: open
    OPEN = "open"  # live, no sign-in, explicitly allowed: open with a warning
    SIGN_IN = "sign_in"  # live, OIDC and/or password configured
    REFUSE = "refuse"  # live, no sign-in, not allowed open: serve nothing


def gate_for(settings: Settings, auth_secrets: Mapping[str, Any]) -> Gate:
    if not settings.is_live:
        return Gate.SANDBOX
    if oidc_providers(auth_secrets) or _passwords(settings):
        return Gate.SIGN_IN
    return Gate.OPEN if settings.allow_open_dashboard else Gate.REFUSE


def oidc_providers(auth_secrets: Mapping[str, Any]) -> list[str | None]:
    """Providers st.login can use: None for a single one configured directly under [auth]."""
    if not auth_secrets.get("redirect_uri") or not auth_secrets.get("cookie_secret"):
        return []
    if auth_secrets.get("client_id"):
        return [None]
    return [name for name, value in auth_secrets.items() if isinstance(value, Mapping) and value.get("client_id")]


def require_access(settings: Settings) -> Callable[[], None] | None:
    """None when this session may see the dashboard; otherwise the only page it may see.

    Call on every run, before st.navigation; `settings` are as configured (a session's own
    setting changes must not loosen the gate).
    """
    auth = _auth_secrets()
    gate = gate_for(settings, auth)
    if gate in (Gate.SANDBOX, Gate.OPEN):  # the sandbox mints nothing real; an open dashboard was chosen so
        st.session_state[CURRENT_USER] = SANDBOX_USER if gate is Gate.SANDBOX else OPEN_USER
        st.session_state[CURRENT_ROLE] = Role.ADMIN
        return None
    st.session_state.pop(CURRENT_USER, None)
    st.session_state.pop(CURRENT_ROLE, None)
    if gate is Gate.REFUSE:
        return _refusal_page
    signed_in = _signed_in_user(settings, auth)
    if signed_in is None:
        return lambda: _sign_in_page(settings, auth)
    st.session_state[CURRENT_USER], st.session_state[CURRENT_ROLE] = signed_in
    return None


def stop_unless_signed_in(settings: Settings) -> None:
    """For pages: show the gate's page and stop when this session may not see them.

    app.py gates before navigating; this second check keeps a page safe wherever it is run
    from (AppTest runs page files directly).
    """
    page = require_access(settings)
    if page is not None:
        page()
        st.stop()


def sign_out_button() -> None:
    """In the sidebar: who is signed in, and the way out (nothing when no sign-in applies)."""
    if not (st.session_state.get(SIGNED_IN_AS) or _oidc_signed_in()):
        return
    with st.sidebar:
        st.caption(f"Signed in as {inert(current_user())}")
        st.button("Sign out", key="gate_sign_out", icon=":material/logout:", on_click=_sign_out)


def current_user() -> str:
    """Who this session acts as: the signed-in email or name, "admin" for the shared password,
    "sandbox" on the sandbox, "open dashboard" when a live dashboard is served without sign-in.
    Pages run only after the gate, so they never see "not signed in"."""
    return st.session_state.get(CURRENT_USER, NOBODY)


def current_role() -> Role:
    """The role this session acts under (pages run only after the gate has set it)."""
    return Role(st.session_state.get(CURRENT_ROLE, Role.ANALYST))


def is_open_dashboard(settings: Settings) -> bool:
    return gate_for(settings, _auth_secrets()) is Gate.OPEN


def _signed_in_user(settings: Settings, auth: Mapping[str, Any]) -> tuple[str, Role] | None:
    """(user, role) of this session, or None while it has not signed in (or has no role)."""
    signed = st.session_state.get(SIGNED_IN_AS)
    if signed and signed[1] in _passwords(settings).values():
        return signed[0], Role(signed[1])
    if oidc_providers(auth) and _oidc_signed_in():
        role = _oidc_role(settings)
        if role is not None:
            email = st.user.get("email")
            return str(email or st.user.get("name") or st.user.get("sub") or "signed-in user"), role
    return None


def _oidc_role(settings: Settings) -> Role | None:
    try:
        return oidc_role(st.user.to_dict(), settings)
    except ConsoleError as problem:  # e.g. COMMBOX_ROLE_MAP cannot be read: nobody gets a role
        log.error("no role for the signed-in user: %s", problem)
        return None


def _passwords(settings: Settings) -> dict[str, Role]:
    """The roles with a password configured, by their Settings field."""
    return {name: role for name, role in PASSWORD_ROLES.items() if getattr(settings, name) is not None}


def _sign_out() -> None:
    st.session_state.pop(SIGNED_IN_AS, None)
    st.session_state.pop(CURRENT_USER, None)
    st.session_state.pop(CURRENT_ROLE, None)
    if _oidc_signed_in():
        st.logout()


def _sign_in_page(settings: Settings, auth: Mapping[str, Any]) -> None:
    st.title("Sign in", anchor=False)
    st.caption("CommBox Ticket Console mints links that log people in as agents and customers of a live "
               "tenant. Sign in to use it.")
    providers = oidc_providers(auth)
    if providers:
        if _oidc_signed_in():  # signed in with the provider, but no role here
            who = inert(st.user.get("email") or st.user.get("name") or "this account")
            unverified = st.user.get("email_verified") is False
            st.error(f"Signed in as {who}, but no role is assigned to you"
                     + (" (your provider says this e-mail address is not verified)" if unverified else "")
                     + ". Sign out and use another account, or ask an administrator to give yours a role.",
                     icon=":material/block:")
            st.button("Sign out", key="gate_sign_out", icon=":material/logout:", on_click=_sign_out)
        else:
            for provider in providers:
                label = f"Sign in with {provider}" if provider else "Sign in"
                st.button(label, key=f"gate_login_{provider or 'default'}", icon=":material/login:",
                          on_click=st.login, args=(provider,) if provider else ())
    if _passwords(settings):
        _password_form(settings)


def _password_form(settings: Settings) -> None:
    roles = _passwords(settings)
    label = "Admin password" if list(roles.values()) == [Role.ADMIN] else "Password"
    with st.form(PASSWORD_FORM, clear_on_submit=True):
        several = len(roles) > 1
        password = st.text_input(label, type="password", key="gate_password",
                                 help="Each role has its own password: " + ", ".join(roles.values()) if several else None)
        submitted = st.form_submit_button("Sign in with password", icon=":material/key:")
    if not submitted:
        return
    session = _session_id()
    wait = attempt_limiter.wait_left(session)
    if wait > 0:
        st.error(f"Too many failed sign-ins. Wait {math.ceil(wait)} s, then try again.", icon=":material/timer:")
        return
    role = _role_of_password(password, settings)
    if role is not None:
        attempt_limiter.succeeded(session)
        log.info("dashboard sign-in with the %s password (session %s)", role, session[:8])
        st.session_state[SIGNED_IN_AS] = (PASSWORD_USER if role is Role.ADMIN else str(role), role)
        st.rerun()
    wait = attempt_limiter.failed(session)
    log.warning("failed dashboard sign-in with a password (session %s); next attempt in %.0f s", session[:8], wait)
    st.error(f"Wrong password. The next attempt is possible in {math.ceil(wait)} s.", icon=":material/lock:")


def _role_of_password(password: str, settings: Settings) -> Role | None:
    """The role whose password this is (every role's is checked, so the time says nothing)."""
    found = None
    for name, role in _passwords(settings).items():
        stored = PasswordHash.parse(getattr(settings, name).get_secret_value())  # validated by Settings
        with _checks_at_once:
            if bool(password) and verify_password(password, stored) and found is None:
                found = role
    return found


def _refusal_page() -> None:
    st.title("Sign-in required", anchor=False)
    st.error(
        "This dashboard is connected to a live CommBox tenant, and it mints links that log people in. "
        "It serves nobody until a sign-in is configured.",
        icon=":material/lock:",
    )
    st.markdown(
        "Configure one of these, then restart the dashboard (README, *Securing the dashboard*):\n\n"
        "- **Single sign-on (OIDC)**: an `[auth]` section in `.streamlit/secrets.toml`, and "
        "`COMMBOX_ALLOWED_EMAILS` or `COMMBOX_ALLOWED_DOMAIN` to say who may enter;\n"
        "- **a shared admin password**: run `python -m commbox_core.config.passwords` and set the hash it prints "
        "as `COMMBOX_ADMIN_PASSWORD_HASH`.\n\n"
        "To serve it without sign-in anyway (on a machine only you can reach), set "
        "`COMMBOX_ALLOW_OPEN_DASHBOARD=true`."
    )


def _auth_secrets() -> Mapping[str, Any]:
    try:
        section = st.secrets.get("auth")
    except FileNotFoundError:  # no secrets file; a broken one is reported by ui.backend
        return {}
    return section if isinstance(section, Mapping) else {}


def _oidc_signed_in() -> bool:
    # st.user lacks is_logged_in where no identity cookie could be read (e.g. in AppTest).
    return bool(st.user.get("is_logged_in", False))


def _session_id() -> str:
    ctx = get_script_run_ctx()
    return ctx.session_id if ctx else "no-session"
