"""What an upload's bytes are: refused when they are neither a CSV file nor an Excel workbook, else
the encoding to read a CSV file in."""

from __future__ import annotations

import codecs
import re
from pathlib import Path

from commbox_core.errors import ConsoleError, InputFileError

SNIFF_BYTES = 64 * 1024

_BOM_ENCODINGS = (
    (codecs.BOM_UTF32_LE, "utf-32"),  # before UTF-16: it starts with the same two bytes
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
    (codecs.BOM_UTF8, "utf-8-sig"),
)
_SIGNATURES = (
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old Excel workbook (.xls)"),  # Save As .xlsx or CSV
    (b"%PDF", "a PDF document"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"\x1f\x8b", "a compressed (gzip) file"),
    (b"Rar!", "a RAR archive"),
    (b"7z\xbc\xaf", "a 7-Zip archive"),
)
_SAVE_AS_CSV = "Open it in Excel, choose File > Save As > \"CSV UTF-8 (Comma delimited)\", and upload that file."


def describe_file(filename: str) -> str:
    return f"The file \"{filename}\"" if filename else "The file"


def _size(n: int) -> str:
    if n < 1024:
        return f"{n:,} bytes"
    if n < 1024 * 1024:
        return f"{n / 1024:,.1f} KB"
    return f"{n / 1024 / 1024:,.1f} MB"


def is_workbook(data: bytes, filename: str) -> bool:
    """An Excel workbook (.xlsx or .xlsm: a ZIP package holding xl/)."""
    return data.startswith(b"PK\x03\x04") and (b"xl/" in data or filename.lower().endswith((".xlsx", ".xlsm")))


def refuse_unusable(data: bytes, filename: str, max_bytes: int) -> None:
    """Refuse what is too big, empty, or neither CSV text nor an Excel workbook."""
    name = describe_file(filename)
    if len(data) > max_bytes:
        raise InputFileError(
            f"{name} is {_size(len(data))}; the limit is {_size(max_bytes)}. "
            "Split it into smaller files and upload them one by one."
        )
    if re.match(rb"\s*\Z", data) or data in {bom for bom, _ in _BOM_ENCODINGS}:
        raise InputFileError(f"{name} is empty. Upload a CSV file with a header line and one row per person.")
    if is_workbook(data, filename):
        return
    if data.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        if b"opendocument.spreadsheet" in data[:200]:
            raise InputFileError(f"{name} is an OpenDocument spreadsheet (.ods), not a CSV file. Save it as CSV.")
        raise InputFileError(f"{name} is a ZIP archive, not a CSV file. Unzip it and upload the CSV file inside.")
    for signature, what in _SIGNATURES:
        if data.startswith(signature):
            if "Excel" in what:
                raise InputFileError(f"{name} is {what}, which the console does not read. Open it in Excel, choose "
                                     "File > Save As > \"Excel Workbook (.xlsx)\", and upload that file.")
            raise InputFileError(f"{name} is {what}, not a CSV file or an Excel workbook. Upload the table itself.")
    if declared_encoding(data) not in {"utf-16", "utf-32"} and b"\x00" in data:
        head = data[:1024]
        if max(head[0::2].count(0), head[1::2].count(0)) > len(head) // 4:  # every other byte is NUL
            raise InputFileError(
                f"{name} looks like UTF-16 text without the marker that says so. "
                "Save it again as \"CSV UTF-8\" (or as Unicode text from Excel) and upload it again."
            )
        raise InputFileError(
            f"{name} contains binary data, not text. Upload a CSV file (in Excel: File > Save As > \"CSV UTF-8\")."
        )


def declared_encoding(data: bytes) -> str | None:
    return next((encoding for bom, encoding in _BOM_ENCODINGS if data.startswith(bom)), None)


def undeclared_encodings(data: bytes, filename: str = "") -> list[str]:
    """UTF-8 first (unless plainly not), then the Windows code page the text looks like.

    Raises InputFileError for text in a code page that cannot be told apart without guessing.
    """
    if data.isascii():
        return ["utf-8"]
    sample = data[:SNIFF_BYTES]
    high = len(re.findall(rb"[\x80-\xff]", sample))
    # Hebrew letters are cp1255 0xE0-0xFA and come in runs (whole words); in cp1252 text the same
    # bytes are accented Latin letters, mostly one at a time ("José", "Müller").
    hebrew = sum(len(run) for run in re.findall(rb"[\xe0-\xfa]{3,}", sample))
    # Hebrew has no capitals: cp1255's 0xC0-0xDF are vowel points, rare in names, while they are
    # the capitals of cp1251 Cyrillic, whose small letters share Hebrew's bytes.
    capitals = len(re.findall(rb"[\xc0-\xdf]", sample))
    looks_hebrew = high and hebrew >= 0.6 * high and capitals <= 0.1 * high
    legacy = ["cp1255", "cp1252"] if looks_hebrew else ["cp1252"]
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=len(data) <= SNIFF_BYTES)
        return ["utf-8", *legacy, "latin-1"]
    except UnicodeDecodeError:
        pass
    # Non-Latin words in any other encoding (Shift-JIS, GBK, Big5, Cyrillic or Greek code pages,
    # EBCDIC) are runs of high bytes too: read as cp1252 they would be silent gibberish.
    in_runs = sum(len(run) for run in re.findall(rb"[\x80-\xff]{3,}", sample))
    if legacy == ["cp1252"] and in_runs > 0.5 * high:
        raise InputFileError(
            f"{describe_file(filename)} is not UTF-8, and its letters are not Western European or Hebrew "
            "text in a Windows encoding (Japanese, Chinese, Cyrillic or mainframe text?), so reading it "
            f"would mean guessing. {_SAVE_AS_CSV}"
        )
    return [*legacy, "latin-1"]


def read_local_file(path: Path, max_bytes: int) -> bytes:
    """A file's bytes, or a ConsoleError that says in a line why not (within max_bytes)."""
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise ConsoleError(
                f"{path} is {size / 1048576:.1f} MB; the limit is {max_bytes / 1048576:.0f} MB "
                "(COMMBOX_MAX_UPLOAD_MB): split the file"
            )
        return path.read_bytes()
    except FileNotFoundError:
        raise ConsoleError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ConsoleError(f"{path} is a folder, not a CSV file") from None
    except PermissionError:
        raise ConsoleError(f"{path}: permission denied") from None
    except OSError as exc:
        raise ConsoleError(f"{path}: cannot read ({exc.strerror})") from None
