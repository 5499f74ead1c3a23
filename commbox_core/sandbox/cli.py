"""`python -m commbox_core sandbox ...`: serve a sandbox until Ctrl-C."""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
from collections.abc import Iterator
from typing import NoReturn

from .agents import DEFAULT_AGENTS, brand_key, load_agents_csv
from .config import SandboxConfig
from .server import SandboxServer

_FAULT_FLAGS = {
    "--error-rate": "share of requests answered 500",
    "--drop-rate": "share of requests whose connection is cut mid-response",
    "--malformed-rate": "share of successes answered 200 with a body that is not JSON",
    "--html-rate": "share of requests answered 502 with a proxy's HTML page",
    "--no-token-rate": "share of successes answered 200 without a token",
    "--not-supported-rate": "share of requests answered 501",
}


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, not argparse's usage block
        raise _UsageError(message)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m commbox_core sandbox",
        description="Serve a local emulator of CommBox's ticket API, with login and chat pages.",
    )
    parser.add_argument("--port", type=int, required=True, metavar="P", help="port to listen on (0: any free port)")
    parser.add_argument(
        "--host", default="127.0.0.1", metavar="ADDRESS", help="address to listen on (default 127.0.0.1)"
    )
    parser.add_argument(
        "--api-key", default=SandboxConfig.api_key, metavar="K", help="the bearer key clients must send"
    )
    parser.add_argument("--agents", metavar="FILE.csv", help="agents: brand,username,email,phone1,firstName,lastName")
    parser.add_argument("--latency-ms", type=float, default=0, metavar="MS", help="added to every ticket request")
    parser.add_argument("--jitter-ms", type=float, default=0, metavar="MS", help="latency varies by up to this much")
    parser.add_argument("--rate-limit", type=float, metavar="RPS", help="requests a second before answering 429")
    parser.add_argument("--retry-after", default="auto", metavar="WHEN", help='on 429: "auto", "none" or whole seconds')
    for flag, text in _FAULT_FLAGS.items():
        parser.add_argument(flag, type=float, default=0.0, metavar="F", help=f"{text} (0 to 1)")
    parser.add_argument("--agent-ttl", type=float, default=60, metavar="S", help="agent ticket lifespan (60)")
    parser.add_argument("--chat-ttl", type=float, default=300, metavar="S", help="chat ticket lifespan (300)")
    parser.add_argument("--seed", type=int, metavar="N", help="makes faults, jitter and tokens reproducible")
    return parser


def _config(args: argparse.Namespace) -> SandboxConfig:
    agents = dict(DEFAULT_AGENTS)
    if args.agents:
        loaded = load_agents_csv(args.agents)
        loaded_keys = {brand_key(brand) for brand in loaded}
        agents = {brand: records for brand, records in agents.items() if brand_key(brand) not in loaded_keys}
        agents.update(loaded)
    return SandboxConfig(
        api_key=args.api_key,
        agents=agents,
        latency_ms=args.latency_ms,
        jitter_ms=args.jitter_ms,
        rate_limit=args.rate_limit,
        error_rate=args.error_rate,
        drop_rate=args.drop_rate,
        malformed_rate=args.malformed_rate,
        html_rate=args.html_rate,
        no_token_rate=args.no_token_rate,
        not_supported_rate=args.not_supported_rate,
        retry_after=args.retry_after,
        agent_ttl=args.agent_ttl,
        chat_ttl=args.chat_ttl,
        seed=args.seed,
    )


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


def main(argv: list[str]) -> int:
    """Exit codes: 0 stopped by Ctrl-C or SIGTERM, 1 could not serve, 2 bad flags or agents file."""
    try:
        args = _parser().parse_args(argv)
        config = _config(args)
    except SystemExit as exc:  # --help
        return int(exc.code or 0)
    except (_UsageError, ValueError) as exc:
        print(f"sandbox: {exc}", file=sys.stderr)
        return 2

    server = SandboxServer(config, host=args.host, port=args.port)
    try:
        server.start()
    except (OSError, RuntimeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        print(f"sandbox: cannot serve on {args.host}:{args.port}: {reason}", file=sys.stderr)
        return 1
    url = server.url
    print(
        f"CommBox sandbox at {url} | login URL {url}/login | apps URL {url} | API key {config.api_key} "
        "| Ctrl-C to stop",
        flush=True,
    )
    interrupted = False
    try:
        with _sigterm_stops():
            while not server.wait(0.5):
                pass
    except KeyboardInterrupt:
        interrupted = True
    finally:
        server.stop()
    if not interrupted:
        print("sandbox: the server stopped unexpectedly", file=sys.stderr)
        return 1
    return 0
