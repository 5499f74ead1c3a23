"""Single ticket: one agent or customer, validated like a bulk row, with a link to copy or open."""

from datetime import UTC, datetime

import streamlit as st

from commbox_core.access import Action
from commbox_core.errors import ConsoleError
from commbox_core.fields import Kind, form_fields
from commbox_core.outputs.views import seconds_left
from commbox_core.outputs.wording import ERROR_MEANINGS, format_duration, utc_time
from commbox_core.tickets.request import RowDefaults, build_request, problems_by_field
from ui.invitations import invitation_choices
from ui.text import inert
from ui.widgets import page_start

context = page_start(
    "Single ticket",
    "Issue one ticket for an agent (a link that logs them into the agent console) or a customer "
    "(a link that opens a chat as them). The form checks the values the same way a bulk upload does.",
    needs=Action.ISSUE,
)
settings = context.settings

KIND_LABELS = {Kind.AGENT: "Agent: console login", Kind.CUSTOMER: "Customer: chat link"}
kind = st.segmented_control(
    "Ticket for", list(Kind), format_func=KIND_LABELS.get, default=Kind.AGENT, required=True, key="single_kind"
)


def field_key(name: str) -> str:
    return f"single_{kind}_{name}"


def issue(kind: Kind, invitation) -> None:
    """Form callback: validate, then request the ticket (or make the invitation); the page shows
    what it stored."""
    values = {name: st.session_state.get(f"single_{kind}_{name}") for name, _ in form_fields(kind)}
    defaults = RowDefaults(
        one_time_use=bool(st.session_state.get(f"single_{kind}_oneTimeUse")),
        override_user_info=bool(st.session_state.get(f"single_{kind}_overrideUserInfo")),
    )
    request, problems = build_request(values, kind, defaults)
    st.session_state["single_problems"] = (kind, problems_by_field(problems))
    st.session_state["single_outcome"] = None
    if request is None:
        return
    try:  # audited as the signed-in user
        if invitation is not None:
            result = context.console.invitations.issue_one(request, invitation)
        else:
            result = context.console.issue_ticket(request)
    except ConsoleError as problem:
        st.session_state["single_outcome"] = {"error": str(problem), "kind": kind}
        return
    st.session_state["single_outcome"] = {"kind": kind, "subject": request.subject, "result": result,
                                          "one_time": request.oneTimeUse, "invitation": invitation}


problem_kind, problems = st.session_state.get("single_problems") or (kind, {})
if problem_kind != kind:  # problems of the other form
    problems = {}
defaults = {"brand": settings.brand or "", "channelId": settings.channel_id or ""}
hints = {
    "brand": "The CommBox brand (account) the person belongs to.",
    "username": "The agent's username in CommBox: required for agents.",
    "email": "For agents it must match the email on record.",
    "phone1": "With the country code: +44 20 7946 0000 or 0044 20 7946 0000. For agents it must match the record.",
    "uniqueId": "Your id for the customer. A customer needs a unique ID, an email or a phone.",
    "channelId": "The chat channel id as shown in CommBox (encoded or not).",
    "remark": "Free text stored with the ticket.",
}

invitation = None
if st.toggle("Invitation link instead of a ticket", key="single_invite",
             help="A ticket lives 60 s (agents) or 5 min (chat). An invitation link waits until its person clicks "
                  "it, then mints a fresh one-time ticket."):
    invitation = invitation_choices("single_invite", kind)

with st.form(f"single_form_{kind}", border=True):
    inputs = form_fields(kind)
    for start in range(0, len(inputs), 2):  # row by row, so a message only pushes its own row down
        for column, (name, label) in zip(st.columns(2), inputs[start : start + 2]):
            with column:
                st.text_input(label, value=defaults.get(name, ""), key=field_key(name), help=hints.get(name))
                if name in problems:
                    st.error(inert(problems[name]), icon=":material/error:")
    st.checkbox("One-time use", key=field_key("oneTimeUse"), help="The link works once; opening it again is refused.")
    if kind is Kind.CUSTOMER:
        st.checkbox(
            "Override user info", key=field_key("overrideUserInfo"),
            help="CommBox updates the customer's record with the names, email and phone given here.",
        )
    st.form_submit_button("Make invitation link" if invitation else "Issue ticket", type="primary", icon=":material/key:",
                          on_click=issue, args=(kind, invitation))

if problems:
    st.error("Fix the fields marked above; nothing was sent to CommBox.", icon=":material/error:")


@st.fragment(run_every=1)
def countdown(issued_at: datetime, expires_at: datetime) -> None:
    left = seconds_left(expires_at, datetime.now(UTC))
    if left <= 0:
        st.rerun()  # the whole page then shows the link as expired, and this fragment stops ticking
    lifespan = max(1, (expires_at - issued_at).total_seconds())
    st.progress(min(1.0, left / lifespan), text=f"Expires in {format_duration(left)}, at {utc_time(expires_at)}")


outcome = st.session_state.get("single_outcome")
if outcome and outcome.get("kind") is not kind:  # what the other form did stays with it
    outcome = None
if outcome and "error" in outcome:
    st.error(inert(outcome["error"]), icon=":material/error:")
elif outcome:
    result = outcome["result"]
    who = inert(outcome["subject"])
    if not result.ok:
        st.error(f"No ticket for **{who}**: {inert(result.error)}", icon=":material/error:")
        st.caption(f"`{result.error_code}`: {ERROR_MEANINGS.get(result.error_code, '')}.")
    elif outcome.get("invitation") is not None:
        with st.container(border=True, key="single_result"):
            st.success(f"Invitation link made for **{who}** ({result.invitation_id}): it works until "
                       f"{utc_time(result.expires_at)}; the ticket is minted when it is clicked.",
                       icon=":material/check_circle:")
            st.code(result.url, language=None, wrap_lines=True)
            once = "once" if outcome["invitation"].single_use else "until it expires"
            st.caption(f"It works {once}. Anyone holding it can sign in as this person: send it only to them. "
                       "History can revoke it or make a new one.")
    else:
        with st.container(border=True, key="single_result"):
            what = "agent console login" if outcome["kind"] is Kind.AGENT else "customer chat link"
            st.success(f"Ticket issued for **{who}**: {what}.", icon=":material/check_circle:")
            st.code(result.url, language=None, wrap_lines=True)
            st.link_button("Open link", result.url, icon=":material/open_in_new:", type="primary")
            if seconds_left(result.expires_at, datetime.now(UTC)) > 0:
                countdown(result.issued_at, result.expires_at)
            else:
                st.warning(f"This link expired at {utc_time(result.expires_at)}. Issue a new ticket.",
                           icon=":material/timer_off:")
            notes = ["Copy it with the button at the right of the link."]
            if outcome["one_time"]:
                notes.append("One-time use: the first person to open it uses it up.")
            notes.append("Anyone holding this link is logged in as this person: send it only to them.")
            st.caption(" ".join(notes))
