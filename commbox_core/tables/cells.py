"""The cell guard: text a spreadsheet would run as a formula gets one leading quote on the way out,
and loses it again on the way in. A leaf both the reading and the writing side import."""

from __future__ import annotations

import re

# The columns our exports add; on re-upload they are never mistaken for input fields.
OWN_EXPORT_COLUMNS = ("row", "error_code", "error", "url", "expires_at", "invitation_id")


_FORMULA_STARTS = frozenset("=+-@\t\r")
# A phone as people write it: a leading + then only digits, spaces and -(). with a digit among
# them. A spreadsheet can run nothing from it, so it is written as given ("+44 2501 234567"),
# which every other tool reads too. A + anywhere else ("-1+1") or any letter is guarded.
PHONE_SHAPE = r"\+(?=[^0-9]*[0-9])[0-9 ().\-]*"
_PHONE = re.compile(PHONE_SHAPE)


def needs_neutralising(value: str) -> bool:
    """True when a spreadsheet would run the text as a formula, looking past any leading quotes;
    a bare phone needs nothing, and a phone behind quotes gets one more (so re-reading gives it back)."""
    bare = value.lstrip("'")
    if bare[:1] not in _FORMULA_STARTS:
        return False
    return bare != value or _PHONE.fullmatch(bare) is None


def neutralise(value: str) -> str:
    """Prefix one quote so '=HYPERLINK(…) shows as text; unneutralise() undoes it exactly."""
    return "'" + value if needs_neutralising(value) else value


def unneutralise(value: str) -> str:
    """One leading quote off where it guards a formula start, or a phone (as exports before phones
    were kept as written had them: "'+44 …" reads as "+44 …")."""
    return value[1:] if value.startswith("'") and value[1:].lstrip("'")[:1] in _FORMULA_STARTS else value
