"""The connection check: a real ticket request for a made-up agent, and what its answer proves."""

from __future__ import annotations

from dataclasses import dataclass

from commbox_core.api.client import TicketOutcome
from commbox_core.fields import Kind
from commbox_core.tickets.request import TicketRequest
from commbox_core.vocabulary import ErrorCode

PROBE_USERNAME = "connection-check.nobody"


def connection_probe(brand: str | None) -> TicketRequest:
    """An agent ticket request for an agent that does not exist: a working tenant answers 404
    (which it can only do after accepting the key), so no ticket is ever issued by the check."""
    return TicketRequest(kind=Kind.AGENT, brand=brand or "connection-check", username=PROBE_USERNAME, oneTimeUse=True)


@dataclass(frozen=True)
class ConnectionVerdict:
    level: str  # "success", "warning" or "error"
    headline: str
    detail: str


def explain_probe(outcome: TicketOutcome, host: str) -> ConnectionVerdict:
    status = f"HTTP {outcome.http_status}" if outcome.http_status else "no HTTP answer"
    if outcome.ok:
        return ConnectionVerdict(
            "warning",
            f"Connected to {host}; the API key works",
            "CommBox issued a ticket for the check's made-up agent "
            f"'{PROBE_USERNAME}', which should not exist. The ticket was thrown away unused.",
        )
    code = outcome.error_code
    if code is ErrorCode.NOT_FOUND:
        return ConnectionVerdict(
            "success",
            f"Connected to {host}; the API key works",
            f"A ticket was requested for an agent that does not exist and CommBox answered {status} "
            "Not Found, which it only does after accepting the key. No ticket was issued.",
        )
    if code is ErrorCode.UNAUTHORIZED:
        return ConnectionVerdict(
            "error",
            f"{host} refused the API key ({status})",
            "Check COMMBOX_API_KEY: it may be mistyped, revoked, or for another tenant.",
        )
    if code is ErrorCode.NETWORK:
        return ConnectionVerdict(
            "error",
            f"Could not reach {host}",
            f"{outcome.message}. Check COMMBOX_API_URL and the network (proxy, firewall, VPN).",
        )
    if code is ErrorCode.BAD_REQUEST:
        return ConnectionVerdict(
            "warning",
            f"{host} answered, but refused the check's request as invalid ({status})",
            "The URL reaches a server; whether it accepted the key is not known. " + outcome.message,
        )
    return ConnectionVerdict(
        "warning",
        f"{host} answered, but not as expected ({status})",
        outcome.message or str(code),
    )
