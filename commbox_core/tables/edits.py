"""Edits a person makes to an input table in the dashboard's editor: cells as text, row numbers kept."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from commbox_core.tables.read import InputTable

if TYPE_CHECKING:
    import pandas as pd


def edits_from_editor(shown: pd.DataFrame, edited_rows: Mapping, editable: Iterable[str]) -> dict[int, dict[str, str]]:
    """st.data_editor's {position: {column: value}} as {row number: {column: text}}."""
    allowed = set(editable)
    edits: dict[int, dict[str, str]] = {}
    for position, changes in edited_rows.items():
        row = int(shown.index[int(position)])
        for column, value in changes.items():
            if column in allowed:
                edits.setdefault(row, {})[column] = "" if value is None else str(value)
    return edits


def merge_edits(earlier: Mapping[int, Mapping[str, str]], later: Mapping[int, Mapping[str, str]]) -> dict:
    merged = {row: dict(cells) for row, cells in earlier.items()}
    for row, cells in later.items():
        merged.setdefault(row, {}).update(cells)
    return merged


def apply_edits(table: InputTable, edits: Mapping[int, Mapping[str, str]]) -> InputTable:
    """A copy of the table with edited cells. An edited row's structural problem (a ragged line)
    is dropped: the person has now looked at the row and set its values."""
    if not edits:
        return table
    frame = table.frame.copy()
    for row, cells in edits.items():
        for column, value in cells.items():
            frame.at[row, column] = value
    problems = {row: text for row, text in table.row_problems.items() if row not in edits}
    return table.replaced(frame, problems)


def rows_of(table: InputTable, rows: Sequence[int]) -> InputTable:
    """The same table narrowed to some rows (row numbers kept), e.g. to validate only those."""
    wanted = set(rows)
    return table.replaced(table.frame.loc[list(rows)],
                          {row: text for row, text in table.row_problems.items() if row in wanted})


def rows_from(table: InputTable, sources: Mapping[int, InputTable]) -> InputTable:
    """A copy of the table whose rows in `sources` take their values (and structural problem) from
    the table named there: e.g. each row as its latest run sent it, edited or not."""
    moved: dict[int, tuple[InputTable, list[int]]] = {}
    for row, source in sources.items():
        if source is not table:
            moved.setdefault(id(source), (source, []))[1].append(row)
    if not moved:
        return table
    frame = table.frame.copy()
    problems = dict(table.row_problems)
    for source, rows in moved.values():
        frame.loc[rows, table.columns] = source.frame.loc[rows, table.columns].to_numpy()
        for row in rows:
            problems.pop(row, None)
            if row in source.row_problems:
                problems[row] = source.row_problems[row]
    return table.replaced(frame, problems)
