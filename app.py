"""CommBox Ticket Console: the dashboard's entry point (`streamlit run app.py`).

Page config and navigation over the files in app_pages/ (each page opens with ui.widgets.page_start,
which shows the mode banner). A configuration problem becomes a page that explains it, never a
traceback.
"""

from pathlib import Path

import streamlit as st

from commbox_core.access import Action, allowed
from commbox_core.errors import ConfigError
from ui.backend import backend
from ui.gate import current_role, require_access
from ui.widgets import config_problem_page

PAGES = Path(__file__).parent / "app_pages"  # not pages/: Streamlit would also auto-list that folder

st.set_page_config(page_title="CommBox Ticket Console", page_icon=":material/confirmation_number:", layout="wide")


def only_page(show, title: str, icon: str):
    """A navigation of one page, which every page's address shows (not "page not found")."""
    return st.navigation(
        [st.Page(show, title=title, icon=icon, default=True)]
        + [st.Page(show, title=title, url_path=path.stem, visibility="hidden")
           for path in sorted(PAGES.glob("*.py")) if path.stem != "home"]
    )


try:
    # Fail here, once, rather than on every page; then the access gate, before any page.
    gate_page = require_access(backend().configured)
except ConfigError as problem:
    message = str(problem)

    def show_problem() -> None:
        config_problem_page(message)

    page = only_page(show_problem, "Configuration problem", ":material/error:")
else:
    # Pages the role cannot use are not listed; their addresses stay, and say why they show nothing.
    issuing = "visible" if allowed(current_role(), Action.ISSUE) else "hidden"
    page = only_page(gate_page, "Sign in", ":material/lock:") if gate_page is not None else st.navigation(
        {
            "": [
                st.Page(PAGES / "home.py", title="Home", icon=":material/home:", default=True),
            ],
            "Issue tickets": [
                st.Page(PAGES / "single_ticket.py", title="Single ticket", icon=":material/person:", visibility=issuing),
                st.Page(PAGES / "bulk_tickets.py", title="Bulk tickets", icon=":material/group:", visibility=issuing),
            ],
            "Review": [
                st.Page(PAGES / "history.py", title="History", icon=":material/history:"),
                st.Page(PAGES / "settings.py", title="Settings", icon=":material/settings:"),
            ],
        }
    )
# Each page's address is its file name (/bulk_tickets), the default: deep links stay as they were.
page.run()
