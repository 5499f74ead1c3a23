"""create_app(): the sandbox as a Starlette app. Its state lives on the app, so several
sandboxes can run side by side in one process."""

from __future__ import annotations

from importlib import resources

from starlette.applications import Starlette
from starlette.convertors import Convertor, register_url_convertor
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from commbox_core.sandbox import controls
from commbox_core.sandbox.config import SandboxConfig
from commbox_core.sandbox.link_pages import chat_page, login_page
from commbox_core.sandbox.pages import index_page
from commbox_core.sandbox.state import SandboxState
from commbox_core.sandbox.ticket_api import create_ticket

OPENAPI_DOCUMENT = resources.files(__package__).joinpath("openapi.json").read_bytes()


class _ChannelIdConvertor(Convertor[str]):
    """Any text at all: base64 ids may hold "/", and a mangled link may hold a newline, which
    Starlette's `path` convertor (`.*`) would not match, leaving the request unanswered by
    /chat. Whatever it holds, an unknown channel gets the chat route's own 404 page."""

    regex = r"[\s\S]*"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("commbox_channel_id", _ChannelIdConvertor())


async def _openapi(request: Request) -> Response:
    return Response(OPENAPI_DOCUMENT, media_type="application/json")


async def _index(request: Request) -> Response:
    return HTMLResponse(index_page(base_url=str(request.base_url).rstrip("/")))


def create_app(config: SandboxConfig | None = None) -> Starlette:
    routes = [
        Route("/auth/ticket", create_ticket, methods=["POST"]),
        Route("/login", login_page, methods=["GET"]),
        Route("/chat/{channel:commbox_channel_id}", chat_page, methods=["GET"]),
        Route("/openapi.json", _openapi, methods=["GET"]),
        Route("/", _index, methods=["GET"]),
        Route("/_sandbox/stats", controls.stats, methods=["GET"]),
        Route("/_sandbox/reset", controls.reset, methods=["POST"]),
        Route("/_sandbox/config", controls.config, methods=["GET", "POST"]),
        Route("/_sandbox/clock", controls.clock, methods=["POST"]),
        Route("/_sandbox/customers", controls.customers, methods=["GET"]),
    ]
    app = Starlette(routes=routes)
    app.state.sandbox = SandboxState(config or SandboxConfig())
    return app
