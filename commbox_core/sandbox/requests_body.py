"""Reading the body of POST /auth/ticket into a TicketAsk, or a 400 that says what is wrong."""

from __future__ import annotations

import json
from dataclasses import dataclass

from commbox_core.fields import Kind
from commbox_core.sandbox.agents import is_blank, phone_digits

# The vendor's fields, spelled out here rather than taken from the console's own vocabulary:
# the emulator follows the contract, so it can catch a client that drifts from it.
TEXT_FIELDS = ("brand", "username", "email", "uniqueId", "firstName", "lastName", "phone1", "remark")
FLAG_FIELDS = ("overrideUserInfo", "oneTimeUse")
CUSTOMER_IDENTIFIERS = ("uniqueId", "email", "phone1")

_JSON_TYPE_NAMES = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}


class BadTicketRequest(ValueError):
    """The request cannot be understood: the message names the field and the reason."""


@dataclass(frozen=True, slots=True)
class TicketAsk:
    """A well-formed ticket request. Blank text fields are read as not given ("")."""

    kind: Kind
    brand: str
    username: str = ""
    email: str = ""
    uniqueId: str = ""
    firstName: str = ""
    lastName: str = ""
    phone1: str = ""
    remark: str = ""
    overrideUserInfo: bool = False
    oneTimeUse: bool = False


def parse_ticket_request(body: bytes) -> TicketAsk:
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        raise BadTicketRequest("The request body is not valid JSON") from None
    if not isinstance(document, dict):
        raise BadTicketRequest(f"The request body must be a JSON object, not {_type_name(document)}")
    data = document.get("data")
    if not isinstance(data, dict):
        found = "missing" if data is None else _type_name(data)
        raise BadTicketRequest(f"data must be an object holding the ticket fields ({found})")

    values: dict[str, object] = {}
    for name in TEXT_FIELDS:
        value = data.get(name)
        if value is None:  # null reads as "not given", as a lenient JSON binder would
            continue
        if not isinstance(value, str):
            raise BadTicketRequest(f"data.{name} must be a string, not {_type_name(value)}")
        if not is_blank(value):
            values[name] = _well_formed(value.strip())
    for name in FLAG_FIELDS:
        value = data.get(name)
        if value is None:
            continue
        if not isinstance(value, bool):
            raise BadTicketRequest(f"data.{name} must be a boolean (true or false), not {_type_name(value)}")
        values[name] = value

    if "brand" not in values:
        raise BadTicketRequest("data.brand is required and must not be empty")
    if "username" in values:
        return TicketAsk(kind=Kind.AGENT, **values)  # type: ignore[arg-type]
    other_identifiers = any(name in values for name in CUSTOMER_IDENTIFIERS if name != "phone1")
    if "phone1" in values and not phone_digits(str(values["phone1"])) and not other_identifiers:
        raise BadTicketRequest("data.phone1 has no digits, so it cannot identify the customer")
    if not any(name in values for name in CUSTOMER_IDENTIFIERS):
        raise BadTicketRequest(
            "A customer ticket needs at least one of data.uniqueId, data.email, data.phone1 "
            "(or data.username for an agent ticket)"
        )
    return TicketAsk(kind=Kind.CUSTOMER, **values)  # type: ignore[arg-type]


def _well_formed(text: str) -> str:
    """JSON may smuggle in lone surrogates ("\\ud800"); they could never be written back out as
    UTF-8, so they become U+FFFD here, as a lenient decoder would do."""
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def _type_name(value: object) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return "a number"
    return _JSON_TYPE_NAMES.get(type(value), type(value).__name__)
