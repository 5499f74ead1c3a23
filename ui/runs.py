"""How a run shows: its summary, its live progress, and its results with downloads and follow-ups."""

from __future__ import annotations

from datetime import UTC, datetime

import streamlit as st

from commbox_core.access import Action
from commbox_core.errors import ConsoleError
from commbox_core.outputs.views import (
    REASON,
    SECONDS_LEFT,
    error_view,
    fix_frame,
    mapped_columns,
    subject_by_row,
    success_view,
)
from commbox_core.outputs.wording import (
    PURPOSE_LABELS,
    counted,
    error_glossary,
    format_duration,
    progress_text,
    utc_time,
)
from commbox_core.runs.results import expired_rows, fixable_rows, live_links, retryable_rows
from commbox_core.service.console import Console
from commbox_core.service.jobs import Job
from commbox_core.service.uploads import UploadRuns
from commbox_core.tables.edits import apply_edits
from commbox_core.vocabulary import Purpose, RunStatus
from ui.editing import clear_edits, paged_editor, stored_edits
from ui.invitations import invitations_panel
from ui.text import inert

# Once a second, as the time left counts: at 0.5 s the page's own updates cost a watched
# 20,000-row run 10 % of its rate (800 against 890 rows/s on 2 cores).
PROGRESS_EVERY_S = 1.0


def open_run(job_id: str | None) -> None:
    """Show this run on the Bulk tickets page, in the URL too, so a refresh finds it again."""
    if job_id:
        st.query_params["job"] = job_id
        st.session_state["bulk_job"] = job_id
    else:
        st.query_params.pop("job", None)
        st.session_state.pop("bulk_job", None)


def run_summary(console: Console, job: Job, *, finished: bool) -> None:
    """A run's caption; once `finished` (as the caller read it once, for the whole page), its
    headline and counts, else its live progress (_run_progress). Never both: a "Done" drawn above
    a progress bar, as the run ended mid-page, would be gone at the next rerun."""
    purpose = "" if job.purpose is Purpose.RUN else f" · {PURPOSE_LABELS.get(job.purpose, job.purpose)} of run {job.parent_id}"
    st.caption(
        f"Run **{job.id}** · {inert(job.source_name or 'no file name')} · {job.kind}s · "
        f"started {utc_time(job.created_at)}{purpose}"
    )
    if finished:
        _headline(job)
        _counts(job)
    else:
        _run_progress(console, job.id)


def _headline(job: Job) -> None:
    total, ok, failed = job.counts()
    got = "an invitation link" if job.invitations else "a ticket"
    if job.status is RunStatus.FAILED:
        st.error(f"The run stopped: {inert(job.error)}", icon=":material/error:")
    elif job.status is RunStatus.STOPPED:
        st.error(
            "CommBox refused the API key (401), so the run stopped at once: every other row would have "
            "failed the same way. Rows not sent are listed as not_attempted. Check COMMBOX_API_KEY, then "
            "use Retry failed rows.",
            icon=":material/key_off:",
        )
    elif job.status is RunStatus.UNREACHABLE:
        st.error(
            "CommBox could not be reached: the rows sent last all failed to connect, after every retry, so the "
            "run stopped rather than wait through the rest. Rows not sent are listed as not_attempted. Check "
            "the API URL in Settings and the network, then use Retry failed rows.",
            icon=":material/cloud_off:",
        )
    elif job.status is RunStatus.CANCELLED:
        st.warning(f"Cancelled. {counted(ok, 'row')} got {got}; {counted(job.not_sent(), 'row')} never sent "
                   "(not_attempted: Retry failed rows sends them).", icon=":material/cancel:")
    elif failed == 0:
        st.success(f"Done: {'the one row' if total == 1 else f'all {total:,} rows'} got {got}.",
                   icon=":material/check_circle:")
    else:
        st.warning(f"Done: {ok:,} of {total:,} rows got {got}; {failed:,} failed (see Errors).",
                   icon=":material/warning:")


def _counts(job: Job) -> None:
    progress = job.progress()
    summary = job.report.summary() if job.report is not None else None
    total, ok, failed = job.counts()
    not_sent = job.not_sent()
    columns = st.columns(5 if not_sent else 4)
    columns[0].metric("Rows", f"{total:,}")
    columns[1].metric("Succeeded", f"{ok:,}")
    columns[2].metric("Failed", f"{failed - not_sent:,}")
    if not_sent:  # a cancel or a stop: these rows were never sent, they did not fail
        columns[3].metric("Not sent", f"{not_sent:,}")
    if summary:
        rate = f"{summary['rows_per_s']:,.1f} rows/s" if summary["rows_per_s"] else None
        columns[-1].metric("Took", format_duration(summary["duration_s"]), delta=rate, delta_color="off",
                           delta_arrow="off", help="Rows sent per second: rows never sent are not counted")
    else:
        columns[-1].metric("Elapsed", format_duration(progress.elapsed_s))


