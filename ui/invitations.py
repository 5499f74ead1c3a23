"""A run's invitations on a page: their state, revoke some or all, new links for the pending ones.
Widgets only; the service (console.invitations) does the work and the audit."""

from __future__ import annotations

from datetime import timedelta

import streamlit as st

from commbox_core.access import Action
from commbox_core.errors import ConsoleError
from commbox_core.invitations.options import DEFAULT_VALIDITY, InvitationOptions
from commbox_core.outputs.files import to_csv_bytes
from commbox_core.outputs.wording import counted
from commbox_core.service.console import Console
from commbox_core.service.invites import links_frame
from ui.text import inert

VALIDITY_DAYS = [1, 3, 7, 14, 30]
DONE_KEY = "invitations_done"  # what the last action did, shown after the rerun it causes
STATE_HELP = "pending: not used yet · redeemed: clicked and used · expired: past its date · revoked: withdrawn"


def invitation_choices(key: str, kind: str) -> InvitationOptions:
    """Validity, single use and e-mail confirmation, as a run (or one invitation) will have them."""
    left, right = st.columns(2)
    days = left.select_slider("Valid for", VALIDITY_DAYS, value=DEFAULT_VALIDITY.days, key=f"{key}_days",
                              format_func=lambda d: counted(d, "day"),
                              help="How long each link waits for its person (at most 30 days). Keep it short.")
    single = right.toggle("Single use", value=True, key=f"{key}_single",
                          help="The link works once. Off: it works until it expires, each click a new ticket.")
    confirm = False
    if kind == "agent":
        confirm = right.toggle("Ask for the e-mail on record", key=f"{key}_confirm",
                               help="The agent types the e-mail CommBox has for them before the ticket is minted: "
                                    "a mail scanner that submits forms cannot use the link up.")
    return InvitationOptions(timedelta(days=days), single_use=single, confirm_email=confirm)


def invitations_panel(console: Console, job_id: str | None) -> None:
    """A run's invitations (in Bulk tickets and History), or with job_id None every invitation,
    single ones included (History's Invitations tab)."""
    frame = console.invitations.frame(job_id)
    if frame.empty:
        st.info("No invitations yet.", icon=":material/inbox:")
        return
    st.markdown("**Invitations**")
    if message := st.session_state.pop(DONE_KEY, None):
        st.success(message, icon=":material/check:")
    counts = frame["state"].value_counts()
    st.caption(" · ".join(f"{state} {counts.get(state, 0):,}" for state in ("pending", "redeemed", "expired",
                                                                           "revoked")) + f" — {STATE_HELP}")
    shown = frame.assign(**{column: frame[column].dt.strftime("%Y-%m-%d %H:%M").fillna("")
                            for column in ("expires_at", "redeemed_at")})  # never redeemed: a blank cell
    st.dataframe(shown, hide_index=True, key=f"invitations_{job_id}", column_config={
        "expires_at": st.column_config.TextColumn("expires (UTC)"),
        "redeemed_at": st.column_config.TextColumn("redeemed (UTC)"),
    })
    pending = list(frame.loc[frame["state"] == "pending", "invitation_id"])
    if not console.can(Action.MANAGE_INVITATIONS):
        return
    left, middle, right = st.columns(3)
    chosen = left.multiselect("Revoke these", pending, key=f"revoke_pick_{job_id}", placeholder="pending invitations")
    if left.button("Revoke chosen", disabled=not chosen, key=f"revoke_{job_id}", icon=":material/block:"):
        _act(lambda: console.invitations.revoke(chosen), "revoked")
    if job_id is None:
        return
    if middle.button(f"Revoke all pending ({len(pending):,})", disabled=not pending, key=f"revoke_all_{job_id}",
                     icon=":material/cancel:"):
        _act(lambda: console.invitations.revoke_run(job_id), "revoked")
    _new_links(console, job_id, right, len(pending))


def _new_links(console: Console, job_id: str, column, pending: int) -> None:
    made = st.session_state.get(f"new_links_{job_id}")
    if column.button(f"New links for pending ({pending:,})", disabled=not pending, key=f"resend_{job_id}",
                     icon=":material/forward_to_inbox:",
                     help="Links are never stored. This makes a new link for every pending invitation; the old "
                          "links stop working at once. Download them and send them again."):
        try:
            made = to_csv_bytes(links_frame(console.invitations.resend_pending(job_id)))
        except ConsoleError as problem:
            st.error(inert(problem), icon=":material/error:")
            return
        st.session_state[f"new_links_{job_id}"] = made
    if made:
        column.download_button("Download the new links (CSV)", made, file_name=f"run-{job_id}-invitations.csv",
                               mime="text/csv", icon=":material/download:", key=f"new_links_file_{job_id}",
                               on_click="ignore")
        column.caption("These links are credentials: send each only to its person.")


def _act(action, done: str) -> None:
    try:
        ids = action()
    except ConsoleError as problem:
        st.error(inert(problem), icon=":material/error:")
        return
    st.session_state[DONE_KEY] = f"{counted(len(ids), 'invitation')} {done}."
    st.rerun()
