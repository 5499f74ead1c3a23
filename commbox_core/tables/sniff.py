"""Which delimiter a CSV file uses, judged by how its quotes and widths add up."""

from __future__ import annotations

import csv
import io

DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe (|)"}
_SNIFF_RECORDS = 200


def sniff_delimiter(sample: str, complete: bool) -> str:
    """The candidate under which quotes wrap whole values, the header splits into most columns
    and the data rows agree with it. A wrong candidate splits inside quoted values, leaving
    quotes stranded in the middle of fields: the quote count of its records does not add up."""
    best, best_score = ",", (0.0, 0.0, 0)
    lines = io.StringIO(sample, newline="").readlines()
    for delimiter in DELIMITER_NAMES:
        records, clean = _sample_records(lines, delimiter, complete)
        if not records or len(records[0]) < 2:
            continue
        width = len(records[0])
        body = records[1:] or records
        score = (sum(clean) / len(clean), sum(len(r) == width for r in body) / len(body), width)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def _sample_records(lines: list[str], delimiter: str, complete: bool) -> tuple[list[list[str]], list[bool]]:
    """The sample's non-blank records, and for each whether its quotes are well formed."""
    reader = csv.reader(lines, delimiter=delimiter, strict=True)
    records: list[list[str]] = []
    clean: list[bool] = []
    consumed = 0
    while len(records) <= _SNIFF_RECORDS:
        try:
            record, parsed = next(reader), True
        except StopIteration:
            break
        except csv.Error:  # text after a closing quote, or the sample ends inside quotes
            record, parsed = [], False
        raw_quotes = sum(line.count('"') for line in lines[consumed : reader.line_num])
        consumed = reader.line_num
        if parsed and not any(v.strip() for v in record):
            continue
        records.append(record)
        clean.append(parsed and _quotes_add_up(record, raw_quotes))
    if not complete and len(records) > 2:
        records, clean = records[:-1], clean[:-1]  # the sample may have cut the last record short
    return records, clean


def _quotes_add_up(record: list[str], raw_quotes: int) -> bool:
    """A value holding k quotes must have been written quoted, as 2 + 2k quote characters;
    a value holding none was written with 0 or 2."""
    inner = [v.count('"') for v in record]
    needed = sum(2 + 2 * k for k in inner if k)
    optional = 2 * inner.count(0)
    return needed <= raw_quotes <= needed + optional and (raw_quotes - needed) % 2 == 0
