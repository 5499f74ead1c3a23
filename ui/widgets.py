"""Small widgets every page shares: the mode banner and the configuration problem page."""

from __future__ import annotations

import streamlit as st

from commbox_core.access import Action
from ui.backend import Backend, backend
from ui.gate import is_open_dashboard, sign_out_button, stop_unless_signed_in
from ui.text import inert

BANNER_KEY = "mode-banner"  # also a CSS class (st-key-mode-banner): the e2e tests read the sandbox URL here


def page_start(title: str, caption: str, needs: Action | None = None) -> Backend:
    """Every page opens the same way: the mode banner, its title and what it is for. A page
    that `needs` what the session's role may not do says so, and shows nothing else."""
    context = backend()
    stop_unless_signed_in(context.configured)
    mode_banner(context)
    sign_out_button()
    st.title(title, anchor=False)
    if needs is not None and not context.console.can(needs):
        refusal(context.console.role, needs)
        st.stop()
    st.caption(caption)
    return context


def refusal(role, action: Action) -> None:
    """What a deep link to a page shows a role that may not use it."""
    st.error(f"Your role ({role}) cannot {action}. Ask an administrator if you need to.", icon=":material/block:")


def mode_banner(context: Backend) -> None:
    """Which CommBox this session talks to: at the top of every page, and in the sidebar."""
    settings = context.settings
    with st.container(key=BANNER_KEY):
        if settings.sandbox:
            note = ""
            if context.configured.api_url and not context.configured.is_live:
                note = " COMMBOX_API_URL is set, but without COMMBOX_API_KEY the sandbox is used."
            st.warning(
                f"**SANDBOX** · tickets come from the built-in CommBox emulator at `{context.sandbox_url}`, "
                "not from a real tenant; its links work on this machine only. To use your tenant, set "
                f"COMMBOX_API_URL and COMMBOX_API_KEY (see Settings).{note}",
                icon=":material/science:",
            )
        else:
            if is_open_dashboard(context.configured):
                st.error(
                    "**OPEN DASHBOARD** · anyone who can reach this page can mint tickets that log people in "
                    "to the live tenant: COMMBOX_ALLOW_OPEN_DASHBOARD is true and no sign-in is configured. "
                    "Configure one (README, *Securing the dashboard*).",
                    icon=":material/lock_open:",
                )
            st.caption(
                f":green-badge[:material/cloud_done: LIVE] tenant **{settings.api_host}** · "
                f"key `{settings.masked_key()}` · tickets minted here log people in for real"
            )
    with st.sidebar:
        if settings.sandbox:
            st.badge("SANDBOX", icon=":material/science:", color="orange")
            st.caption(f"Emulator at {context.sandbox_url}")
        else:
            st.badge("LIVE", icon=":material/cloud_done:", color="green")
            st.caption(f"Tenant {settings.api_host}\n\nKey {settings.masked_key()}")


def config_problem_page(message: str) -> None:
    st.title("Configuration problem")
    st.error(inert(message), icon=":material/error:")
    st.markdown(
        "The dashboard reads its settings from, in rising order of precedence: a `.env` file in the "
        "folder it was started from, `.streamlit/secrets.toml`, and environment variables "
        "(`COMMBOX_API_URL`, `COMMBOX_API_KEY`, `COMMBOX_CONCURRENCY`, …). Fix the value named above, "
        "then reload this page. `.env.example` and `.streamlit/secrets.toml.example` list every setting."
    )
