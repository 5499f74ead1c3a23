"""What every page needs from the server process: settings, the sandbox, the job manager.

The sandbox and the JobManager live in st.cache_resource: one per server process, shared by
every browser tab, so a run started in one tab is found again after a refresh or in another.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import streamlit as st

from commbox_core.client import CommBoxClient, RetryPolicy
from commbox_core.errors import ConfigError
from commbox_core.jobs import JobManager
from commbox_core.sandbox import SandboxConfig, SandboxServer
from commbox_core.settings import Settings, load_settings
from commbox_core.views import RunPlan, connection_probe, explain_probe

SESSION_OVERRIDES = "settings_overrides"  # st.session_state key: this session's setting changes


@st.cache_resource(show_spinner="Starting the built-in CommBox sandbox…")
def embedded_sandbox() -> SandboxServer:
    """The sandbox on a free loopback port, started once per server process."""
    return SandboxServer(SandboxConfig(), host="127.0.0.1", port=0).start()


@st.cache_resource
def job_manager() -> JobManager:
    return JobManager()


@st.cache_resource
def run_plans() -> dict[str, RunPlan]:
    """job id -> how its file was read (column matching, defaults), to re-validate edited rows."""
    return {}


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
    manager: JobManager
    sandbox_url: str | None


def backend() -> Backend:
    """Raises ConfigError when the configuration, or this session's overrides, are invalid."""
    configured = configured_settings()
    settings, sandbox_url = configured, None
    if not configured.is_live:
        server = embedded_sandbox()
        settings = configured.for_sandbox(server.url, server.config.api_key)
        sandbox_url = server.url
    overrides = st.session_state.get(SESSION_OVERRIDES) or {}
    if overrides:
        try:
            settings = settings.replace(**overrides)
        except ConfigError as problem:  # e.g. the configuration changed under the session's changes
            del st.session_state[SESSION_OVERRIDES]
            st.toast(f"Your session's setting changes were dropped: {problem}", icon=":material/warning:")
    return Backend(settings, configured, job_manager(), sandbox_url)


def check_connection(settings: Settings):
    """A real ticket request for a made-up agent; see views.connection_probe."""
    client = CommBoxClient.from_settings(settings)
    client.retry = RetryPolicy(max_retries=1, backoff_base=0.2, backoff_max=1.0)
    try:
        outcome = client.create_ticket(connection_probe(settings.brand))
    finally:
        client.close()
    return explain_probe(outcome, settings.api_host)
