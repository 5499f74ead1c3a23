"""History: every run in the job store (this server's, other processes', interrupted ones), one
run's outcomes without links, resume and re-issue, purge of personal data; and the audit log."""

from datetime import UTC, date, datetime, time, timedelta

import streamlit as st

from commbox_core.access import Action
from commbox_core.outputs.history import audit_view, outcomes_shown, outcomes_shown_caption
from commbox_core.outputs.wording import counted
from commbox_core.storage.audit import AuditFilter
from commbox_core.vocabulary import RunStatus
from ui.invitations import invitations_panel
from ui.runs import run_summary, start_and_follow
from ui.text import inert
from ui.widgets import page_start

context = page_start(
    "History",
    "Every run in the job store, newest first, including runs of other server processes and runs cut short "
    "by a restart. Outcome files say who got a ticket, when it was issued and when it expires, but never "
    "hold the links: they are safe to keep and share.",
    needs=Action.READ_HISTORY,
)
console = context.console
runs_tab, invitations_tab, audit_tab = st.tabs(["Runs", "Invitations", "Audit log"])
BULK_PAGE = "app_pages/bulk_tickets.py"  # where a run started here is followed
OUTCOMES_SHOWN = 1_000  # a run's outcomes in the page's table; the file has them all
AUDIT_SHOWN = 1_000  # entries in the audit tab's table (every History load builds it); the export has them all


SCOPES = {"upload": "The whole upload", "run": "This run alone"}


def _outcomes(job_id: str) -> None:
    """A run's outcomes; for a run with follow-ups (or one), those of the whole upload by default:
    every row of the file once, at its latest outcome."""
    runs = console.upload_runs(job_id)
    scope = "run"
    if len(runs) > 1:
        scope = st.segmented_control("Outcomes of", list(SCOPES), format_func=SCOPES.get, default="upload",
                                     required=True, key=f"history_scope_{job_id}")
    if scope == "upload":
        frame, csv_bytes, _ = console.upload_outcome_file(job_id)
        name = f"upload-{runs[0].id}-outcomes.csv"
        st.caption(f"Run {runs[0].id} and its {counted(len(runs) - 1, 'follow-up')}: each row of the file once, "
                   "with its latest outcome, its values as last sent, and the run it comes from.")
    else:
        frame, csv_bytes = console.outcome_file(job_id)
        name = f"run-{job_id}-outcomes.csv"
    shown = outcomes_shown(frame, OUTCOMES_SHOWN)
    if caption := outcomes_shown_caption(frame, shown):
        st.caption(caption)
    st.dataframe(shown, hide_index=True, key="history_outcomes", column_config={"ok": st.column_config.CheckboxColumn("ok")})
    st.download_button("Download outcomes (CSV, no links)", csv_bytes, file_name=name,
                       mime="text/csv", icon=":material/download:", key="history_download", on_click="ignore")


LIVE_EVERY_S = 2  # how often a run going on elsewhere (another server) is looked at again


def _elsewhere(job_id: str) -> None:
    """A run another server is running (they share the store): its counts as they land, and Cancel."""
    @st.fragment(run_every=LIVE_EVERY_S)
    def follow() -> None:
        record = console.stored_job(job_id)
        if record is None or not record.status.active:
            st.rerun()  # ended meanwhile: the whole run is shown as it is now
        answered = record.succeeded + record.failed
        st.progress(answered / record.total if record.total else 1.0,
                    text=f"Running on {inert(record.owner_host or 'another server')}: {answered:,} of "
                         f"{record.total:,} rows answered ({record.succeeded:,} succeeded, {record.failed:,} failed)")
        if record.cancel_requested_at is not None:
            st.caption(f"Cancel asked by {inert(record.cancel_requested_by or 'someone')}: its server stops it "
                       "within a second or two.")
        elif console.can(Action.FOLLOW_UP) and st.button("Cancel run", icon=":material/stop_circle:",
                                                          key=f"cancel_elsewhere_{job_id}"):
            console.cancel(job_id)
            st.toast("Cancel asked: the server running it stops it.", icon=":material/cancel:")
            st.rerun(scope="fragment")

    follow()


