"""`python -m commbox_core redeem --port P [--host H] [--db PATH] [--sandbox]`: serve the
invitation pages alone (e.g. on a public host while the dashboard stays private) until Ctrl-C."""

from __future__ import annotations

import contextlib
import socket
from pathlib import Path

import click

from commbox_core.cli.output import STORE, STORE_HELP, ConsoleCommand
from commbox_core.errors import ConsoleError


class RedeemCommand(ConsoleCommand):
    error_prefix = "redeem: "


@click.command(cls=RedeemCommand)
@click.option("--port", type=int, required=True, metavar="P", help="port to listen on (0: any free port)")
@click.option("--host", default="127.0.0.1", metavar="ADDRESS", show_default=True, help="address to listen on")
@click.option("--db", type=STORE, help=STORE_HELP)
@click.option("--sandbox", "use_sandbox", is_flag=True, help="mint tickets on an in-process sandbox")
def redeem(port: int, host: str, db: Path | None, use_sandbox: bool) -> int:
    """Serve /invite/<token>: the confirmation page (GET), and the click that mints a fresh
    one-time ticket and sends the browser on to CommBox (POST). Exit codes: 0 stopped by Ctrl-C
    or SIGTERM; 2 no API key, no store, or the address cannot be served."""
    import uvicorn

    from commbox_core.cli.tickets import chosen_backend
    from commbox_core.config.settings import load_settings
    from commbox_core.invitations.app import redeem_app
    from commbox_core.invitations.redeem import Redeemer
    from commbox_core.storage.store import JobStore, default_store

    settings = load_settings()
    with chosen_backend(settings, use_sandbox) as settings, contextlib.closing(
            JobStore(db or default_store(settings))) as store:
        app = redeem_app(lambda: Redeemer(settings, store))
        sock = _bound(host, port)
        shown = f"[{host}]" if ":" in host else host
        print(f"redeem app at http://{shown}:{sock.getsockname()[1]}/invite/<token> | store {store.location} "
              "| Ctrl-C to stop", flush=True)
        # No access log: the path of every request is a credential.
        config = uvicorn.Config(app, log_config=None, access_log=False, proxy_headers=False, lifespan="on",
                                timeout_graceful_shutdown=2)
        uvicorn.Server(config).run(sockets=[sock])
    return 0


def _bound(host: str, port: int) -> socket.socket:
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                             flags=socket.AI_PASSIVE)[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(1024)
        return sock
    except OSError as exc:
        raise ConsoleError(f"cannot serve on {host}:{port}: {exc.strerror or exc}") from None
