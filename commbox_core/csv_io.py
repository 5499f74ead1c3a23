"""Uploaded tables in: bytes -> InputTable (every value text, exactly as given), headers -> fields."""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import re
import unicodedata
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .errors import InputFileError
from .export import OWN_EXPORT_COLUMNS, unneutralise
from .fields import AGENT_REQUIRED, CUSTOMER_IDENTIFIERS, FIELD_LABELS, Kind, fields_for

MAX_BYTES = 50 * 1024 * 1024
MAX_ROWS = 200_000
MAX_COLUMNS = 1_000  # far beyond any real sheet of people; bounds the work a pathological header causes
DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe (|)"}
_SNIFF_BYTES = 64 * 1024
_SNIFF_RECORDS = 200
_CHUNK_ROWS = 16_384  # rows held as Python strings before moving into compact Arrow arrays
_TEXT = pd.StringDtype("pyarrow", na_value=np.nan)  # pandas 3's default "str" dtype

_BOM_ENCODINGS = (
    (codecs.BOM_UTF32_LE, "utf-32"),  # before UTF-16: it starts with the same two bytes
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
    (codecs.BOM_UTF8, "utf-8-sig"),
)
_SIGNATURES = (
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old Excel workbook (.xls)"),
    (b"%PDF", "a PDF document"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"\x1f\x8b", "a compressed (gzip) file"),
    (b"Rar!", "a RAR archive"),
    (b"7z\xbc\xaf", "a 7-Zip archive"),
)
_SAVE_AS_CSV = "Open it in Excel, choose File > Save As > \"CSV UTF-8 (Comma delimited)\", and upload that file."


@dataclass
class InputTable:
    headers: list[str]  # the header cells exactly as in the file, in order (may repeat or be blank)
    columns: list[str]  # unique names used in `frame`, same order ("email (2)", "column 3")
    frame: pd.DataFrame  # all values str, never NaN; index = row number, 1 = first data record
    row_problems: dict[int, str]  # row number -> structural problem; the row is still in `frame`
    encoding: str
    delimiter: str
    filename: str = ""


def read_table(
    data: bytes, *, filename: str = "", max_bytes: int = MAX_BYTES, max_rows: int = MAX_ROWS
) -> InputTable:
    """Read CSV bytes as text; raise InputFileError with a message fit for the user."""
    _refuse_unusable(data, filename, max_bytes)
    declared = _declared_encoding(data)
    for encoding in [declared] if declared else _undeclared_encodings(data):
        try:
            return _parse(data, encoding, filename, max_rows)
        except UnicodeDecodeError as exc:
            if declared:
                label = declared.removesuffix("-sig").upper()
                raise InputFileError(
                    f"{_name(filename)} starts with a {label} marker but contains bytes that are not "
                    f"{label} (around byte {exc.start:,}). Save it again as "
                    "\"CSV UTF-8\" and upload it again."
                ) from None
    raise AssertionError("latin-1 decodes any bytes")  # pragma: no cover


def unique_column_names(headers: list[str]) -> list[str]:
    """Headers made usable as DataFrame columns: blanks -> "column 3", repeats -> "email (2)"."""
    reserved = {h for h in headers if h.strip()}
    used: set[str] = set()
    names = []
    for position, header in enumerate(headers, start=1):
        if header.strip() and header not in used:
            name = header
        else:
            base = header if header.strip() else f"column {position}"
            name, n = base, 1
            while name in used or name in reserved:
                n += 1
                name = f"{base} ({n})"
        used.add(name)
        names.append(name)
    return names


def _name(filename: str) -> str:
    return f"The file \"{filename}\"" if filename else "The file"


def _size(n: int) -> str:
    if n < 1024:
        return f"{n:,} bytes"
    if n < 1024 * 1024:
        return f"{n / 1024:,.1f} KB"
    return f"{n / 1024 / 1024:,.1f} MB"


