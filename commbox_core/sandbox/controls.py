"""/_sandbox/*: controls for tests and benchmarks. Not part of CommBox, and not in its document.

GET  /_sandbox/stats              counters (requests, tickets, responses by status, redemptions)
POST /_sandbox/reset              forget tickets, customers and counters; rewind clock and seed
GET  /_sandbox/config             the run-time settings
POST /_sandbox/config             change some of them: {"latency_ms": 50, "error_rate": 0.1}
POST /_sandbox/clock              {"advance": 61} moves the sandbox's clock forward
GET  /_sandbox/customers?brand=   customer records made by chat tickets
"""

from __future__ import annotations

import json
import math

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from commbox_core.sandbox.state import SandboxState, iso_utc


def _state(request: Request) -> SandboxState:
    return request.app.state.sandbox


def _bad(message: str) -> Response:
    return JSONResponse({"error": message}, status_code=400)


async def _json_object(request: Request) -> dict:
    try:
        document = json.loads(await request.body() or b"{}")
    except (ValueError, RecursionError):
        raise ValueError("the body is not valid JSON") from None
    if not isinstance(document, dict):
        raise TypeError("the body must be a JSON object")
    return document


async def stats(request: Request) -> Response:
    return JSONResponse(_state(request).stats())


async def reset(request: Request) -> Response:
    _state(request).reset()
    return JSONResponse({"reset": True})


async def config(request: Request) -> Response:
    state = _state(request)
    if request.method == "POST":
        try:
            state.reconfigure(state.config.with_changes(await _json_object(request)))
        except (TypeError, ValueError) as exc:
            return _bad(str(exc))
    return JSONResponse(state.config.tunables())


async def clock(request: Request) -> Response:
    state = _state(request)
    try:
        advance = (await _json_object(request)).get("advance")
    except (TypeError, ValueError) as exc:
        return _bad(str(exc))
    if isinstance(advance, bool) or not isinstance(advance, (int, float)) or not math.isfinite(advance) or advance < 0:
        return _bad('give {"advance": seconds}, a number of seconds of at least 0 (the clock only moves forward)')
    state.advance_clock(advance)
    return JSONResponse({"now": iso_utc(state.now()), "offset_s": state.clock_offset})


async def customers(request: Request) -> Response:
    state = _state(request)
    brand = request.query_params.get("brand")
    if brand is not None and not state.knows_brand(brand):
        return JSONResponse({"error": f"no brand {brand}"}, status_code=404)
    return JSONResponse({"customers": state.customers_of(brand)})
