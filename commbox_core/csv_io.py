"""Uploaded tables in: bytes -> InputTable (every value text, exactly as given), headers -> fields.

The work lives in csv_bytes (what the bytes are), csv_sniff (the delimiter), csv_read (records to
a table), arrow_columns (compact text columns) and columns (headers to fields); this module keeps
the names everyone imports in one place.
"""

from .columns import ALIASES, ColumnMatch, accepted_headers, check_columns, match_columns, normalise_header
from .csv_read import MAX_BYTES, MAX_COLUMNS, MAX_ROWS, InputTable, read_table, unique_column_names
from .csv_sniff import DELIMITER_NAMES

__all__ = [
    "ALIASES",
    "DELIMITER_NAMES",
    "MAX_BYTES",
    "MAX_COLUMNS",
    "MAX_ROWS",
    "ColumnMatch",
    "InputTable",
    "accepted_headers",
    "check_columns",
    "match_columns",
    "normalise_header",
    "read_table",
    "unique_column_names",
]
