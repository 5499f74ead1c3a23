"""History: past runs with counts and status; one run's outcomes, downloadable without live links."""

from datetime import UTC, datetime

import streamlit as st

from commbox_core.views import history_frame, run_label
from ui.backend import outcome_file
from ui.widgets import page_start
from ui.runs import run_summary

context = page_start(
    "History",
    "Every run since the dashboard's server started, newest first. Outcome files say who got a ticket, "
    "when it was issued and when it expires, but never hold the links: they are safe to keep and share.",
)
manager = context.manager

jobs = manager.list()
if not jobs:
    st.info("No runs yet. Runs started on **Bulk tickets** appear here.", icon=":material/inbox:")
    st.page_link("pages/bulk_tickets.py", label="Go to Bulk tickets", icon=":material/group:")
    st.stop()

st.dataframe(
    history_frame(jobs, datetime.now(UTC)),
    hide_index=True,
    key="history_table",
    column_config={
        "rows": st.column_config.NumberColumn("rows", format="localized"),
        "succeeded": st.column_config.NumberColumn("succeeded", format="localized"),
        "failed": st.column_config.NumberColumn("failed", format="localized"),
        "follows up": st.column_config.TextColumn("follows up", help="The run whose rows this run sent again"),
    },
)

ids = [job.id for job in jobs]
wanted = st.query_params.get("run")
chosen = st.selectbox(
    "Open a run",
    ids,
    index=ids.index(wanted) if wanted in ids else 0,
    format_func=lambda job_id: run_label(manager.get(job_id)),
    key="history_run",
)
st.query_params["run"] = chosen
job = manager.get(chosen)

with st.container(border=True):
    run_summary(job)
    outcomes, outcomes_csv = outcome_file(job)
    if not job.finished:
        st.caption("This run is still going: the outcomes below are the rows done so far.")
    st.dataframe(
        outcomes,
        hide_index=True,
        key="history_outcomes",
        column_config={"ok": st.column_config.CheckboxColumn("ok")},
    )
    left, right = st.columns(2)
    with left:
        st.download_button(
            "Download outcomes (CSV, no links)",
            outcomes_csv,
            file_name=f"run-{job.id}-outcomes.csv",
            mime="text/csv",
            icon=":material/download:",
            key="history_download",
            on_click="ignore",
        )
    with right:
        st.page_link(
            "pages/bulk_tickets.py", label="Open in Bulk tickets: links, retry, re-issue",
            icon=":material/open_in_new:", query_params={"job": job.id},
        )
