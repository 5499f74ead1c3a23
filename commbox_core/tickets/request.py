"""TicketRequest and the rules a row must pass before it is sent.

A row that fails any rule is never sent; its message names the field and the reason.
Values are sent trimmed but otherwise as given: phones and ids stay strings.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict

from commbox_core.fields import CUSTOMER_IDENTIFIERS, FIELD_LABELS, TEXT_FIELDS, Kind
from commbox_core.tickets.emails import email_problem, email_problems
from commbox_core.tickets.phones import phone_problem, phone_problems

MAX_LENGTH = {"remark": 2000}
DEFAULT_MAX_LENGTH = 255

CHECKED_FIELDS = (*TEXT_FIELDS, "channelId")  # the text a row may carry, in the order problems are told

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
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

    @classmethod
    def from_checked(cls, kind: Kind, values: Mapping[str, object]) -> TicketRequest:
        """A request from values build_request has already checked. pydantic would only check
        their types again, which costs more than the whole row's checks (model_construct even more).

        The field values are set on a plain object first, in one fixed order, and its __dict__
        becomes the request's: CPython then stores the field names once for all requests (a
        key-sharing dict, PEP 412), which halves what each request takes. Requests with the same
        fields share one fields-set, safe because the model is frozen."""
        holder = _FieldValues()
        holder.kind = kind
        for name, default in _FIELD_DEFAULTS.items():
            setattr(holder, name, values.get(name, default))
        request = cls.__new__(cls)
        key = tuple(values)
        fields_set = _FIELDS_SETS.get(key) or _FIELDS_SETS.setdefault(key, {"kind", *key})
        object.__setattr__(request, "__dict__", holder.__dict__)
        object.__setattr__(request, "__pydantic_fields_set__", fields_set)
        object.__setattr__(request, "__pydantic_extra__", None)
        object.__setattr__(request, "__pydantic_private__", None)
        return request

    @property
    def subject(self) -> str:
        """Who the ticket is for, as a person would name them (for tables and the audit log)."""
        return subject_of(self.kind, self.__dict__)


def subject_of(kind: Kind | str, values: Mapping[str, object]) -> str:
    """The person a request's values name: an agent's username, a customer's id, e-mail or phone
    (also for a request kept as JSON, e.g. an invitation's)."""
    if kind == Kind.AGENT:
        return str(values.get("username") or "")
    return str(values.get("uniqueId") or values.get("email") or values.get("phone1") or "")


class _FieldValues:
    """A plain object, only to build a request's __dict__ as a key-sharing dict."""


_FIELD_DEFAULTS = {name: field.default for name, field in TicketRequest.model_fields.items() if name != "kind"}
_FIELDS_SETS: dict[tuple[str, ...], set[str]] = {}


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
    texts: dict[str, str] = {}
    for name in CHECKED_FIELDS:
        text = clean_text(values.get(name))
        if not text:
            continue
        problem = text_problem(name, text)
        if problem:
            problems.append(FieldProblem(name, problem))
        texts[name] = text
    flags = {name: parse_flag(values.get(name), default) for name, default in flag_defaults(defaults)}
    return complete_request(texts, flags, problems, kind, defaults)


def clean_text(raw: str | None) -> str:
    return raw.strip() if raw else ""


def flag_defaults(defaults: RowDefaults) -> tuple[tuple[str, bool], ...]:
    return ("oneTimeUse", defaults.one_time_use), ("overrideUserInfo", defaults.override_user_info)


def complete_request(
    texts: Mapping[str, str],
    flags: Mapping[str, tuple[bool, str | None]],
    problems: list[FieldProblem],
    kind: Kind,
    defaults: RowDefaults,
) -> tuple[TicketRequest | None, list[FieldProblem]]:
    """The second half of build_request, shared with prepare_rows: checked texts (no blanks) and
    parsed flags (value, problem) plus the problems found so far -> the request or every problem."""
    clean: dict[str, object] = dict(texts)
    clean.setdefault("brand", defaults.brand or "")
    if kind is Kind.CUSTOMER:
        clean.setdefault("channelId", defaults.channel_id or "")
    for name, (flag, problem) in flags.items():
        if problem:
            problems.append(FieldProblem(name, problem))
        clean[name] = flag

    problems.extend(_missing(clean, kind))
    if problems:
        return None, problems
    # No blank is left: texts come without them, and a blank brand or channel is missing above.
    if kind is Kind.AGENT:
        clean.pop("uniqueId", None)
        clean.pop("channelId", None)
        clean["overrideUserInfo"] = False
    return TicketRequest.from_checked(kind, clean), []


def _missing(clean: Mapping[str, object], kind: Kind) -> list[FieldProblem]:
    if clean.get("brand") and (
        clean.get("username")
        if kind is Kind.AGENT
        else clean.get("channelId") and any(map(clean.get, CUSTOMER_IDENTIFIERS))
    ):
        return []  # the common case, answered without building anything
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


def text_problem(name: str, text: str) -> str | None:
    """Why one trimmed, non-blank value of a field cannot be sent, or None."""
    problem = _shape_problem(name, text)
    if problem or name not in ("phone1", "email"):
        return problem
    return phone_problem(text) if name == "phone1" else email_problem(text)


def text_problems(name: str, texts: Sequence[str]) -> list[str | None]:
    """text_problem for many values of one field at once (phones and e-mail addresses vectorised)."""
    limit = MAX_LENGTH.get(name, DEFAULT_MAX_LENGTH)
    # Two whole-column passes at C speed usually show that no value is too long or holds a
    # control character; only a column where one does is checked value by value.
    if texts and (max(map(len, texts)) > limit or _CONTROL.search("".join(texts))):
        problems = [_shape_problem(name, text) if text else None for text in texts]
    else:
        problems = [None] * len(texts)
    check = _VALUE_CHECKS.get(name)
    if check is not None:
        found = check(texts)
        problems = [shape or (problem if text else None) for text, shape, problem in zip(texts, problems, found)]
    return problems


_VALUE_CHECKS = {"phone1": phone_problems, "email": email_problems}


def _shape_problem(name: str, text: str) -> str | None:
    limit = MAX_LENGTH.get(name, DEFAULT_MAX_LENGTH)
    if len(text) > limit:
        return f"is {len(text)} characters long; at most {limit} are allowed"
    if _CONTROL.search(text):
        return "contains a line break, tab or other control character"
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


def problems_by_field(problems: Iterable[FieldProblem]) -> dict[str, str]:
    """Messages per field, for showing next to each input (several joined)."""
    found: dict[str, list[str]] = {}
    for problem in problems:
        found.setdefault(problem.field, []).append(problem.message)
    return {name: "; ".join(messages) for name, messages in found.items()}