def _stored_run(job_id: str) -> None:
    record, rows = console.stored_run(job_id)
    st.caption(f"Run **{record.id}** · {inert(record.source_name or 'no file name')} · {record.kind}s · "
               f"started by {inert(record.started_by)} · status **{record.status}**")
    to_send = sum(1 for row in rows if row.needs_sending)
    lost = sum(1 for row in rows if row.outcome == "ok")
    if record.status is RunStatus.INTERRUPTED:
        st.warning(f"This run was cut short (its server process stopped). {to_send:,} rows were never answered "
                   "or failed in a way a retry may fix: Resume sends only those.", icon=":material/pause_circle:")
    if record.status.active:
        _elsewhere(job_id)
        _outcomes_while_running(job_id)
    else:
        _outcomes(job_id)
    invitations = bool(record.options.get("invitations"))
    if invitations:
        invitations_panel(console, job_id)
    purged = record.pii_purged_at is not None
    if not console.can(Action.FOLLOW_UP):
        return  # an analyst: outcomes only
    left, middle, right = st.columns(3)
    if left.button(f"Resume ({to_send:,} rows)", icon=":material/play_arrow:", key=f"resume_{record.id}",
                   type="primary", disabled=purged or to_send == 0 or not record.status.resumable,
                   help="Sends the rows never answered and those whose error may go away on retry. "
                        "Rows that got a ticket are not sent again."):
        start_and_follow(lambda: console.resume(record.id), BULK_PAGE)
    if not invitations and middle.button(
                     f"Re-issue lost links ({lost:,})", icon=":material/autorenew:", key=f"reissue_{record.id}",
                     disabled=purged or lost == 0 or record.status.active,
                     help="Links are never stored, so those issued by a process that is gone cannot be shown. "
                          "This asks CommBox for new tickets for those rows (each person gets a second ticket)."):
        start_and_follow(lambda: console.reissue_lost(record.id), BULK_PAGE)
    if purged:
        right.caption(f"Personal data purged {record.pii_purged_at:%Y-%m-%d %H:%M} UTC.")
    elif console.can(Action.PURGE) and not record.status.active:  # not under a run's feet
        with right.popover("Purge personal data", icon=":material/delete:"):
            st.caption("Forgets the values of every row of this run (names, emails, phones, ids); outcomes and "
                       "counts stay. The run can then no longer be resumed or re-issued. This cannot be undone.")
            if st.button("Purge now", key=f"purge_{record.id}", type="primary"):
                console.purge(record.id)
                st.rerun()


def _outcomes_while_running(job_id: str) -> None:
    """A running run's outcomes on demand: for a big run, building its table on every visit made
    the page crawl while the run went on."""
    if st.toggle("Show the outcomes so far", key=f"so_far_{job_id}",
                 help="The rows done until now; the full table is shown once the run has ended."):
        _outcomes(job_id)


def _live_run(job) -> None:
    finished = job.finished  # read once: see Bulk tickets
    run_summary(console, job, finished=finished)  # a run going on: its counts as they land, and Cancel
    if finished:
        _outcomes(job.id)
    else:
        _outcomes_while_running(job.id)
    if job.invitations is not None:
        invitations_panel(console, job.id)
    st.page_link(BULK_PAGE, label="Open in Bulk tickets: links, retry, re-issue",
                 icon=":material/open_in_new:", query_params={"job": job.id})


def _runs_table() -> None:
    """The runs, newest first; a row clicked opens that run below."""
    if st.session_state.pop("history_clicked", False):
        st.rerun()  # this table is a fragment: the run below needs the whole page run again
    frame = console.history_frame()
    st.session_state["history_table_runs"] = frame["run"].tolist()  # what a click's row number means
    version = st.session_state.get("history_table_version", 0)
    st.dataframe(frame, hide_index=True, key=f"history_table_{version}", on_select=_open_clicked,
                 selection_mode="single-row", column_config={
        "rows": st.column_config.NumberColumn("rows", format="localized"),
        "succeeded": st.column_config.NumberColumn("succeeded", format="localized"),
        "failed": st.column_config.NumberColumn("failed", format="localized"),
        "follows up": st.column_config.TextColumn("follows up", help="The run whose rows this run sent again"),
    })


