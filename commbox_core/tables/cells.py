"""The cell guard: text a spreadsheet would run as a formula gets one leading quote on the way out,
and loses it again on the way in. A leaf both the reading and the writing side import."""

from __future__ import annotations

# The columns our exports add; on re-upload they are never mistaken for input fields.
OWN_EXPORT_COLUMNS = ("row", "error_code", "error", "url", "expires_at", "invitation_id")


_FORMULA_STARTS = frozenset("=+-@\t\r")


def needs_neutralising(value: str) -> bool:
    """True when a spreadsheet would run the text as a formula, looking past any leading quotes."""
    return value.lstrip("'")[:1] in _FORMULA_STARTS


def neutralise(value: str) -> str:
    """Prefix one quote so '+44 20 7946 0000 shows as text; unneutralise() undoes it exactly."""
    return "'" + value if needs_neutralising(value) else value


def unneutralise(value: str) -> str:
    return value[1:] if value.startswith("'") and needs_neutralising(value[1:]) else value
