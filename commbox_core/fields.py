"""The request fields of POST /auth/ticket and the two kinds of ticket."""

from __future__ import annotations

from enum import StrEnum


class Kind(StrEnum):
    AGENT = "agent"  # login bypass into the agent console: <login URL>?ta=<token>
    CUSTOMER = "customer"  # chat access: <apps URL>/chat/<channel>?ta=<token>


# Canonical field names, as the API spells them (channelId is ours: it is not sent,
# it picks the chat channel of a customer's link).
TEXT_FIELDS = (
    "brand",
    "username",
    "email",
    "uniqueId",
    "firstName",
    "lastName",
    "phone1",
    "remark",
)
FLAG_FIELDS = ("overrideUserInfo", "oneTimeUse")
LOCAL_FIELDS = ("channelId",)
ALL_FIELDS = TEXT_FIELDS + FLAG_FIELDS + LOCAL_FIELDS

# Fields that identify the person: the row cannot be sent without them.
AGENT_REQUIRED = ("brand", "username")
CUSTOMER_IDENTIFIERS = ("uniqueId", "email", "phone1")

FIELD_LABELS = {
    "brand": "Brand",
    "username": "Username",
    "email": "Email",
    "uniqueId": "Unique ID",
    "firstName": "First name",
    "lastName": "Last name",
    "phone1": "Phone",
    "remark": "Remark",
    "overrideUserInfo": "Override user info",
    "oneTimeUse": "One-time use",
    "channelId": "Channel ID",
}


def fields_for(kind: Kind) -> tuple[str, ...]:
    """Fields that make sense for a kind, in display order."""
    if kind is Kind.AGENT:
        return ("brand", "username", "email", "phone1", "firstName", "lastName", "remark", "oneTimeUse")
    return ALL_FIELDS


def form_fields(kind: Kind) -> list[tuple[str, str]]:
    """(field, label) of the text inputs of the single-ticket form, in order. A customer is found
    by id, e-mail or phone: the form asks no username of them (an agent's field)."""
    left_out = ("oneTimeUse", "overrideUserInfo") + (("username",) if kind is Kind.CUSTOMER else ())
    return [(name, FIELD_LABELS[name]) for name in fields_for(kind) if name not in left_out]
