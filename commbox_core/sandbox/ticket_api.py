"""POST /auth/ticket: the CommBox contract, made stateful, with the configured faults."""

from __future__ import annotations

import asyncio
import json

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.types import Receive, Scope, Send

from commbox_core.sandbox.faults import retry_after_header
from commbox_core.sandbox.pages import BAD_GATEWAY_PAGE
from commbox_core.sandbox.requests_body import BadTicketRequest, parse_ticket_request
from commbox_core.sandbox.state import NotFound, SandboxState, iso_utc

# A server that can really cut a connection puts a callable under this scope extension
# (SandboxServer does); without it the dropped-connection fault falls back to returning an
# unfinished response, which uvicorn also answers by closing the connection.
CLOSE_CONNECTION_EXTENSION = "commbox.sandbox.close_connection"
_DISCONNECT_WAIT_S = 5.0
# Fills the bodies of faults that never deliver a whole response, so they have a real length.
_NEVER_ISSUED_TOKEN = "0" * 100


async def create_ticket(request: Request) -> Response:
    state: SandboxState = request.app.state.sandbox
    state.ticket_requests += 1
    config = state.config  # one request sees one set of settings, even if they change meanwhile
    delay = state.dice.delay_seconds(config)
    if delay:
        await asyncio.sleep(delay)
    # Read the whole request first, whatever the answer: a connection closed with request bytes
    # still unread is reset (RST) rather than closed, and the client might then lose the partial
    # response that the dropped-connection fault is meant to show it.
    body = await request.body()

    if not state.authorized(request.headers.get("authorization")):
        description = "Unauthorized: missing or wrong API key (Authorization: Bearer <key>)"
        return _error(state, 401, description, {"WWW-Authenticate": 'Bearer realm="CommBox sandbox"'})
    if state.bucket is not None:
        wait = state.bucket.take()
        if wait:
            retry_after = retry_after_header(config.retry_after, wait)
            headers = {"Retry-After": retry_after} if retry_after is not None else None
            return _error(state, 429, f"Too Many Requests: over {config.rate_limit:g} requests a second", headers)

    fault = state.dice.draw(config)
    if fault == "drop":
        state.connections_dropped += 1
        return DroppedConnection(_success_body(state, _NEVER_ISSUED_TOKEN))
    if fault == "html":
        return _count(state, HTMLResponse(BAD_GATEWAY_PAGE, status_code=502))
    if fault == "error":
        return _error(state, 500, "Internal Server Error (injected by the sandbox's error rate)")
    if fault == "not_supported":
        return _error(state, 501, "Not Implemented: the requested operation is not supported")

    try:
        ask = parse_ticket_request(body)
        on_record = state.check(ask)
    except BadTicketRequest as exc:
        return _error(state, 400, f"Bad Request: {exc}")
    except NotFound as exc:
        return _error(state, 404, f"Not Found: {exc}")

    # Faults shaped like a success stand in for one: the ticket is never issued.
    if fault == "malformed":
        whole = _success_body(state, _NEVER_ISSUED_TOKEN)
        return _count(state, Response(whole[: len(whole) // 2], media_type="application/json"))
    if fault == "no_token":
        payload = {"status": "200", "description": "Operation successful", "response_time": iso_utc(state.now())}
        return _count(state, JSONResponse({**payload, "data": {}}))

    token, _ticket = state.issue(ask, on_record)
    return _count(state, Response(_success_body(state, token), media_type="application/json"))


def _success_body(state: SandboxState, token: str) -> bytes:
    # `status` is a string on success, as in the vendor's example; errors use an integer.
    payload = {
        "status": "200",
        "description": "Operation successful",
        "response_time": iso_utc(state.now()),
        "data": {"encpryptedString": token},
    }
    return json.dumps(payload, separators=(",", ":")).encode()


def _error(state: SandboxState, status: int, description: str, headers: dict[str, str] | None = None) -> Response:
    payload = {"status": status, "description": description, "response_time": iso_utc(state.now())}
    return _count(state, JSONResponse(payload, status_code=status, headers=headers))


def _count(state: SandboxState, response: Response) -> Response:
    state.responses[str(response.status_code)] += 1
    return response


class DroppedConnection(Response):
    """Announces a 200 with a Content-Length, sends half the body, then closes the connection:
    the client sees a response cut short, as when a proxy or the network fails mid-way."""

    def __init__(self, body: bytes) -> None:
        super().__init__(body, media_type="application/json")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        await send({"type": "http.response.body", "body": bytes(self.body[: len(self.body) // 2]), "more_body": True})
        close_connection = scope.get("extensions", {}).get(CLOSE_CONNECTION_EXTENSION)
        if close_connection is None:
            return
        close_connection()
        # Return only once the server has seen the connection go, so it does not take the
        # unfinished response for an application bug and log it.
        try:
            async with asyncio.timeout(_DISCONNECT_WAIT_S):
                while (await receive())["type"] != "http.disconnect":
                    pass
        except TimeoutError:
            pass
