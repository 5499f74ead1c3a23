"""Matching a file's columns to the API's fields: exact names, then the same letters, then aliases."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from commbox_core.errors import InputFileError
from commbox_core.fields import AGENT_REQUIRED, CUSTOMER_IDENTIFIERS, FIELD_LABELS, Kind, fields_for
from commbox_core.tables.cells import OWN_EXPORT_COLUMNS

# Accepted header names per field, as shown to users; matching compares them normalised.
# Hebrew names too: CommBox tenants are often Israeli, and their sheets say טלפון, not phone.
ALIASES: dict[str, tuple[str, ...]] = {
    "brand": ("brand", "account", "brand name", "מותג"),
    "username": ("username", "user", "login", "agent", "agent username", "שם משתמש", "נציג"),
    "email": ("email", "e-mail", "mail", "email address", "אימייל", "מייל", "דוא״ל", 'דוא"ל', "דואר אלקטרוני"),
    "uniqueId": (
        "uniqueId", "id", "customer id", "client id", "external id", "user id",
        "מזהה", "מזהה לקוח", "מספר לקוח",
    ),
    "firstName": ("firstName", "first", "given name", "forename", "שם פרטי"),
    "lastName": ("lastName", "last", "surname", "family name", "שם משפחה"),
    "phone1": (
        "phone1", "phone", "mobile", "mobile phone", "mobile number", "cell", "cell phone",
        "tel", "telephone", "phone number", "msisdn", "טלפון", "נייד", "טלפון נייד", "מספר טלפון", "פלאפון",
    ),
    "remark": ("remark", "remarks", "note", "notes", "comment", "הערה", "הערות"),
    "overrideUserInfo": ("overrideUserInfo", "override"),
    "oneTimeUse": ("oneTimeUse", "one time", "single use", "חד פעמי"),
    "channelId": ("channelId", "channel", "ערוץ"),
}
# For a customer, an "agent" column names the agent who serves them, not the customer's username.
_AGENT_ONLY_ALIASES = {"agent", "agent username", "נציג"}
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
    """Raise InputFileError naming what is missing, what was found, and the accepted names; first
    of all, when the file would do for the other kind, that the kind chosen is the likely mistake."""
    columns = match.columns or [*match.mapping.values(), *match.unmatched]
    try:
        _check_columns(match, columns, kind, default_brand)
    except InputFileError as problem:
        raise InputFileError(_other_kind_hint(columns, kind, default_brand) + str(problem)) from None


def _check_columns(match: ColumnMatch, columns: list[str], kind: Kind, default_brand: str | None) -> None:
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
    raise InputFileError(f"This file needs {need}. Columns found: {found}. Rename the columns in the first line "
                         "and upload it again.")


def _other_kind_hint(columns: list[str], kind: Kind, default_brand: str | None) -> str:
    """When the file would do for the other kind, the likely mistake is the kind chosen: say so."""
    other = Kind.CUSTOMER if kind is Kind.AGENT else Kind.AGENT
    fits = match_columns(columns, other)
    if not fits.mapping or fits.missing_for(other, default_brand=default_brand):
        return ""
    named = ", ".join(f'"{column}"' for column in list(fits.mapping.values())[:6])
    return f"These look like {other} columns ({named}): switch to {other.capitalize()}s. For {kind}s: "


def _accepted(field_name: str, kind: Kind) -> str:
    names = accepted_headers(field_name, kind)
    return f"{FIELD_LABELS[field_name]} (\"{names[0]}\", or: {', '.join(map(_isolated, names[1:]))})"


def _isolated(name: str) -> str:
    """A right-to-left name (Hebrew) in Unicode isolates: in a list of English ones it stays one
    unit, instead of pulling the commas and its neighbours into its own direction."""
    if any(unicodedata.bidirectional(char) in ("R", "AL") for char in name):
        return f"\u2068{name}\u2069"
    return name


def _looks_like_data(column: str) -> bool:
    return "@" in column or bool(re.fullmatch(r"\s*\+?[\d][\d\s().-]{4,}", column))