def _refuse_unusable(data: bytes, filename: str, max_bytes: int) -> None:
    name = _name(filename)
    if len(data) > max_bytes:
        raise InputFileError(
            f"{name} is {_size(len(data))}; the limit is {_size(max_bytes)}. "
            "Split it into smaller files and upload them one by one."
        )
    if re.match(rb"\s*\Z", data) or data in {bom for bom, _ in _BOM_ENCODINGS}:
        raise InputFileError(f"{name} is empty. Upload a CSV file with a header line and one row per person.")
    if data.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        if b"xl/" in data or filename.lower().endswith((".xlsx", ".xlsm")):
            raise InputFileError(f"{name} is an Excel workbook (.xlsx), not a CSV file. {_SAVE_AS_CSV}")
        if b"opendocument.spreadsheet" in data[:200]:
            raise InputFileError(f"{name} is an OpenDocument spreadsheet (.ods), not a CSV file. Save it as CSV.")
        raise InputFileError(f"{name} is a ZIP archive, not a CSV file. Unzip it and upload the CSV file inside.")
    for signature, what in _SIGNATURES:
        if data.startswith(signature):
            hint = _SAVE_AS_CSV if "Excel" in what else "Upload the CSV file itself."
            raise InputFileError(f"{name} is {what}, not a CSV file. {hint}")
    if _declared_encoding(data) not in {"utf-16", "utf-32"} and b"\x00" in data:
        head = data[:1024]
        if max(head[0::2].count(0), head[1::2].count(0)) > len(head) // 4:  # every other byte is NUL
            raise InputFileError(
                f"{name} looks like UTF-16 text without the marker that says so. "
                "Save it again as \"CSV UTF-8\" (or as Unicode text from Excel) and upload it again."
            )
        raise InputFileError(
            f"{name} contains binary data, not text. Upload a CSV file (in Excel: File > Save As > \"CSV UTF-8\")."
        )


def _declared_encoding(data: bytes) -> str | None:
    return next((encoding for bom, encoding in _BOM_ENCODINGS if data.startswith(bom)), None)


def _undeclared_encodings(data: bytes) -> list[str]:
    """UTF-8 first (unless plainly not), then the Windows code page the text looks like."""
    if data.isascii():
        return ["utf-8"]
    sample = data[:_SNIFF_BYTES]
    high = len(re.findall(rb"[\x80-\xff]", sample))
    # Hebrew letters are cp1255 0xE0-0xFA and come in runs (whole words); in cp1252 text the same
    # bytes are accented Latin letters, mostly one at a time ("José", "Müller").
    hebrew = sum(len(run) for run in re.findall(rb"[\xe0-\xfa]{3,}", sample))
    legacy = ["cp1255", "cp1252"] if high and hebrew >= 0.6 * high else ["cp1252"]
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=len(data) <= _SNIFF_BYTES)
        return ["utf-8", *legacy, "latin-1"]
    except UnicodeDecodeError:
        return [*legacy, "latin-1"]


def _sniff_delimiter(sample: str, complete: bool) -> str:
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


def _parse(data: bytes, encoding: str, filename: str, max_rows: int) -> InputTable:
    sample = codecs.getincrementaldecoder(encoding)(errors="replace").decode(
        data[:_SNIFF_BYTES], final=len(data) <= _SNIFF_BYTES
    )
    if "\x00" in sample:
        raise InputFileError(f"{_name(filename)} contains binary data, not text. Upload a CSV file.")
    delimiter = _sniff_delimiter(sample.lstrip("\ufeff"), complete=len(data) <= _SNIFF_BYTES)
    stream = io.TextIOWrapper(io.BytesIO(data), encoding=encoding, newline="")
    lines = _bounded_lines(stream, delimiter, filename)
    reader = csv.reader(lines, delimiter=delimiter, quotechar='"', doublequote=True, strict=False)
    return _read_records(reader, data, encoding, delimiter, filename, max_rows)


def _bounded_lines(stream, delimiter: str, filename: str):
    """The file's lines, refusing one with absurdly many separators before the csv module
    turns it into millions of values (a 50 MB line of commas would take gigabytes)."""
    limit = 10 * MAX_COLUMNS
    for number, line in enumerate(stream, start=1):
        if line.count(delimiter) > limit:
            raise InputFileError(
                f"{_name(filename)} has more than {limit:,} separators on line {number:,}; a table of people "
                f"has at most {MAX_COLUMNS:,} columns. Check that the file is the right one."
            )
        yield line


