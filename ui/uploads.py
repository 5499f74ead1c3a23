"""A run with follow-ups, shown as its upload: every row of the file once, at its latest outcome."""

from __future__ import annotations

import streamlit as st

from commbox_core.outputs.wording import PURPOSE_LABELS, counted, utc_time
from commbox_core.service.console import Console
from commbox_core.service.jobs import Job
from commbox_core.service.uploads import UploadRuns
from ui.text import inert


def upload_summary(console: Console, job: Job, upload: UploadRuns) -> None:
    """A run that has follow-ups, shown as its upload: every row once at its latest outcome, the
    run itself in one line, and a note (that reruns the page) while a further follow-up goes on."""
    follow_ups = ", ".join(f"{run.id} ({PURPOSE_LABELS.get(run.purpose, run.purpose)})" for run in upload.follow_ups)
    st.caption(f"Upload **{upload.id}** · {inert(upload.source_name or 'no file name')} · {upload.kind}s · "
               f"started {utc_time(upload.created_at)} · {counted(len(upload.follow_ups), 'follow-up')}: {follow_ups}")
    total, ok, failed = upload.counts()
    not_sent = upload.not_sent()
    got = "an invitation link" if upload.invitations else "a ticket"
    if failed == 0:
        st.success(f"{'The one row' if total == 1 else f'All {total:,} rows'} of this upload {'has' if total == 1 else 'have'} "
                   f"{got}.", icon=":material/check_circle:")
    else:
        unsent = f", {counted(not_sent, 'row')} never sent" if not_sent else ""
        st.warning(f"{ok:,} of {total:,} rows of this upload have {got}; {failed - not_sent:,} failed{unsent} "
                   "(see Errors).", icon=":material/warning:")
    columns = st.columns(5 if not_sent else 4)
    columns[0].metric("Rows", f"{total:,}")
    columns[1].metric("Succeeded", f"{ok:,}", help="Rows whose latest outcome is a ticket")
    columns[2].metric("Failed", f"{failed - not_sent:,}", help="Rows whose latest outcome is an error")
    if not_sent:
        columns[3].metric("Not sent", f"{not_sent:,}")
    columns[-1].metric("Runs", f"{len(upload.runs):,}", help="The first run and its follow-ups")
    run_total, run_ok, _ = job.counts()
    this = "the first run" if job is upload.root else PURPOSE_LABELS.get(job.purpose, job.purpose)
    st.caption(f"Every row shows once, with its latest outcome and its values as last sent. This page's run "
               f"**{job.id}** ({this}) alone: {run_ok:,} of {counted(run_total, 'row')} got {got}.")
    _running_follow_ups(console, upload)


def _running_follow_ups(console: Console, upload: UploadRuns) -> None:
    if not console.running_follow_ups(upload):
        return

    @st.fragment(run_every=1)
    def note() -> None:
        running = console.running_follow_ups(upload)
        if not running:
            st.rerun()  # the page shows the upload with their rows
        st.info(f"Still going: {', '.join(run.id for run in running)}. Their rows join this view when they end.",
                icon=":material/hourglass_top:")

    note()
