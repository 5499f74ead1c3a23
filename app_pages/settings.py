"""Settings: the effective configuration and where each value came from; session changes."""

import pandas as pd
import streamlit as st

from commbox_core.access import Action
from commbox_core.errors import ConfigError
from ui.backend import SESSION_OVERRIDES
from ui.text import inert
from ui.widgets import page_start

context = page_start(
    "Settings",
    "The values this session uses, and where each came from: default, `.env`, secrets "
    "(`.streamlit/secrets.toml`), environment, sandbox, or session (changed below). Secrets are masked.",
)
settings = context.settings

st.dataframe(
    pd.DataFrame(settings.describe()),
    hide_index=True,
    key="settings_table",
    height="content",  # every setting in view, not a 10-row box to scroll
    column_config={
        "setting": st.column_config.TextColumn("Setting"),
        "variable": st.column_config.TextColumn("Variable"),
        "value": st.column_config.TextColumn("Value"),
        "source": st.column_config.TextColumn("Source"),
        "meaning": st.column_config.TextColumn("Meaning", width="large"),
    },
)

if not context.console.can(Action.CHANGE_SETTINGS):
    st.info(f"Your role ({context.console.role}) can read the settings; changing them is for admins.",
            icon=":material/visibility:")
    st.stop()

st.subheader("Change for this session", anchor=False)
st.caption(
    "Changes apply to this browser session only and are gone when the server restarts. The API URL "
    "and key can only be changed where they are configured (environment, `.env` or secrets)."
)

overrides: dict = dict(st.session_state.get(SESSION_OVERRIDES) or {})
base = context.settings  # current values are the form's starting point

with st.form("session_settings", border=True):
    first, second, third = st.columns(3)
    with first:
        st.markdown("**Defaults for rows**")
        brand = st.text_input("Default brand", value=base.brand or "", key="set_brand", help="Used for rows without a brand.")
        channel = st.text_input(
            "Default chat channel", value=base.channel_id or "", key="set_channel_id",
            help="Channel id of customer chat links, as shown in CommBox (encoded or not).",
        )
        login_url = st.text_input(
            "Agent login URL", value=base.login_url or "", disabled=base.sandbox, key="set_login_url",
            help="May hold {brand}. Fixed to the sandbox's own page in sandbox mode.",
        )
        chat_url = st.text_input(
            "Apps URL (chat links)", value=base.chat_url or "", disabled=base.sandbox, key="set_chat_url",
            help="Chat links are <apps URL>/chat/<channel>. Fixed to the sandbox in sandbox mode.",
        )
    with second:
        st.markdown("**Throughput**")
        concurrency = st.number_input("Concurrency (requests in flight)", 1, 64, base.concurrency, key="set_concurrency")
        rate_limit = st.number_input(
            "Rate limit (requests per second, 0 = adaptive)", 0.0, 10_000.0, float(base.rate_limit or 0), step=1.0, key="set_rate_limit",
        )
        max_retries = st.number_input("Retries of a failed request", 0, 20, base.max_retries, key="set_max_retries")
        read_timeout = st.number_input("Read timeout (s)", 0.5, 600.0, float(base.read_timeout), step=1.0, key="set_read_timeout")
    with third:
        st.markdown("**Ticket lifespans** (as set for the tenant)")
        agent_ttl = st.number_input("Agent console ticket (s)", 1, 86_400, base.agent_ttl, key="set_agent_ttl")
        customer_ttl = st.number_input("Customer chat ticket (s)", 1, 86_400, base.customer_ttl, key="set_customer_ttl")
        st.caption("Used to show when links expire; CommBox itself decides how long a ticket lives.")
    saved = st.form_submit_button("Apply for this session", type="primary", icon=":material/check:", key="set_apply")

if saved:
    changes = {
        "brand": brand, "channel_id": channel, "concurrency": int(concurrency), "rate_limit": rate_limit or None,
        "max_retries": int(max_retries), "read_timeout": read_timeout,
        "agent_ttl": int(agent_ttl), "customer_ttl": int(customer_ttl),
    }
    if not base.sandbox:
        changes |= {"login_url": login_url, "chat_url": chat_url}
    changes = {name: (value.strip() or None) if isinstance(value, str) else value for name, value in changes.items()}
    changed = {name: value for name, value in changes.items() if value != getattr(base, name)}
    try:
        base.replace(**changed)  # validate before keeping anything
    except ConfigError as problem:
        st.error(inert(problem), icon=":material/error:")
    else:
        if changed:
            st.session_state[SESSION_OVERRIDES] = overrides | changed
            st.rerun()
        st.info("Nothing changed.", icon=":material/info:")

if overrides:
    st.caption("Changed in this session: " + ", ".join(sorted(overrides)))
    if st.button("Back to the configured values", icon=":material/undo:", key="reset_overrides"):
        del st.session_state[SESSION_OVERRIDES]
        st.rerun()
