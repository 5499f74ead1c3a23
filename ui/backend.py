"""What every page needs from the server process: settings, the sandbox, and the application
service (commbox_core.service.Console) acting as the signed-in user.

The sandbox and the runs (a JobManager over the job store) live in st.cache_resource: one per
server process, shared by every browser tab, so a run started in one tab is found again after a
refresh or in another. Pages call the Console; they never build clients, links or runners.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import streamlit as st

from commbox_core.config.settings import Settings, load_settings
from commbox_core.errors import ConfigError
from commbox_core.service.sandbox_process import SandboxProcess
from commbox_core.service.backends import on_sandbox, start_sandbox
from commbox_core.service.console import Console
from commbox_core.service.manager import JobManager
from commbox_core.service.takeover import TAKEOVER_USER, TakeoverLoop
from ui.gate import current_role, current_user

SESSION_OVERRIDES = "settings_overrides"  # st.session_state key: this session's setting changes
# Set by serve.py when this server also serves the invitation pages (/invite/<token>): then,
# with no COMMBOX_PUBLIC_URL, invitation links point at the address the browser uses.
serves_invitations = False


def acting_user() -> str:
    """Who this session acts as, for the audit log and the runs it starts (the access gate's
    signed-in user: an email, "admin", or "sandbox")."""
    return current_user()


@st.cache_resource(show_spinner="Starting the built-in CommBox sandbox…")
def embedded_sandbox() -> SandboxProcess:
    """The sandbox in a child process on a free loopback port, started once per server process."""
    return start_sandbox()


@st.cache_resource
def job_manager() -> JobManager:
    """The runs of this server process over the configured job store (COMMBOX_DATABASE_URL, else
    the SQLite file in the data folder).
    Opening it marks runs whose process is gone as interrupted; old runs and audit entries go.
    With COMMBOX_TAKEOVER_SECONDS, this server also finishes the runs of servers that died."""
    console = Console.open(configured_settings(), run_in_process=True)  # big runs leave the pages the GIL
    settings = server_settings()
    if settings.takeover_seconds:
        TakeoverLoop(Console(settings, jobs=console.jobs, user=TAKEOVER_USER), settings.takeover_seconds).start()
    return console.jobs


def configured_settings() -> Settings:
    """Settings from .env, Streamlit secrets and the environment. Raises ConfigError."""
    return load_settings(secrets=_secrets())


def _secrets() -> dict[str, Any]:
    try:
        return st.secrets.to_dict()
    except FileNotFoundError as exc:  # Streamlit's "no secrets" and "cannot parse" errors both are
        if "pars" not in str(exc).lower():
            return {}
        # Never echo the parser's message: it may quote a line of the file, i.e. a secret.
        raise ConfigError(".streamlit/secrets.toml cannot be read: check its TOML syntax") from None


@dataclass(frozen=True)
class Backend:
    settings: Settings  # effective for this session: sandbox applied, session overrides applied
    configured: Settings  # as configured, before the sandbox and the session's overrides
    sandbox_url: str | None

    @property
    def console(self) -> Console:
        """The application service, acting as this session's signed-in user."""
        return Console(self.settings, jobs=job_manager(), user=acting_user(), role=current_role())


def server_settings() -> Settings:
    """The configured settings, on the embedded sandbox when no API key is set: what this server
    process uses outside any session (the invitation pages). Raises ConfigError."""
    configured = configured_settings()
    return configured if configured.is_live else on_sandbox(configured, embedded_sandbox())


def redeemer():
    """For serve.py's invitation routes: this server's store and CommBox (built on first click)."""
    return Console(server_settings(), jobs=job_manager()).redeemer()


def _own_address(settings: Settings) -> Settings:
    if settings.public_url or not serves_invitations or not st.context.url:
        return settings
    parts = urlsplit(st.context.url)
    return settings.replace(public_url=f"{parts.scheme}://{parts.netloc}", _source="this server")


def backend() -> Backend:
    """Raises ConfigError when the configuration, or this session's overrides, are invalid."""
    configured = configured_settings()
    settings, sandbox_url = configured, None
    if not configured.is_live:
        server = embedded_sandbox()
        settings, sandbox_url = on_sandbox(configured, server), server.url
    settings = _own_address(settings)
    overrides = st.session_state.get(SESSION_OVERRIDES) or {}
    if overrides:
        try:
            settings = settings.replace(**overrides)
        except ConfigError as problem:  # e.g. the configuration changed under the session's changes
            del st.session_state[SESSION_OVERRIDES]
            st.toast(f"Your session's setting changes were dropped: {problem}", icon=":material/warning:")
    return Backend(settings, configured, sandbox_url)
