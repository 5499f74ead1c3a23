"""The redeem app: GET (and HEAD) /invite/<token> shows the confirmation page and uses nothing
up; its POST, with the page's CSRF token, claims the invitation, mints a fresh one-time ticket
and answers 303 to the CommBox login or chat URL.

`redeem_routes()` serves the dashboard's own server (st.App routes); `redeem_app()` the
`python -m commbox_core redeem` command. Either needs only the store and the API settings.
"""

from __future__ import annotations

import contextlib
import hmac
import logging
import secrets
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from commbox_core.invitations import pages
from commbox_core.invitations.redeem import Clicker, Redeemer, Verdict, Visit

_log = logging.getLogger(__name__)
CSRF_COOKIE = "commbox_invite_csrf"
MAX_FORM_BYTES = 4096
# Misses (unknown or malformed tokens, wrong e-mail) allowed per client address in the window.
MAX_MISSES = 10
MISS_WINDOW_S = 600.0
MAX_ADDRESSES = 10_000  # addresses remembered at once (oldest forgotten first)
# The URL carries a credential: no cache, no Referer, no framing, nothing fetched from elsewhere.
# No form-action: Chromium applies it to the POST's redirect, which goes to CommBox.
_HEADERS = {
    "Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex, nofollow",
    "X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'",
}


class MissLimiter:
    """Wrong tokens per client address, in a sliding window, in this process's memory."""

    def __init__(self, limit: int = MAX_MISSES, window_s: float = MISS_WINDOW_S, clock=time.monotonic):
        self.limit, self.window_s, self._clock = limit, window_s, clock
        self._misses: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def wait_s(self, address: str) -> float:
        """Seconds until this address may try again (0: now)."""
        with self._lock:
            times = self._recent(address)
            return times[0] + self.window_s - self._clock() if len(times) >= self.limit else 0.0

    def miss(self, address: str) -> None:
        with self._lock:
            self._recent(address).append(self._clock())
            self._misses.move_to_end(address)
            while len(self._misses) > MAX_ADDRESSES:
                self._misses.popitem(last=False)

    def _recent(self, address: str) -> deque[float]:
        times = self._misses.setdefault(address, deque())
        while times and times[0] <= self._clock() - self.window_s:
            times.popleft()
        return times


class RedeemEndpoints:
    """The two handlers over a Redeemer made on first use (so the dashboard's sandbox and store
    are ready by then)."""

    def __init__(self, make_redeemer: Callable[[], Redeemer], limiter: MissLimiter | None = None):
        self._make, self._redeemer = make_redeemer, None
        self._lock = threading.Lock()
        self.limiter = limiter or MissLimiter()

    def redeemer(self) -> Redeemer:
        with self._lock:
            if self._redeemer is None:
                self._redeemer = self._make()
            return self._redeemer

    def close(self) -> None:
        if self._redeemer is not None:
            self._redeemer.close()

    async def show(self, request: Request) -> Response:
        return await _safely(self._show(request))

    async def submit(self, request: Request) -> Response:
        return await _safely(self._submit(request))

    async def _show(self, request: Request) -> Response:
        address = _address(request)
        if limited := self._limited(address):
            return limited
        visit = await run_in_threadpool(self.redeemer().look, request.path_params["token"])
        if visit.verdict is Verdict.CONFIRM:
            return self._confirm(request, visit)
        return self._ended(visit, address)

    async def _submit(self, request: Request) -> Response:
        address = _address(request)
        if limited := self._limited(address):
            return limited
        form = await _form(request)
        if not _csrf_ok(request, form.get("csrf", "")):
            return _html(403, pages.stale_form_page())
        clicker = Clicker(address, request.headers.get("user-agent", ""))
        token = request.path_params["token"]
        visit = await run_in_threadpool(self.redeemer().redeem, token, clicker, form.get("email", ""))
        if visit.verdict is Verdict.MINTED:
            return RedirectResponse(visit.url, status_code=303, headers=_HEADERS)
        if visit.verdict is Verdict.WRONG_EMAIL:
            self.limiter.miss(address)
            return self._confirm(request, visit, status=403, problem="That address does not match the one on record.")
        return self._ended(visit, address)

    def _limited(self, address: str) -> Response | None:
        wait = self.limiter.wait_s(address)
        if wait <= 0:
            return None
        response = _html(429, pages.limited_page(int(wait)))
        response.headers["Retry-After"] = str(max(1, int(wait)))
        return response

    def _ended(self, visit: Visit, address: str) -> Response:
        if visit.verdict is Verdict.UNKNOWN:
            self.limiter.miss(address)
        if visit.verdict is Verdict.FAILED:
            return _html(*pages.failure_page(visit.error_code, visit.retry))
        return _html(*pages.ended_page(visit.verdict))

    def _confirm(self, request: Request, visit: Visit, *, status: int = 200, problem: str = "") -> Response:
        invitation = visit.invitation
        csrf = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(16)
        html = pages.confirm_page(greeting=invitation.greeting, kind=invitation.kind, expires_at=invitation.expires_at,
                                  csrf=csrf, ask_email=invitation.confirm_email, problem=problem)
        response = _html(status, html)
        response.set_cookie(CSRF_COOKIE, csrf, max_age=3600, path="/invite/", httponly=True, samesite="strict",
                            secure=request.url.scheme == "https")
        return response


def redeem_routes(endpoints: RedeemEndpoints) -> list[Route]:
    return [
        Route("/invite/{token}", endpoints.show, methods=["GET"]),  # HEAD too
        Route("/invite/{token}", endpoints.submit, methods=["POST"]),
    ]


def redeem_app(make_redeemer: Callable[[], Redeemer]) -> Starlette:
    endpoints = RedeemEndpoints(make_redeemer)

    @contextlib.asynccontextmanager
    async def lifespan(_app):
        yield
        endpoints.close()

    return Starlette(routes=redeem_routes(endpoints), lifespan=lifespan)


async def _safely(answer) -> Response:
    """A bug becomes a page that says so, never a traceback (which could quote the token)."""
    try:
        return await answer
    except Exception as exc:  # noqa: BLE001
        _log.error("the redeem page failed: %s", type(exc).__name__)
        return _html(500, pages.page("Something went wrong on our side",
                                     "<p>Nothing was used up: your link still works. Try again in a minute.</p>"))


def _address(request: Request) -> str:
    return request.client.host if request.client else ""


def _html(status: int, html: str) -> HTMLResponse:
    return HTMLResponse(html, status_code=status, headers=_HEADERS)


async def _form(request: Request) -> dict[str, str]:
    """A urlencoded form of at most MAX_FORM_BYTES (anything else is an empty form)."""
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return {}
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            return {}
    return dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))


def _csrf_ok(request: Request, given: str) -> bool:
    expected = request.cookies.get(CSRF_COOKIE, "")
    return bool(expected) and hmac.compare_digest(expected.encode(), given.encode())
