"""Agent records the sandbox knows, per brand, and how identifiers are compared."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

AGENT_CSV_COLUMNS = ("brand", "username", "email", "phone1", "firstName", "lastName")

_NOT_DIGIT = re.compile(r"[^0-9]")
# The same test JSON Schema's `"pattern": "\\S"` applies (schemathesis validates with Python's
# re), so what the OpenAPI document calls valid and what the sandbox accepts never drift apart.
_NON_BLANK = re.compile(r"\S")


@dataclass(frozen=True, slots=True)
class AgentRecord:
    username: str
    email: str = ""
    phone1: str = ""
    first_name: str = ""
    last_name: str = ""

    @property
    def display_name(self) -> str:
        return " ".join(part for part in (self.first_name, self.last_name) if part) or self.username


Agents = Mapping[str, tuple[AgentRecord, ...]]  # brand -> its agents


def is_blank(value: str) -> bool:
    return _NON_BLANK.search(value) is None


def phone_digits(phone: str) -> str:
    """Digits only, with a leading international `00` read like `+`: "+44 20-7946" and
    "0044 20 7946" both give "44207946". Only ASCII digits count, as in the OpenAPI patterns,
    and any phone with a digit keeps at least one (the document's `[0-9]` means "identifies")."""
    digits = _NOT_DIGIT.sub("", phone)
    if phone.strip().startswith("00") and len(digits) > 2:
        return digits[2:]
    return digits


def brand_key(brand: str) -> str:
    """Brands are matched without regard to case or surrounding spaces."""
    return brand.strip().casefold()


DEFAULT_AGENTS: Agents = MappingProxyType(
    {
        "demo": (
            # The vendor's own example agent, so its documented example request succeeds.
            AgentRecord("john.d", "john.d@gmail.com", "+44 2501 234567", "John", "Doe"),
            AgentRecord("noa.c", "noa.cohen@example.co.il", "+972-50-123-4567", "נועה", "כהן"),
            AgentRecord("maria.g", "maria.garcia@example.es", "+34 612 345 678", "María", "García"),
            AgentRecord("li.wei", "li.wei@example.cn", "+86 138 0013 8000", "Wei", "Li"),
            AgentRecord("amara.o", "amara.okafor@example.ng", "+234 803 123 4567", "Amara", "Okafor"),
            AgentRecord("sam.t", "sam.taylor@example.com", "+1 (212) 555-0147", "Sam", "Taylor"),
        )
    }
)


def load_agents_csv(path: str | Path) -> dict[str, tuple[AgentRecord, ...]]:
    """Agents per brand from a CSV with the columns of AGENT_CSV_COLUMNS (UTF-8, BOM or not).

    Raises ValueError with a message fit for a user when the file cannot be used.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(f"agents file {path}: not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise ValueError(f"agents file {path}: cannot be read ({exc.strerror or exc})") from None

    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [name.strip() for name in reader.fieldnames or []]
    if not header:
        raise ValueError(f"agents file {path}: empty, expected a header row {','.join(AGENT_CSV_COLUMNS)}")
    missing = [column for column in AGENT_CSV_COLUMNS if column not in header]
    if missing:
        raise ValueError(f"agents file {path}: missing column(s) {', '.join(missing)}; header is {','.join(header)}")
    reader.fieldnames = header

    by_brand: dict[str, dict[str, AgentRecord]] = {}
    brand_spelling: dict[str, str] = {}
    for line_number, row in enumerate(reader, start=2):
        if None in row:  # csv puts surplus cells under the key None
            raise ValueError(f"agents file {path}: line {line_number} has more cells than the header")
        values = {column: (row.get(column) or "").strip() for column in AGENT_CSV_COLUMNS}
        if not any(values.values()):
            continue
        for required in ("brand", "username"):
            if not values[required]:
                raise ValueError(f"agents file {path}: line {line_number}: {required} is empty")
        key = brand_key(values["brand"])
        brand = brand_spelling.setdefault(key, values["brand"])
        agents = by_brand.setdefault(brand, {})
        username_key = values["username"].casefold()
        if username_key in agents:
            raise ValueError(
                f"agents file {path}: line {line_number}: username {values['username']} appears twice in brand {brand}"
            )
        agents[username_key] = AgentRecord(
            username=values["username"],
            email=values["email"],
            phone1=values["phone1"],
            first_name=values["firstName"],
            last_name=values["lastName"],
        )
    if not by_brand:
        raise ValueError(f"agents file {path}: no agent rows")
    return {brand: tuple(agents.values()) for brand, agents in by_brand.items()}
