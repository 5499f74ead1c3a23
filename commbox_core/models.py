"""TicketRequest and the rules a row must pass before it is sent.

A row that fails any rule is never sent; its message names the field and the reason.
Values are sent trimmed but otherwise as given: phones and ids stay strings.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from pydantic import BaseModel, ConfigDict

from .fields import CUSTOMER_IDENTIFIERS, FIELD_LABELS, TEXT_FIELDS, Kind

MAX_LENGTH = {"remark": 2000}
DEFAULT_MAX_LENGTH = 255

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# What Excel does to a long number it was not told is text: 4.42079E+11.
_SCIENTIFIC = re.compile(r"^[+-]?\d+(?:[.,]\d+)?[eE][+-]?\d+$")
_PHONE_CHARS = re.compile(r"^[+\d\s().\-/]+$")
_TRUE = frozenset({"true", "yes", "y", "1", "on", "t"})
_FALSE = frozenset({"false", "no", "n", "0", "off", "f"})


class TicketRequest(BaseModel):
    """One validated request for POST /auth/ticket, plus the chat channel for its link."""

    model_config = ConfigDict(frozen=True)

    kind: Kind
    brand: str
    username: str | None = None
    email: str | None = None
    uniqueId: str | None = None
    firstName: str | None = None
    lastName: str | None = None
    phone1: str | None = None
    remark: str | None = None
    overrideUserInfo: bool = False
    oneTimeUse: bool = False
    channelId: str | None = None  # not sent: it picks the chat page of a customer's link

    def payload(self) -> dict:
        """The JSON body: only the fields given, strings as strings."""
        data: dict[str, object] = {name: getattr(self, name) for name in TEXT_FIELDS if getattr(self, name)}
        if self.kind is Kind.CUSTOMER:
            data["overrideUserInfo"] = self.overrideUserInfo
        data["oneTimeUse"] = self.oneTimeUse
        return {"data": data}

    @property
    def subject(self) -> str:
        """Who the ticket is for, as a person would name them (for tables and the audit log)."""
        if self.kind is Kind.AGENT:
            return self.username or ""
        return self.uniqueId or self.email or self.phone1 or ""


@dataclass(frozen=True, slots=True)
class RowDefaults:
    """Run options that fill a row's blanks."""

    brand: str | None = None
    channel_id: str | None = None
    one_time_use: bool = False
    override_user_info: bool = False


@dataclass(frozen=True, slots=True)
class FieldProblem:
    field: str
    message: str

    def __str__(self) -> str:
        return f"{FIELD_LABELS.get(self.field, self.field)} ({self.field}): {self.message}"


def describe_problems(problems: list[FieldProblem]) -> str:
    return "; ".join(str(p) for p in problems)


def build_request(
    values: Mapping[str, str | None], kind: Kind, defaults: RowDefaults = RowDefaults()
) -> tuple[TicketRequest | None, list[FieldProblem]]:
    """Validate one row given as canonical field -> raw text. Returns the request or the problems."""
    problems: list[FieldProblem] = []
    clean: dict[str, object] = {}
    for name in (*TEXT_FIELDS, "channelId"):
        raw = values.get(name)
        text = raw.strip() if raw else ""
        if not text:
            continue
        problem = _text_problem(name, text)
        if problem:
            problems.append(FieldProblem(name, problem))
        clean[name] = text

    clean.setdefault("brand", defaults.brand or "")
    if kind is Kind.CUSTOMER:
        clean.setdefault("channelId", defaults.channel_id or "")
    for name, default in (("oneTimeUse", defaults.one_time_use), ("overrideUserInfo", defaults.override_user_info)):
        flag, problem = parse_flag(values.get(name), default)
        if problem:
            problems.append(FieldProblem(name, problem))
        clean[name] = flag

    problems.extend(_missing(clean, kind))
    if problems:
        return None, problems
    clean = {k: v for k, v in clean.items() if v != ""}
    if kind is Kind.AGENT:
        clean.pop("uniqueId", None)
        clean.pop("channelId", None)
        clean["overrideUserInfo"] = False
    return TicketRequest(kind=kind, **clean), []


def _missing(clean: Mapping[str, object], kind: Kind) -> list[FieldProblem]:
    problems = []
    if not clean.get("brand"):
        problems.append(FieldProblem("brand", "is empty: give a brand in the row or choose a default brand"))
    if kind is Kind.AGENT:
        if not clean.get("username"):
            problems.append(FieldProblem("username", "is empty: an agent is found by username"))
    else:
        if not any(clean.get(name) for name in CUSTOMER_IDENTIFIERS):
            problems.append(
                FieldProblem("uniqueId", "a customer needs at least one of uniqueId, email or phone1")
            )
        if not clean.get("channelId"):
            problems.append(
                FieldProblem("channelId", "is empty: give a channelId in the row or choose a default channel")
            )
    return problems


def _text_problem(name: str, text: str) -> str | None:
    limit = MAX_LENGTH.get(name, DEFAULT_MAX_LENGTH)
    if len(text) > limit:
        return f"is {len(text)} characters long; at most {limit} are allowed"
    if _CONTROL.search(text):
        return "contains a line break, tab or other control character"
    if name == "phone1":
        return phone_problem(text)
    if name == "email":
        return email_problem(text)
    return None


@lru_cache(maxsize=100_000)
def phone_problem(text: str) -> str | None:
    """Why a phone number cannot be sent, or None. Cached: files repeat numbers."""
    if _SCIENTIFIC.match(text):
        return (
            f"'{text}' is a number a spreadsheet turned into scientific notation, so digits were lost; "
            "format the phone column as Text and type the full numbers again (with + and the country code)"
        )
    if not _PHONE_CHARS.match(text):
        return f"'{text}' is not a phone number: use digits, spaces, dashes, and + or 00 before the country code"
    if text.startswith("00"):
        international = "+" + text[2:]
    elif text.startswith("+"):
        international = text
    else:
        return f"'{text}' has no country code: start it with + or 00, for example +44 20 7946 0000"
    try:
        number = phonenumbers.parse(international, None)
    except phonenumbers.NumberParseException:
        return f"'{text}' is not a phone number with a known country code"
    reason = phonenumbers.is_possible_number_with_reason(number)
    if reason != phonenumbers.ValidationResult.IS_POSSIBLE:
        region = phonenumbers.region_code_for_number(number) or f"+{number.country_code}"
        hint = {
            phonenumbers.ValidationResult.TOO_LONG: " (too many)",
            phonenumbers.ValidationResult.TOO_SHORT: " (too few)",
            phonenumbers.ValidationResult.IS_POSSIBLE_LOCAL_ONLY: " (too few: area code missing?)",
        }.get(reason, "")
        return f"'{text}' has the wrong number of digits for {region}{hint}"
    return None


@lru_cache(maxsize=100_000)
def email_problem(text: str) -> str | None:
    """Why an e-mail address cannot be sent, or None (syntax only: no DNS look-up)."""
    try:
        validate_email(text, check_deliverability=False)
    except EmailNotValidError as exc:
        return f"'{text}' is not a valid e-mail address: {exc}"
    return None


def parse_flag(raw: str | None, default: bool) -> tuple[bool, str | None]:
    """A yes/no cell: blank takes the run's default."""
    text = (raw or "").strip().casefold()
    if not text:
        return default, None
    if text in _TRUE:
        return True, None
    if text in _FALSE:
        return False, None
    return default, f"'{raw}' is not a yes/no value: use true or false"
