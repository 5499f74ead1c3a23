"""`python -m commbox_core sandbox ...`: serve a sandbox until Ctrl-C."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator

import click

from commbox_core.cli.output import PROG, ConsoleCommand, run, say

# The sandbox (Starlette, uvicorn) is imported when the command runs, so --help stays quick.

_FAULT_FLAGS = {
    "--error-rate": "share of requests answered 500",
    "--drop-rate": "share of requests whose connection is cut mid-response",
    "--malformed-rate": "share of successes answered 200 with a body that is not JSON",
    "--html-rate": "share of requests answered 502 with a proxy's HTML page",
    "--no-token-rate": "share of successes answered 200 without a token",
    "--not-supported-rate": "share of requests answered 501",
}


def _fault_options(command):
    for flag, text in reversed(_FAULT_FLAGS.items()):
        command = click.option(flag, type=float, default=0.0, metavar="F", help=f"{text} (0 to 1)")(command)
    return command


class SandboxCommand(ConsoleCommand):
    error_prefix = "sandbox: "


def _config(options: dict):
    """The sandbox's settings from the flags (named as SandboxConfig's fields); --agents adds brands
    or replaces the built-in demo agents of the brands it names."""
    from commbox_core.sandbox.agents import DEFAULT_AGENTS, brand_key, load_agents_csv
    from commbox_core.sandbox.config import SandboxConfig

    agents = dict(DEFAULT_AGENTS)
    if options["agents"]:
        loaded = load_agents_csv(options["agents"])
        loaded_keys = {brand_key(brand) for brand in loaded}
        agents = {brand: records for brand, records in agents.items() if brand_key(brand) not in loaded_keys}
        agents.update(loaded)
    fields = {name: value for name, value in options.items()
              if name not in ("host", "port", "agents") and not (name == "api_key" and value is None)}
    return SandboxConfig(agents=agents, **fields)


@contextlib.contextmanager
def _sigterm_stops() -> Iterator[None]:
    """`kill` stops the sandbox as cleanly as Ctrl-C does."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@click.command(cls=SandboxCommand)
@click.option("--port", type=int, required=True, metavar="P", help="port to listen on (0: any free port)")
@click.option("--host", default="127.0.0.1", metavar="ADDRESS", show_default=True, help="address to listen on")
@click.option("--api-key", metavar="K", help="the bearer key clients must send (default: the sandbox's own)")
@click.option("--agents", metavar="FILE.csv", help="agents: brand,username,email,phone1,firstName,lastName")
@click.option("--latency-ms", type=float, default=0, metavar="MS", help="added to every ticket request")
@click.option("--jitter-ms", type=float, default=0, metavar="MS", help="latency varies by up to this much")
@click.option("--rate-limit", type=float, metavar="RPS", help="requests a second before answering 429")
@click.option("--retry-after", default="auto", metavar="WHEN", help='on 429: "auto", "none" or whole seconds')
@_fault_options
@click.option("--agent-ttl", type=float, default=60, metavar="S", help="agent ticket lifespan (60)")
@click.option("--chat-ttl", type=float, default=300, metavar="S", help="chat ticket lifespan (300)")
@click.option("--seed", type=int, metavar="N", help="makes faults, jitter and tokens reproducible")
@click.option("--exit-with-parent", is_flag=True, hidden=True, help="stop when the process that started it ends")
def sandbox(**options) -> int:
    """Serve a local emulator of CommBox's ticket API, with login and chat pages, until Ctrl-C.

    Exit codes: 0 stopped by Ctrl-C or SIGTERM, 1 could not serve, 2 bad flags or agents file.
    """
    parent = os.getppid() if options.pop("exit_with_parent") else None
    try:
        config = _config(options)
    except ValueError as exc:
        say(f"sandbox: {exc}")
        return 2
    from commbox_core.sandbox.server import SandboxServer

    server = SandboxServer(config, host=options["host"], port=options["port"])
    try:
        server.start()
    except (OSError, RuntimeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        say(f"sandbox: cannot serve on {options['host']}:{options['port']}: {reason}")
        return 1
    url = server.url
    print(
        f"CommBox sandbox at {url} | login URL {url}/login | apps URL {url} | API key {config.api_key} "
        "| Ctrl-C to stop",
        flush=True,
    )
    return _serve(server, parent)


def _serve(server, parent: int | None = None) -> int:
    interrupted = False
    try:
        with _sigterm_stops():
            while not server.wait(0.5):
                if parent is not None and os.getppid() != parent:  # orphaned: the dashboard is gone
                    return 0
    except KeyboardInterrupt:
        interrupted = True
    finally:
        server.stop()
    if not interrupted:
        say("sandbox: the server stopped unexpectedly")
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    """`python -m commbox_core sandbox` on its own (tests, scripts)."""
    return run(sandbox, argv, f"{PROG} sandbox")
