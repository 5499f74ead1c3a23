"""What every page needs from the server process: settings, the sandbox, the job manager.

The sandbox and the JobManager live in st.cache_resource: one per server process, shared by
every browser tab, so a run started in one tab is found again after a refresh or in another.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd
import streamlit as st

from commbox_core.client import CommBoxClient, RetryPolicy
from commbox_core.errors import ConfigError
from commbox_core.audit import audit_ticket
from commbox_core.export import to_csv_bytes
from commbox_core.job_records import plan_from_record
from commbox_core.jobs import MAX_JOBS_KEPT, Job, JobManager
from commbox_core.models import TicketRequest
from commbox_core.results import RowResult
from commbox_core.sandbox import SandboxConfig, SandboxServer
from commbox_core.settings import Settings, load_settings
from commbox_core.store import JobStore, StoredJob, default_store_path
from commbox_core.views import RunPlan, connection_probe, explain_probe, outcome_frame, subject_by_row
from ui.gate import current_user

SESSION_OVERRIDES = "settings_overrides"  # st.session_state key: this session's setting changes


def acting_user() -> str:
    """Who this session acts as, for the audit log and the runs it starts (the access gate's
    signed-in user: an email, "admin", or "sandbox")."""
    return current_user()


@st.cache_resource(show_spinner="Starting the built-in CommBox sandbox…")
def embedded_sandbox() -> SandboxServer:
    """The sandbox on a free loopback port, started once per server process."""
    return SandboxServer(SandboxConfig(), host="127.0.0.1", port=0).start()


@st.cache_resource
def job_store() -> JobStore:
    """The job store under the configured data folder: one per server process. Opening it marks
    runs whose process is gone as interrupted; old runs and audit entries are dropped."""
    settings = configured_settings()
    store = JobStore(default_store_path(settings))
    store.apply_retention(settings.retention_days)
    return store


@st.cache_resource
def job_manager() -> JobManager:
    return JobManager(job_store())


def stored_run(manager: JobManager, job_id: str) -> StoredJob | None:
    """A run the job store knows but this process does not hold (another process's, or one cut short)."""
    if manager.store is None:
        return None
    found = manager.store.jobs(1, job_id)
    return found[0] if found else None


def record_ticket(settings: Settings, request: TicketRequest, result: RowResult) -> None:
    """The audit entry of a ticket asked for outside a run (the Single ticket page)."""
    audit_ticket(job_store(), acting_user(), settings.api_host, request, result)


@st.cache_resource
def _run_plans() -> dict[str, RunPlan]:
    return {}


def run_plan(job_id: str) -> RunPlan | None:
    """How a run read its file (column matching, defaults): to re-validate rows edited later.
    After a restart it comes from the job store."""
    plan = _run_plans().get(job_id)
    if plan is None and (stored := stored_run(job_manager(), job_id)) is not None:
        found = plan_from_record(stored.plan)
        plan = RunPlan(*found) if found else None
    return plan


def remember_plan(job_id: str, plan: RunPlan) -> None:
    plans = _run_plans()
    plans[job_id] = plan
    known = {job.id for job in job_manager().list()}
    for forgotten in [key for key in plans if key not in known]:  # the manager keeps the newest runs only
        del plans[forgotten]


@st.cache_resource
def _finished_outcomes() -> dict[str, tuple]:
    return {}


def outcome_file(job: Job) -> tuple[pd.DataFrame, bytes]:
    """A run's outcomes (no links) as a table and as CSV; built once when the run has finished."""
    cache = _finished_outcomes()
    if job.id in cache:
        return cache[job.id]
    frame = outcome_frame(job.results(), subject_by_row(job.table, job.prepared, job.kind))
    made = (frame, to_csv_bytes(frame))
    if job.finished:
        cache[job.id] = made
        for stale in list(cache)[: max(0, len(cache) - MAX_JOBS_KEPT)]:
            del cache[stale]
    return made


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
