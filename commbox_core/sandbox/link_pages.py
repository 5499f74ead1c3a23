"""GET /login?ta= and GET /chat/{channel}?ta=: where the links a run exports lead.

A valid ticket of the right kind shows who is signed in or chatting (200). An unknown ticket,
or one of the other kind, is refused with 401; an expired or used-up one with 410; a chat
channel the sandbox does not have with 404. `Accept: application/json` gets the same status
with a small JSON body instead of the page.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from commbox_core.fields import Kind
from commbox_core.sandbox.pages import chat_ok_page, login_ok_page, refused_page
from commbox_core.sandbox.state import Redemption, SandboxState, Ticket, iso_utc

# The token is in the URL: keep it out of caches and out of Referer headers.
_PRIVATE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}

_REFUSALS = {
    Redemption.UNKNOWN_TOKEN: (401, "Link not valid", "The ticket in this link is unknown to this sandbox."),
    Redemption.EXPIRED: (410, "Link expired", "The ticket in this link has expired. Ask for a new link."),
    Redemption.ALREADY_USED: (410, "Link already used", "This one-time ticket has already been used."),
}
_WRONG_KIND = {
    Kind.AGENT: "This ticket is for a customer chat, not for the agent console.",
    Kind.CUSTOMER: "This ticket is for the agent console, not for a customer chat.",
}


async def login_page(request: Request) -> Response:
    state: SandboxState = request.app.state.sandbox
    outcome, ticket = state.redeem(request.query_params.get("ta", ""), Kind.AGENT)
    if outcome is not Redemption.OK or ticket is None:
        return _refused(request, outcome, Kind.AGENT)
    agent = state.agent(ticket.brand, ticket.subject)
    name = agent.display_name if agent else ticket.subject
    details = {"brand": ticket.brand, "username": ticket.subject, "name": name}
    expires = iso_utc(ticket.expires_at)
    html = login_ok_page(**details, remark=ticket.remark, expires=expires)
    return _answer(request, 200, html, {"outcome": outcome, "kind": Kind.AGENT, **_with_ticket(details, ticket)})


async def chat_page(request: Request) -> Response:
    state: SandboxState = request.app.state.sandbox
    channel = request.path_params["channel"]  # decoded once: "abc%3D%3D" in the URL is "abc=="
    if channel not in state.config.channels:
        state.redemptions[Redemption.UNKNOWN_CHANNEL] += 1
        reason = f"There is no chat channel {channel} here. Is the channel id encoded twice in the link?"
        html = refused_page(heading="Unknown channel", reason=reason)
        return _answer(request, 404, html, _refusal_json(Redemption.UNKNOWN_CHANNEL, reason))
    outcome, ticket = state.redeem(request.query_params.get("ta", ""), Kind.CUSTOMER)
    if outcome is not Redemption.OK or ticket is None:
        return _refused(request, outcome, Kind.CUSTOMER)
    customer = state.customer(ticket.brand, ticket.subject)
    name = customer.display_name if customer else ticket.subject
    details = {"brand": ticket.brand, "channel": channel, "customer": ticket.subject, "name": name}
    html = chat_ok_page(**details, remark=ticket.remark, expires=iso_utc(ticket.expires_at))
    return _answer(request, 200, html, {"outcome": outcome, "kind": Kind.CUSTOMER, **_with_ticket(details, ticket)})


def _with_ticket(details: dict[str, str], ticket: Ticket) -> dict:
    return {**details, "remark": ticket.remark, "one_time": ticket.one_time, "expires_at": iso_utc(ticket.expires_at)}


def _refused(request: Request, outcome: Redemption, kind: Kind) -> Response:
    if outcome is Redemption.WRONG_KIND:
        status, heading, reason = 401, "Wrong kind of link", _WRONG_KIND[kind]
    else:
        status, heading, reason = _REFUSALS[outcome]
    return _answer(request, status, refused_page(heading=heading, reason=reason), _refusal_json(outcome, reason))


def _refusal_json(outcome: Redemption, reason: str) -> dict:
    return {"outcome": outcome, "description": reason}


def _answer(request: Request, status: int, html: str, json_body: dict) -> Response:
    if "application/json" in request.headers.get("accept", ""):
        return JSONResponse(json_body, status_code=status, headers=_PRIVATE)
    return HTMLResponse(html, status_code=status, headers=_PRIVATE)
