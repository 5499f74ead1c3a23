"""From a read table and a column match to PreparedRows: validation of every row.

Column by column rather than row by row: each column's distinct values are checked once
(files repeat brands, channels and names; e-mail addresses go through one vectorised pass), and
repeated values share one string in memory. The answers are exactly build_request's:
tests/tickets/test_request.py compares the two on generated tables.
"""

from __future__ import annotations

from array import array
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

from commbox_core.fields import Kind, fields_for
from commbox_core.tickets.request import (
    CHECKED_FIELDS,
    FieldProblem,
    RowDefaults,
    TicketRequest,
    clean_text,
    complete_request,
    describe_problems,
    flag_defaults,
    parse_flag,
    text_problems,
)

ROWS_PER_BATCH = 8192  # rows whose values are spread out at once: bounds the memory it takes


def prepare_rows(table, mapping: Mapping[str, str], kind: Kind, defaults: RowDefaults) -> list[PreparedRow]:
    """Validate every row of `table` (a csv_io.InputTable); mapping is field -> column name."""
    allowed = set(fields_for(kind))
    texts = [_TextColumn(name, table, mapping[name]) for name in CHECKED_FIELDS if name in mapping and name in allowed]
    flags = [
        (name, _FlagColumn(table, mapping[name], default) if name in mapping and name in allowed else None, default)
        for name, default in flag_defaults(defaults)
    ]
    rows = table.row_numbers()
    prepared = []
    for start in range(0, len(rows), ROWS_PER_BATCH):
        stop = min(start + ROWS_PER_BATCH, len(rows))
        batch_texts = [(column.name, *column.rows(start, stop)) for column in texts]
        batch_flags = [(name, column.rows(start, stop) if column else None, default) for name, column, default in flags]
        for position, row in enumerate(rows[start:stop]):
            prepared.append(_prepare_row(table, row, position, batch_texts, batch_flags, kind, defaults))
    return prepared


def _prepare_row(
    table, row: int, position: int, texts: list, flags: list, kind: Kind, defaults: RowDefaults
) -> PreparedRow:
    structural = table.row_problems.get(row)
    if structural:
        return PreparedRow(row, None, structural)
    row_texts: dict[str, str] = {}
    problems: list[FieldProblem] = []
    for name, values, value_problems in texts:
        text = values[position]
        if text:
            row_texts[name] = text
            if value_problems is not None and value_problems[position]:
                problems.append(FieldProblem(name, value_problems[position]))
    row_flags = {name: (default, None) if parsed is None else parsed[position] for name, parsed, default in flags}
    request, problems = complete_request(row_texts, row_flags, problems, kind, defaults)
    return PreparedRow(row, request, describe_problems(problems))


class _TextColumn:
    """One field's column: each distinct value trimmed and checked once."""

    def __init__(self, name: str, table, column: str):
        self.name = name
        self._codes, distinct = _factorized(table, column)
        values = [clean_text(value) for value in distinct]
        problems = text_problems(name, values)
        self._values = values
        self._problems = problems if any(problems) else None

    def rows(self, start: int, stop: int) -> tuple[list[str], list[str | None] | None]:
        """Per row from start to stop: the trimmed text, and its problem (None: no row has one)."""
        codes = self._codes[start:stop]
        values, problems = self._values, self._problems
        return [values[c] for c in codes], None if problems is None else [problems[c] for c in codes]


class _FlagColumn:
    def __init__(self, table, column: str, default: bool):
        self._codes, distinct = _factorized(table, column)
        self._parsed = [parse_flag(value, default) for value in distinct]

    def rows(self, start: int, stop: int) -> list[tuple[bool, str | None]]:
        parsed = self._parsed
        return [parsed[c] for c in self._codes[start:stop]]


def _factorized(table, column: str) -> tuple[array, list[str | None]]:
    """Codes per row (4 bytes each) and the distinct values (a missing cell, which an edited frame
    may hold, is None). In Python rather than pd.factorize, which takes three times the memory on
    Arrow text; answers per distinct value are then shared by the rows, never copied."""
    positions: dict[str | None, int] = {}
    add = positions.setdefault
    codes = array("i")
    for start in range(0, len(table), ROWS_PER_BATCH):  # a batch of cells at a time as Python strings
        cells = table.cells(column, start, start + ROWS_PER_BATCH)
        codes.extend([add(v if isinstance(v, str) else None, len(positions)) for v in cells])
    return codes, list(positions)


def duplicate_rows(prepared: list[PreparedRow]) -> dict[int, int]:
    """row -> the first row with the same person (same kind, brand and identifier)."""
    first: dict[tuple, int] = {}
    duplicates = {}
    for item in prepared:
        if item.request is None:
            continue
        key = (item.request.brand.casefold(), item.request.subject.casefold())
        if key in first:
            duplicates[item.row] = first[key]
        else:
            first[key] = item.row
    return duplicates


def count_valid(prepared: list[PreparedRow]) -> Counter:
    return Counter("valid" if p.request is not None else "invalid" for p in prepared)


@dataclass(slots=True)
class PreparedRow:
    """A row ready to run: a valid request, or the reason it is invalid (never sent)."""

    row: int
    request: TicketRequest | None
    problem: str = ""
