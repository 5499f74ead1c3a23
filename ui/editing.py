"""An editable grid that shows one page of rows at a time and remembers edits by row number.

A 50,000-row file never becomes one editable grid: the page shows PAGE_SIZE rows, and the
edits are kept as {row number: {column: text}} in session state, so edits on other pages (and
across reruns) survive. The grid's own changes are folded into that dict at the start of the
next run (stored_edits), before the page validates anything, using the row numbers the grid
showed; then a fresh grid is shown over the updated rows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pandas as pd
import streamlit as st

from commbox_core.outputs.views import page_count, page_of
from commbox_core.tables.edits import edits_from_editor, merge_edits

PAGE_SIZE = 100


def _version(store_key: str) -> int:
    return st.session_state.get(f"{store_key}_version", 0)


def _bump(store_key: str) -> None:
    st.session_state[f"{store_key}_version"] = _version(store_key) + 1


def stored_edits(store_key: str) -> dict[int, dict[str, str]]:
    """Edits so far, including those made in the grid since the last run."""
    edits = st.session_state.setdefault(store_key, {})
    shown = st.session_state.get(f"{store_key}_shown")
    if shown:
        changes = (st.session_state.get(shown["editor"]) or {}).get("edited_rows") or {}
        frame = pd.DataFrame(index=pd.Index(shown["rows"]))
        new = edits_from_editor(frame, changes, shown["editable"])
        if new:
            edits = merge_edits(edits, new)
            st.session_state[store_key] = edits
            _bump(store_key)
        del st.session_state[f"{store_key}_shown"]
    return edits


def clear_edits(store_key: str) -> None:
    st.session_state[store_key] = {}
    st.session_state.pop(f"{store_key}_shown", None)
    _bump(store_key)


def paged_editor(
    store_key: str,
    rows: Sequence[int],
    build: Callable[[list[int]], pd.DataFrame],
    editable: Sequence[str],
    column_config: dict | None = None,
) -> None:
    """Show `rows` a page at a time through build(page rows) -> frame indexed by row number.
    Call stored_edits(store_key) before building anything from the edits."""
    pages = page_count(len(rows), PAGE_SIZE)
    page, page_key = 1, f"{store_key}_page"
    # The page lives in session state (no widget default), so it can be pulled back when fixed
    # rows leave the list and there are fewer pages than before.
    st.session_state[page_key] = min(st.session_state.get(page_key, 1), pages)
    if pages > 1:
        page = int(
            st.number_input(f"Page (of {pages:,}, {PAGE_SIZE} rows each)", min_value=1, max_value=pages, key=page_key)
        )
    shown = build(page_of(rows, page, PAGE_SIZE))
    editor_key = f"{store_key}_editor_{_version(store_key)}_{page}"
    st.session_state[f"{store_key}_shown"] = {"editor": editor_key, "rows": list(shown.index), "editable": list(editable)}
    st.data_editor(
        shown,
        key=editor_key,
        disabled=[c for c in shown.columns if c not in editable],
        column_config=column_config,
        num_rows="fixed",
    )
