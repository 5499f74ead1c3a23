"""Per-run choices for invitations: how long they wait, single use or not, e-mail confirmation."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

from commbox_core.errors import ConsoleError

DEFAULT_VALIDITY = timedelta(days=7)  # as Auth0's organisation invitations
MAX_VALIDITY = timedelta(days=30)
MIN_VALIDITY = timedelta(minutes=5)
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_DURATION = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([mhdw])\s*", re.IGNORECASE)


@dataclass(frozen=True)
class InvitationOptions:
    valid_for: timedelta = DEFAULT_VALIDITY
    single_use: bool = True
    confirm_email: bool = False  # agents only: the click asks for the e-mail on record

    def __post_init__(self) -> None:
        if not MIN_VALIDITY <= self.valid_for <= MAX_VALIDITY:
            raise ConsoleError(f"an invitation can be valid for {describe(MIN_VALIDITY)} to {describe(MAX_VALIDITY)}, "
                               f"not {describe(self.valid_for)}")

    def record(self) -> dict:
        return {"valid_for_s": int(self.valid_for.total_seconds()), "single_use": self.single_use,
                "confirm_email": self.confirm_email}

    @classmethod
    def from_record(cls, record: dict | None) -> InvitationOptions | None:
        if not record:
            return None
        return cls(timedelta(seconds=record["valid_for_s"]), bool(record["single_use"]), bool(record["confirm_email"]))


def parse_validity(text: str) -> timedelta:
    """"90m", "72h", "7d", "2w" -> a timedelta; a ConsoleError that says what is accepted."""
    found = _DURATION.fullmatch(text or "")
    if not found:
        raise ConsoleError(f"validity {text!r} is not a duration: write e.g. 90m, 72h, 7d or 2w")
    return timedelta(**{_UNITS[found.group(2).lower()]: float(found.group(1))})


def describe(span: timedelta) -> str:
    seconds = int(span.total_seconds())
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'' if count == 1 else 's'}"
    return f"{seconds} seconds"