def _run_progress(console: Console, job_id: str) -> None:
    @st.fragment(run_every=PROGRESS_EVERY_S)
    def poll() -> None:
        job = console.job(job_id)
        if job is None or job.finished:
            st.rerun()  # the page then shows the results
        _counts(job)
        progress = job.progress()
        st.progress(progress.fraction, text=progress_text(progress))
        st.caption("The run goes on in the server: you can leave this page, refresh it, or close the tab; "
                   "come back through History or this page's address.")
        if console.can(Action.FOLLOW_UP) and st.button("Cancel run", icon=":material/stop_circle:",
                                                        key=f"cancel_{job_id}"):
            try:
                console.cancel(job_id)
            except ConsoleError as problem:  # ended meanwhile
                st.error(inert(problem), icon=":material/error:")
            else:
                st.toast("Cancelling: requests already sent finish first.", icon=":material/cancel:")

    poll()


def _downloads(job: Job | UploadRuns, key: str = "dl") -> None:
    try:
        with st.spinner("Preparing the result files…"):
            outputs = job.outputs  # built once per job, then cached on it
    except ConsoleError as problem:
        st.error(f"No result files: {inert(problem)}", icon=":material/error:")
        return
    first, second, third, fourth = st.columns(4)
    common = {"on_click": "ignore", "icon": ":material/download:"}
    first.download_button("success.csv", outputs.success_csv, file_name="success.csv", mime="text/csv",
                          key=f"{key}_success_{job.id}", type="primary", **common)
    second.download_button("errors.csv", outputs.errors_csv, file_name="errors.csv", mime="text/csv",
                           key=f"{key}_errors_{job.id}", **common)
    # The workbook is the slow one (about 6 s for 50,000 rows): built on the click, not at render.
    third.download_button(
        "results.xlsx", outputs.later("results.xlsx"), file_name="results.xlsx",
        mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", key=f"{key}_xlsx_{job.id}",
        **common,
    )
    fourth.download_button("summary.json", outputs.summary_json, file_name="summary.json", mime="application/json",
                           key=f"{key}_summary_{job.id}", **common)
    whole = "They hold the whole upload: each row once, with its latest outcome. " if isinstance(job, UploadRuns) else ""
    st.caption(f"{whole}success.csv and results.xlsx hold live links (credentials): share each link only with its "
               "owner. errors.csv can be fixed and uploaded again as it is.")


def _link_countdown(job: Job | UploadRuns) -> None:
    @st.fragment(run_every=1)
    def tick() -> None:
        now = datetime.now(UTC)
        valid, next_end = live_links(job.results(), now)
        if valid == 0:
            st.caption(f"All links from this run have expired (as of {utc_time(now)}).")
            return
        st.caption(
            f":material/timer: {counted(valid, 'link')} still valid; the next expires in "
            f"{format_duration((next_end - now).total_seconds())}. Seconds left in the table are as of "
            f"{utc_time(now)}."
        )

    tick()


def results_panel(console: Console, job: Job | UploadRuns, run: Job | None = None) -> None:
    """A finished run's (or an upload's) files, links and errors, and its follow-ups; for an
    upload, `run` is the page's own run, whose files stay on offer apart."""
    report = job.report
    if report is None:
        return
    _downloads(job)
    if run is not None:
        with st.expander(f"Files of run {run.id} alone", icon=":material/folder_open:"):
            _downloads(run, key="dl_run")
    now = datetime.now(UTC)
    subjects = subject_by_row(job.table, job.prepared, job.kind)
    succeeded, failed = report.succeeded, report.failed
    links_tab, errors_tab = st.tabs([f"Links ({len(succeeded):,})", f"Errors ({len(failed):,})"])
    with links_tab:
        if not succeeded:
            st.info("No row got a ticket in this run.", icon=":material/info:")
        else:
            _link_countdown(job)
            st.dataframe(
                success_view(job.table, report, subjects, now),
                hide_index=True,
                key=f"success_{job.id}",
                column_config={
                    "row": st.column_config.NumberColumn("row", help="Row number in the file (1 = first data row)"),
                    "url": st.column_config.LinkColumn(
                        "link", display_text="Open link",
                        help="The invitation link" if job.invitations else "The ticket URL"),
                    "expires_at": st.column_config.TextColumn("expires at (UTC)"),
                    SECONDS_LEFT: st.column_config.NumberColumn("seconds left", format="%d s"),
                },
            )
    with errors_tab:
        if not failed:
            st.success("No errors.", icon=":material/check_circle:")
        else:
            st.dataframe(
                error_view(job.table, report, subjects),
                hide_index=True,
                key=f"errors_{job.id}",
                column_config={
                    "row": st.column_config.NumberColumn("row", help="Row number in the file (1 = first data row)"),
                    "error_code": st.column_config.TextColumn("error_code", help=error_glossary()),
                    REASON: st.column_config.TextColumn("reason", width="large"),
                },
            )
    if job.invitations is not None:
        invitations_panel(console, job.id)
    _follow_ups(console, job, now)