def _read_records(reader, data: bytes, encoding: str, delimiter: str, filename: str, max_rows: int) -> InputTable:
    header: list[str] | None = None
    for header in reader:
        if header and any(v.strip() for v in header):
            break
        if len(header) > 1:  # a line of separators only, where the header should be
            raise _no_header(filename, reader.line_num)
    else:
        raise InputFileError(f"{_name(filename)} is empty. Upload a CSV file with a header line and one row per person.")
    if len(header) > MAX_COLUMNS:
        raise InputFileError(
            f"{_name(filename)} has {len(header):,} columns; the limit is {MAX_COLUMNS:,}. "
            "Keep only the columns the tickets need (and any you want in the results) and upload it again."
        )
    headers = [unneutralise(h) for h in header]
    columns = unique_column_names(headers)
    width = len(headers)
    named_width = max((i for i, h in enumerate(headers, start=1) if h.strip()), default=width)
    builder = _ColumnBuilder(width)
    problems: dict[int, str] = {}
    row_number = 0
    start_line = reader.line_num + 1
    last_start = last_end = start_line
    rows = _unbroken(reader, filename, lambda: start_line)
    for row in rows:
        if len(row) != width:
            if not row or (width > 1 and len(row) == 1 and not row[0].strip()):
                start_line = reader.line_num + 1
                continue  # an empty (or whitespace-only) line
            row = _fit(row, width, named_width, row_number + 1, start_line, delimiter, problems)
        row_number += 1
        if row_number > max_rows:
            lines = data.count(b"\n") or data.count(b"\r")
            raise InputFileError(
                f"{_name(filename)} has more than {max_rows:,} rows (about {lines:,} lines); the limit is "
                f"{max_rows:,} rows per upload. Split it into smaller files and upload them one by one."
            )
        builder.add(row)
        last_start, last_end = start_line, reader.line_num
        start_line = last_end + 1
    if row_number == 0:
        shown = ", ".join(f'"{c}"' for c in columns[:10]) + (", ..." if width > 10 else "")
        raise InputFileError(
            f"{_name(filename)} has a header line ({shown}) but no data rows below it. "
            "Add one row per person under the header and upload it again."
        )
    if last_end > last_start and _ends_inside_quotes(data, encoding, delimiter, last_start):
        problems[row_number] = (
            f"A quote (\") opened on line {last_start:,} is never closed, so everything after it was "
            "read as one value. Close the quote and upload the file again."
        )
    frame = pd.DataFrame(dict(zip(columns, builder.arrays())), index=pd.RangeIndex(1, row_number + 1))
    return InputTable(headers, columns, frame, problems, encoding, delimiter, filename)


def _unbroken(reader, filename: str, record_start):
    """The reader's records; the one error left with strict=False is a value over the csv
    module's size limit, which in practice means a quote opened and never closed."""
    try:
        yield from reader
    except csv.Error:
        raise InputFileError(
            f"{_name(filename)} cannot be read: the value starting on line {record_start():,} runs on for "
            f"more than {csv.field_size_limit():,} characters, so a quote (\") there is probably never "
            "closed. Check the quotes on that line and upload the file again."
        ) from None


def _no_header(filename: str, line: int) -> InputFileError:
    return InputFileError(
        f"{_name(filename)} has no column names: line {line:,}, the first line with content, is empty "
        "between its separators. The first line must name the columns, e.g. brand,username,email."
    )


def _fit(
    row: list[str], width: int, named_width: int, row_number: int, line: int, delimiter: str, problems: dict
) -> list[str]:
    """Pad or cut a ragged row to the header's width, recording why unless nothing is lost:
    values missing only under blank headers, or extra values that are all empty."""
    count = len(row)
    if count < width:
        if count >= named_width:
            return row + [""] * (width - count)
        problems[row_number] = (
            f"Line {line:,} has {count} value{'s' * (count != 1)} but the header has {named_width} columns; "
            "the missing values were read as empty. A line break inside a value needs quotes around the value."
        )
        return row + [""] * (width - count)
    extra = row[width:]
    if any(v.strip() for v in extra):  # trailing empty separators (common from Excel) lose nothing
        shown = ", ".join(f'"{v[:40]}"' for v in extra[:5]) + (", ..." if len(extra) > 5 else "")
        problems[row_number] = (
            f"Line {line:,} has {count} values but the header has {width} columns; the extra values "
            f"({shown}) were left out. Put quotes around values that contain a {DELIMITER_NAMES[delimiter]}."
        )
    return row[:width]