def _open_clicked() -> None:
    """Before the rerun a click starts: the run box shows the clicked run, and a fresh table waits
    for the next click (a row left selected would not tell a new click from an old one)."""
    version = st.session_state.get("history_table_version", 0)
    rows = st.session_state[f"history_table_{version}"].selection.rows
    if rows:
        st.session_state["history_run"] = st.session_state["history_table_runs"][rows[0]]
        st.session_state["history_table_version"] = version + 1
        st.session_state["history_clicked"] = True


with runs_tab:
    stored = console.history()
    if not stored:
        st.info("No runs yet. Runs started on **Bulk tickets** appear here.", icon=":material/inbox:")
        st.page_link(BULK_PAGE, label="Go to Bulk tickets", icon=":material/group:")
    else:
        labels = console.run_labels(stored)
        # While any run goes on (here or on another server), the table follows the store.
        st.fragment(run_every=LIVE_EVERY_S if any(r.status.active for r in stored) else None)(_runs_table)()
        ids = [record.id for record in stored]  # the table's order: newest first
        wanted = st.query_params.get("run")
        if st.session_state.get("history_run") not in ids:  # a run gone meanwhile (retention)
            st.session_state.pop("history_run", None)
        # A run clicked in the table is already in the box's state; else the address says which.
        index = None if "history_run" in st.session_state else (ids.index(wanted) if wanted in ids else 0)
        chosen = st.selectbox("Open a run", ids, index=index,
                              format_func=lambda job_id: labels.get(job_id, job_id), key="history_run")
        st.query_params["run"] = chosen
        job = console.job(chosen)
        with st.container(border=True):
            if job is None:
                _stored_run(chosen)
            else:
                _live_run(job)

with invitations_tab:
    st.caption("Every invitation link, newest first: single ones and those of runs. A link itself is never kept; "
               "open a run above to make new links for its pending invitations.")
    invitations_panel(console, None)

with audit_tab:
    st.caption("Every ticket asked for (single, bulk, or at an invitation's click), every invitation issued and "
               "revoked: who, for whom, on which tenant, and how it ended. It keeps a fingerprint of each token and an "
               "invitation's id, never a token or a link.")
    first, second, third, fourth = st.columns(4)
    user = first.selectbox("User", ["", *console.audit_users()], format_func=lambda u: u or "anyone", key="audit_user")
    outcome = second.selectbox("Outcome", ["", "ok", "failed"], format_func=lambda o: o or "any", key="audit_outcome")
    subject = third.text_input("Person (part of the identifier)", key="audit_subject")
    since = fourth.date_input("Since", value=date.today() - timedelta(days=7), key="audit_since")
    wanted = AuditFilter(since=datetime.combine(since, time(), UTC) if since else None, user=user,
                         subject=subject.strip(), outcome=outcome)
    entries = console.audit(wanted, limit=AUDIT_SHOWN)
    matching = console.audit_count(wanted) if len(entries) == AUDIT_SHOWN else len(entries)
    st.caption(f"The newest {AUDIT_SHOWN:,} of {counted(matching, 'matching entry', 'matching entries')}: narrow "
               "the filters, or export them all." if matching > AUDIT_SHOWN else counted(matching, "matching entry",
                                                                                        "matching entries") + ".")
    st.dataframe(audit_view(entries), hide_index=True, key="audit_table",
                 column_config={"at": st.column_config.TextColumn("at (UTC)")})
    if console.can(Action.EXPORT_AUDIT):
        st.download_button("Export every matching entry (CSV)", lambda: console.audit_file(wanted),
                           file_name="audit.csv", mime="text/csv", icon=":material/download:", key="audit_download",
                           on_click="ignore")
