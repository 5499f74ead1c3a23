"""Home: which CommBox this is, whether it answers, what each page is for, the latest runs."""

import streamlit as st

from commbox_core.access import Action
from ui.text import inert
from ui.widgets import page_start

context = page_start(
    "CommBox Ticket Console",
    "Issue CommBox login-bypass tickets: agent console logins and customer chat links, "
    "for one person or for a whole CSV file. Every link is a credential: share it only with its owner.",
)
settings = context.settings

left, right = st.columns([3, 2], gap="large")

with left, st.container(border=True):
    st.subheader("Connection", anchor=False)
    mode = "Sandbox (built-in emulator)" if settings.sandbox else "Live tenant"
    st.markdown(
        f"**Mode:** {mode}  \n"
        f"**API:** `{settings.api_url}/auth/ticket`  \n"
        f"**API key:** `{settings.masked_key()}`  \n"
        f"**Agent links:** `{settings.login_url or '(not set: COMMBOX_LOGIN_URL)'}`  \n"
        f"**Chat links:** `{(settings.chat_url + '/chat/…') if settings.chat_url else '(not set: COMMBOX_CHAT_URL)'}`  \n"
        f"**Default brand:** {inert(settings.brand or 'none (each row names its own)')}  \n"
        f"**Default chat channel:** {inert(settings.channel_id or 'none')}"
    )
    if context.console.can(Action.CHECK_CONNECTION) and st.button(
            "Check connection", icon=":material/network_check:", key="check_connection"):
        with st.spinner(f"Asking {settings.api_host}…"):
            st.session_state["connection_verdict"] = context.console.check_connection()
    verdict = st.session_state.get("connection_verdict")
    if verdict is not None:
        show = {"success": st.success, "warning": st.warning, "error": st.error}[verdict.level]
        show(f"**{inert(verdict.headline)}.** {inert(verdict.detail)}")
    st.caption(
        "What the check does: it asks for an agent ticket for a made-up agent. A working tenant answers "
        "404 Not Found, which proves the URL reaches CommBox and the key is accepted; 401 means the key "
        "is wrong. No ticket is issued and nobody is logged in."
    )

with right, st.container(border=True):
    st.subheader("Pages", anchor=False)
    guide = (
        ("app_pages/single_ticket.py", "Single ticket", ":material/person:",
         "One agent or customer: fill in a form, get a link to copy or open."),
        ("app_pages/bulk_tickets.py", "Bulk tickets", ":material/group:",
         "Upload a CSV or Excel file, check and fix rows, issue a link per row, download the results."),
        ("app_pages/history.py", "History", ":material/history:",
         "Past runs with their counts; outcome files without live links."),
        ("app_pages/settings.py", "Settings", ":material/settings:",
         "Where each setting comes from; adjust limits and defaults for this session."),
    )
    for path, label, icon, text in guide:
        if "ticket" in path and not context.console.can(Action.ISSUE):
            continue  # pages this role cannot use are not offered
        st.page_link(path, label=label, icon=icon)
        st.caption(text)

st.subheader("Latest runs", anchor=False)
latest = context.console.history_frame(limit=5)
if latest.empty:
    st.info(
        "No runs yet. Start one on **Bulk tickets**; every run is kept in the job store, "
        "so History shows it after a restart too.",
        icon=":material/inbox:",
    )
else:
    counts = {name: st.column_config.NumberColumn(name, format="localized") for name in ("rows", "succeeded", "failed")}
    event = st.dataframe(latest, hide_index=True, key="home_runs", on_select="rerun", selection_mode="single-row",
                         column_config=counts)  # 1,000 as in History, not 1000
    if event.selection.rows:  # a run clicked: open it in History
        st.switch_page("app_pages/history.py", query_params={"run": latest.iloc[event.selection.rows[0]]["run"]})
    st.caption("Click a run to open it in History.")
    st.page_link("app_pages/history.py", label="All runs", icon=":material/arrow_forward:")