def _ends_inside_quotes(data: bytes, encoding: str, delimiter: str, first_line: int) -> bool:
    """True when the last record only ended because the file did (an unclosed quote)."""
    stream = io.TextIOWrapper(io.BytesIO(data), encoding=encoding, newline="")
    for _ in range(first_line - 1):
        stream.readline()
    try:
        list(csv.reader(stream, delimiter=delimiter, strict=True))
    except csv.Error as exc:
        return "unexpected end of data" in str(exc)
    return False


class _ColumnBuilder:
    """Collects rows and keeps each column as Arrow chunks, so 100k rows stay compact."""

    def __init__(self, width: int) -> None:
        self._pending: list[list[str]] = []
        self._chunks: list[list[pa.Array]] = [[] for _ in range(width)]

    def add(self, row: list[str]) -> None:
        self._pending.append(row)
        if len(self._pending) >= _CHUNK_ROWS:
            self._flush()

    def _flush(self) -> None:
        if not self._pending:
            return
        # One conversion of all cells, then a strided take per column: much faster than zip(*rows).
        cells = list(itertools.chain.from_iterable(self._pending))
        flat = pa.array(cells, type=pa.large_string())
        quoted = pc.starts_with(flat, "'")
        if pc.any(quoted).as_py():  # rare: undo our export's formula neutralisation
            for i in pc.indices_nonzero(quoted).to_pylist():
                cells[i] = unneutralise(cells[i])
            flat = pa.array(cells, type=pa.large_string())
        width = len(self._chunks)
        for j, chunks in enumerate(self._chunks):
            chunks.append(flat.take(np.arange(j, len(cells), width)))
        self._pending = []

    def arrays(self) -> list[pd.api.extensions.ExtensionArray]:
        self._flush()
        return [
            pd.arrays.ArrowStringArray(pa.chunked_array(chunks, type=pa.large_string()), dtype=_TEXT)
            for chunks in self._chunks
        ]


# ---- Matching the file's columns to the API's fields ------------------------------------------

# Accepted header names per field, as shown to users; matching compares them normalised.
ALIASES: dict[str, tuple[str, ...]] = {
    "brand": ("brand", "account", "brand name"),
    "username": ("username", "user", "login", "agent", "agent username"),
    "email": ("email", "e-mail", "mail", "email address"),
    "uniqueId": ("uniqueId", "id", "customer id", "client id", "external id", "user id"),
    "firstName": ("firstName", "first", "given name", "forename"),
    "lastName": ("lastName", "last", "surname", "family name"),
    "phone1": (
        "phone1", "phone", "mobile", "mobile phone", "mobile number", "cell", "cell phone",
        "tel", "telephone", "phone number", "msisdn",
    ),
    "remark": ("remark", "remarks", "note", "notes", "comment"),
    "overrideUserInfo": ("overrideUserInfo", "override"),
    "oneTimeUse": ("oneTimeUse", "one time", "single use"),
    "channelId": ("channelId", "channel"),
}
# For a customer, an "agent" column names the agent who serves them, not the customer's username.
_AGENT_ONLY_ALIASES = {"agent", "agent username"}
_IGNORED_CHARS = str.maketrans("", "", " -_.")


def normalise_header(text: str) -> str:
    """Compare headers by letters only: "First Name" == "first_name" == "firstName"."""
    text = unicodedata.normalize("NFKC", text).casefold()
    # Drop whitespace and invisible format characters (BOM, zero-width, RTL marks from Hebrew sheets).
    text = "".join(ch for ch in text if not ch.isspace() and unicodedata.category(ch) != "Cf")
    return text.translate(_IGNORED_CHARS)


_OWN_EXPORT_NORMALISED = frozenset(normalise_header(c) for c in OWN_EXPORT_COLUMNS)


