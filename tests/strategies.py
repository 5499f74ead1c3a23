"""Hypothesis strategies shared by the reading and writing tests: tables of awkward text."""

from __future__ import annotations

from hypothesis import strategies as st

# Delimiters, quotes, line ends, formula starts, accents, Hebrew and emoji, and anything else.
AWKWARD = ",;\t|\"'\r\n =+-@aé€ש😀"


def cell_text(extra: str = "") -> st.SearchStrategy[str]:
    return st.one_of(
        st.text(alphabet=st.sampled_from(list(AWKWARD + extra)), max_size=8),
        st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12),
    )


def tables(min_width: int, max_width: int, cells: st.SearchStrategy[str]) -> st.SearchStrategy:
    """(header, rows): a header with at least one non-blank name, and 1 to 6 rows as wide."""

    @st.composite
    def table(draw):
        width = draw(st.integers(min_value=min_width, max_value=max_width))
        header = draw(st.lists(cells, min_size=width, max_size=width).filter(lambda h: any(c.strip() for c in h)))
        rows = draw(st.lists(st.lists(cells, min_size=width, max_size=width), min_size=1, max_size=6))
        return header, rows

    return table()
