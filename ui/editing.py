"""An editable grid that shows one page of rows at a time and remembers edits by row number.

A 50,000-row file never becomes one editable grid: the page shows PAGE_SIZE rows, and every
cell edit is folded into a {row: {column: text}} dict in session state, so edits on other pages
(and across reruns) are kept.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pandas as pd
import streamlit as st

from commbox_core.views import edits_from_editor, merge_edits, page_count, page_of

PAGE_SIZE = 100


def stored_edits(store_key: str) -> dict[int, dict[str, str]]:
    return st.session_state.setdefault(store_key, {})


def clear_edits(store_key: str) -> None:
    st.session_state[store_key] = {}
    st.session_state[f"{store_key}_version"] = st.session_state.get(f"{store_key}_version", 0) + 1


def _fold_in(store_key: str, editor_key: str, shown: pd.DataFrame, editable: Sequence[str]) -> None:
    changes = st.session_state.get(editor_key, {}).get("edited_rows", {})
    new = edits_from_editor(shown, changes, editable)
    if new:
        st.session_state[store_key] = merge_edits(stored_edits(store_key), new)
        # A fresh editor over the updated rows: its own delta state would otherwise linger.
        st.session_state[f"{store_key}_version"] = st.session_state.get(f"{store_key}_version", 0) + 1


def paged_editor(
    store_key: str,
    rows: Sequence[int],
    build: Callable[[list[int]], pd.DataFrame],
    editable: Sequence[str],
    column_config: dict | None = None,
) -> None:
    """Show `rows` a page at a time through build(page rows) -> frame indexed by row number."""
    pages = page_count(len(rows), PAGE_SIZE)
    page = 1
    if pages > 1:
        page = int(
            st.number_input(
                f"Page (of {pages:,}, {PAGE_SIZE} rows each)", min_value=1, max_value=pages, value=1,
                key=f"{store_key}_page",
            )
        )
    shown = build(page_of(rows, page, PAGE_SIZE))
    version = st.session_state.get(f"{store_key}_version", 0)
    editor_key = f"{store_key}_editor_{version}_{page}"
    st.data_editor(
        shown,
        key=editor_key,
        disabled=[c for c in shown.columns if c not in editable],
        column_config=column_config,
        num_rows="fixed",
        on_change=_fold_in,
        args=(store_key, editor_key, shown, list(editable)),
    )