def _follow_ups(console: Console, job: Job | UploadRuns, now: datetime) -> None:
    retryable = retryable_rows(job.results())
    st.subheader("Follow up", anchor=False)
    left, right = st.columns(2)
    with left:
        if st.button(
            f"Retry failed rows ({len(retryable):,})", icon=":material/replay:", disabled=not retryable,
            key=f"retry_{job.id}",
            help="Sends again the rows whose error may go away on its own: throttled, server errors, network "
                 "trouble, answers without a ticket, and rows never sent. Other errors need an edit (below).",
        ):
            start_and_follow(lambda: console.retry_failed(job))
    with right:
        _reissue_expired(console, job, now)
    _fix_and_resend(console, job)


def _reissue_expired(console: Console, job: Job | UploadRuns, now: datetime) -> None:
    """The re-issue button follows the clock: it counts links as they expire, with no reload.
    It wakes when the next link expires (at most every 10 s), not every second for nothing."""
    _, next_end = live_links(job.results(), now)
    every = None if next_end is None else min(10.0, max(1.0, (next_end - now).total_seconds()))

    refused = f"reissue_refused_{job.id}"

    @st.fragment(run_every=every)
    def button() -> None:
        expired = expired_rows(job.results(), datetime.now(UTC))
        if st.button(
            f"Re-issue expired links ({len(expired):,})", icon=":material/autorenew:", disabled=not expired,
            key=f"reissue_{job.id}",
            help="Asks for new tickets for the rows whose links have expired, with the same values.",
        ):
            st.session_state.pop(refused, None)
            start_and_follow(lambda: console.reissue_expired(job), refused_key=refused)
        elif refused in st.session_state:  # kept: the timer's next rerun would wipe a message shown once
            st.error(inert(st.session_state[refused]), icon=":material/error:")

    button()


def start_and_follow(start, page: str | None = None, *, refused_key: str | None = None) -> None:
    """Start a run (resume, retry, re-issue, resend) and show it: on `page`, or here after a rerun.
    A refusal is shown where the button was (and kept in the session under `refused_key`)."""
    try:
        job = start()
    except ConsoleError as problem:
        st.error(inert(problem), icon=":material/error:")
        if refused_key is not None:
            st.session_state[refused_key] = str(problem)
        return
    open_run(job.id)
    if page is not None:
        st.switch_page(page)
    st.rerun()


def _fix_and_resend(console: Console, job: Job | UploadRuns) -> None:
    plan = job.plan
    rows = fixable_rows(job.results())
    if not rows or plan is None:
        return
    store = f"fix_edits_{job.id}"
    columns = mapped_columns(plan.mapping, job.kind)
    by_row = {r.row: r for r in job.results()}
    with st.expander(f"Fix and resend rows that need an edit ({len(rows):,})", icon=":material/edit:"):
        st.caption("Correct the values in the grid (invalid values, or an agent whose email or phone does not "
                   "match the record), then resend only the rows you changed. They are checked again first.")
        edits = stored_edits(store)
        edited = apply_edits(job.table, edits)
        paged_editor(
            store, rows, lambda page: fix_frame(edited, [by_row[r] for r in page], columns), columns,
            column_config={REASON: st.column_config.TextColumn("reason", width="large"),
                           "error_code": st.column_config.TextColumn("error_code", help=error_glossary())},
        )
        changed = sorted(set(edits) & set(rows))
        if st.button(f"Resend edited rows ({len(changed):,})", icon=":material/send:", disabled=not changed,
                     key=f"resend_{job.id}", type="primary"):
            start_and_follow(lambda: _resend(console, job, edited, changed, store))


def _resend(console: Console, job: Job | UploadRuns, edited, rows: list[int], store: str) -> Job:
    resent = console.resend_edited(job, edited, rows)
    clear_edits(store)  # sent: the grid starts again from the upload's values as resent
    return resent
