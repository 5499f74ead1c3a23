"""From a read table and a column match to PreparedRows: validation of every row."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

from .bulk import PreparedRow
from .fields import Kind, fields_for
from .models import RowDefaults, build_request, describe_problems


def prepare_rows(table, mapping: Mapping[str, str], kind: Kind, defaults: RowDefaults) -> list[PreparedRow]:
    """Validate every row of `table` (a csv_io.InputTable); mapping is field -> column name.

    Columns are pulled out as plain lists once, so the per-row loop touches no DataFrame.
    """
    allowed = set(fields_for(kind))
    columns = {name: table.frame[column].tolist() for name, column in mapping.items() if name in allowed}
    names = list(columns)
    prepared = []
    for position, row in enumerate(table.frame.index.tolist()):
        structural = table.row_problems.get(row)
        if structural:
            prepared.append(PreparedRow(row, None, structural))
            continue
        values = {name: columns[name][position] for name in names}
        request, problems = build_request(values, kind, defaults)
        prepared.append(PreparedRow(row, request, describe_problems(problems)))
    return prepared


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