def accepted_headers(field_name: str, kind: Kind) -> tuple[str, ...]:
    """The header names that map to a field for this kind of ticket, canonical name first."""
    if field_name not in fields_for(kind):
        return ()
    names = ALIASES[field_name]
    if kind is Kind.CUSTOMER:
        names = tuple(n for n in names if n not in _AGENT_ONLY_ALIASES)
    return names


@dataclass
class ColumnMatch:
    mapping: dict[str, str]  # canonical field -> column name in InputTable.columns
    unmatched: list[str]  # columns not mapped (kept in exports as they are)
    columns: list[str] = field(default_factory=list)  # every column in file order, for messages

    def missing_for(self, kind: Kind, *, default_brand: str | None = None) -> list[str]:
        """Required fields with no column; for customers, all identifiers when none has one."""
        if kind is Kind.CUSTOMER:
            return [] if any(f in self.mapping for f in CUSTOMER_IDENTIFIERS) else list(CUSTOMER_IDENTIFIERS)
        has_default_brand = bool(default_brand and default_brand.strip())
        return [f for f in AGENT_REQUIRED if f not in self.mapping and not (f == "brand" and has_default_brand)]


def match_columns(columns: list[str], kind: Kind) -> ColumnMatch:
    """Map columns to fields: exact names first, then the same letters, then aliases; first column wins."""
    keys = [normalise_header(c) for c in columns]
    wanted = fields_for(kind)
    tiers = (
        lambda f, i: columns[i] == f,
        lambda f, i: keys[i] == normalise_header(f),
        lambda f, i: keys[i] in {normalise_header(a) for a in accepted_headers(f, kind)},
    )
    found: dict[str, int] = {}
    for matches in tiers:
        for field_name in wanted:
            if field_name in found:
                continue
            for i in range(len(columns)):
                if i not in found.values() and keys[i] not in _OWN_EXPORT_NORMALISED and matches(field_name, i):
                    found[field_name] = i
                    break
    mapping = {f: columns[found[f]] for f in wanted if f in found}
    used = set(found.values())
    return ColumnMatch(mapping, [c for i, c in enumerate(columns) if i not in used], list(columns))


def check_columns(match: ColumnMatch, kind: Kind, *, default_brand: str | None) -> None:
    """Raise InputFileError naming what is missing, what was found, and the accepted names."""
    columns = match.columns or [*match.mapping.values(), *match.unmatched]
    found = ", ".join(f'"{c}"' for c in columns[:20]) + (f" and {len(columns) - 20} more" if len(columns) > 20 else "")
    key_fields = AGENT_REQUIRED if kind is Kind.AGENT else CUSTOMER_IDENTIFIERS
    if not match.mapping:
        hint = "The first line looks like data: add a line with the column names at the top. " if any(
            _looks_like_data(c) for c in columns
        ) else ""
        optional = ", ".join(f for f in fields_for(kind) if f not in key_fields)
        raise InputFileError(
            f"None of the columns in this file is recognised for {kind} tickets. Columns found: {found}. {hint}"
            f"The first line must name the columns{', with at least one of' * (kind is Kind.CUSTOMER)}: "
            f"{'; '.join(_accepted(f, kind) for f in key_fields)}; "
            f"optional: {optional}."
        )
    missing = match.missing_for(kind, default_brand=default_brand)
    if not missing:
        return
    if kind is Kind.CUSTOMER:
        need = "at least one column that identifies the customer: " + "; or ".join(_accepted(f, kind) for f in missing)
    else:
        wants = [_accepted(f, kind) + (", or a default brand set for the upload" if f == "brand" else "") for f in missing]
        need = "a column for " + "; and a column for ".join(wants)
    raise InputFileError(f"This file needs {need}. Columns found: {found}. Rename the columns in the first line and upload it again.")


def _accepted(field_name: str, kind: Kind) -> str:
    names = accepted_headers(field_name, kind)
    return f"{FIELD_LABELS[field_name]} (\"{names[0]}\", or: {', '.join(names[1:])})"


def _looks_like_data(column: str) -> bool:
    return "@" in column or bool(re.fullmatch(r"\s*\+?[\d][\d\s().-]{4,}", column))
