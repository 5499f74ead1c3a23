"""python -m commbox_core sandbox | ticket | bulk | jobs

Exit codes: 0 every row succeeded; 1 some rows failed; 2 nothing could run (bad usage,
unreadable file, missing columns, no API URL or key, key refused); 130 cancelled with Ctrl-C.
Errors are one clear line on stderr, never a traceback. Tokens go to stdout or files only.
"""

from __future__ import annotations

import argparse
import contextlib
import re
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from .bulk import BulkRunner, issue_ticket
from .client import CommBoxClient
from .errors import ConsoleError, ErrorCode
from .fields import Kind
from .links import LinkBuilder
from .models import RowDefaults, build_request, describe_problems
from .settings import Settings, load_settings

PROG = "python -m commbox_core"


class UsageError(ConsoleError):
    pass


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line, not a usage dump."""

    def error(self, message: str):
        raise UsageError(f"{self.prog}: {message} (see --help)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="Mint CommBox login-bypass tickets, one or in bulk.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    commands.add_parser("sandbox", help="run the local CommBox emulator (see: sandbox --help)", add_help=False)

    common = _Parser(add_help=False)
    common.add_argument("--kind", choices=[k.value for k in Kind], required=True)
    common.add_argument("--brand", help="brand for rows without one (default: COMMBOX_BRAND)")
    common.add_argument("--channel", help="chat channel id for customer links (default: COMMBOX_CHANNEL_ID)")
    common.add_argument("--one-time-use", action="store_true", help="tickets valid for one use only")
    common.add_argument("--override-user-info", action="store_true", help="update the customer record")
    common.add_argument("--sandbox", action="store_true", help="run against an in-process sandbox")

    ticket = commands.add_parser("ticket", parents=[common], help="mint one ticket and print its URL")
    for flag, field in (
        ("--username", "username"), ("--email", "email"), ("--phone", "phone1"),
        ("--unique-id", "uniqueId"), ("--first-name", "firstName"), ("--last-name", "lastName"),
        ("--remark", "remark"),
    ):
        ticket.add_argument(flag, dest=field)
    ticket.add_argument("--db", type=Path, help="job store (SQLite file) whose audit log records the ticket")

    bulk = commands.add_parser("bulk", parents=[common], help="mint a ticket for every row of a CSV")
    bulk.add_argument("file", type=Path, help="CSV of agents or customers")
    bulk.add_argument("--out", type=Path, required=True, help="folder for success.csv, errors.csv, ...")
    bulk.add_argument("--concurrency", type=int, help="requests in flight at once (default 8)")
    bulk.add_argument("--rate-limit", type=float, help="requests per second at most (default: adaptive)")
    bulk.add_argument("--quiet", action="store_true", help="no progress line")
    bulk.add_argument("--db", type=Path, help="job store (SQLite file): record the run so it can be resumed; "
                                              "prints 'job <id>' first")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["sandbox"]:
        from .sandbox import main as sandbox_main

        return sandbox_main(argv[1:])
    if argv[:1] == ["bench"]:
        from .bench import main as bench_main

        return bench_main(argv[1:])
    if argv[:1] == ["jobs"]:
        from .cli_jobs import main as jobs_main

        return jobs_main(argv[1:])
    try:
        args = build_parser().parse_args(argv)
        settings = load_settings(overrides=_overrides(args))
        with _backend(settings, args.sandbox) as settings:
            if args.command == "ticket":
                return _ticket(args, settings)
            return _bulk(args, settings)
    except ConsoleError as exc:
        _say(f"error: {exc}")
        return 2
    except KeyboardInterrupt:
        _say("interrupted")
        return 130


def _overrides(args: argparse.Namespace) -> dict:
    return {
        "brand": args.brand,
        "channel_id": args.channel,
        "concurrency": getattr(args, "concurrency", None),
        "rate_limit": getattr(args, "rate_limit", None),
    }


@contextlib.contextmanager
def _backend(settings: Settings, use_sandbox: bool) -> Iterator[Settings]:
    if not use_sandbox:
        if not settings.is_live:
            raise ConsoleError(
                "no CommBox API key: set COMMBOX_API_URL and COMMBOX_API_KEY (environment or .env), "
                "or add --sandbox to run against the built-in sandbox"
            )
        yield settings
        return
    from .sandbox import SandboxConfig, SandboxServer

    config = SandboxConfig()
    with SandboxServer(config) as server:
        _say(f"sandbox running at {server.url}")
        yield settings.for_sandbox(server.url, config.api_key)


def _defaults(args: argparse.Namespace, settings: Settings) -> RowDefaults:
    return RowDefaults(
        brand=settings.brand,
        channel_id=settings.channel_id,
        one_time_use=args.one_time_use,
        override_user_info=args.override_user_info,
    )


def _ticket(args: argparse.Namespace, settings: Settings) -> int:
    kind = Kind(args.kind)
    fields = ("username", "email", "phone1", "uniqueId", "firstName", "lastName", "remark")
    values = {name: getattr(args, name) for name in fields}
    request, problems = build_request(values, kind, _defaults(args, settings))
    if request is None:
        raise ConsoleError(describe_problems(problems))
    client = CommBoxClient.from_settings(settings)
    try:
        result = issue_ticket(client, LinkBuilder(settings), request)
    finally:
        client.close()
    if args.db is not None:
        from .audit import CLI_USER, audit_ticket
        from .store import JobStore

        store = JobStore(args.db)
        audit_ticket(store, CLI_USER, settings.api_host, request, result)
        store.close()
    if not result.ok:
        _say(f"error ({result.error_code}): {result.error}")
        return 2 if result.error_code is ErrorCode.UNAUTHORIZED else 1
    print(result.url, flush=True)
    seconds = round((result.expires_at - datetime.now(UTC)).total_seconds())
    once = ", one use only" if request.oneTimeUse else ""
    _say(f"expires at {result.expires_at.isoformat(timespec='seconds')} (in {seconds} s{once})")
    return 0


def _bulk(args: argparse.Namespace, settings: Settings) -> int:
    from .csv_io import check_columns, match_columns, read_table
    from .prepare import prepare_rows

    kind = Kind(args.kind)
    data = _read_file(args.file, settings.max_upload_bytes)
    table = read_table(data, filename=args.file.name, max_bytes=settings.max_upload_bytes, max_rows=settings.max_rows)
    match = match_columns(table.columns, kind)
    check_columns(match, kind, default_brand=settings.brand)
    prepared = prepare_rows(table, match.mapping, kind, _defaults(args, settings))
    LinkBuilder(settings).check(kind)
    try:
        args.out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConsoleError(f"cannot create the output folder {args.out}: {exc.strerror}") from None

    show = sys.stderr.isatty() and not args.quiet
    if args.db is not None:
        from .cli_jobs import run_stored

        report = run_stored(args.db, settings, table, prepared, kind, data=data, show=show,
                            defaults=_defaults(args, settings), mapping=match.mapping)
    else:
        client = CommBoxClient.from_settings(settings)
        runner = BulkRunner(
            client, LinkBuilder(settings), concurrency=settings.concurrency, rate_limit=settings.rate_limit
        )
        report = _run_with_progress(runner, prepared, kind, show=show)
        client.close()
    return report_outcome(args.out, table, report)


def report_outcome(out: Path, table, report) -> int:
    """Write the result files, print their paths and a summary line; the exit code."""
    from .export import write_outputs

    paths = write_outputs(out, table, report)
    for path in paths.values():
        print(path)
    summary = report.summary()
    codes = ", ".join(f"{code} {n}" for code, n in summary["by_error_code"].items())
    _say(
        f"{summary['rows']} rows: {summary['succeeded']} succeeded, {summary['failed']} failed"
        + (f" ({codes})" if codes else "")
        + f" in {summary['duration_s']} s; results in {out}"
    )
    if report.stopped_reason == "unauthorized":
        _say("error: CommBox refused the API key (401); the run stopped and unsent rows are in errors.csv")
        return 2
    if report.stopped_reason == "unreachable":
        _say("error: CommBox could not be reached (check COMMBOX_API_URL and the network); the run stopped "
             "and unsent rows are in errors.csv")
        return 2
    if report.stopped_reason == "cancelled":
        return 130
    return 0 if summary["failed"] == 0 else 1


def _read_file(path: Path, max_bytes: int) -> bytes:
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise ConsoleError(
                f"{path} is {size / 1048576:.1f} MB; the limit is {max_bytes / 1048576:.0f} MB "
                "(COMMBOX_MAX_UPLOAD_MB): split the file"
            )
        return path.read_bytes()
    except FileNotFoundError:
        raise ConsoleError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ConsoleError(f"{path} is a folder, not a CSV file") from None
    except PermissionError:
        raise ConsoleError(f"{path}: permission denied") from None
    except OSError as exc:
        raise ConsoleError(f"{path}: cannot read ({exc.strerror})") from None


def _run_with_progress(runner: BulkRunner, prepared, kind: Kind, *, show: bool):
    holder: dict = {}
    thread = threading.Thread(target=lambda: holder.update(report=runner.run(prepared, kind)), daemon=True)
    thread.start()
    try:
        while thread.is_alive():
            thread.join(0.2)
            if show:
                _show_progress(runner)
    except KeyboardInterrupt:
        _say("\ncancelling: waiting for requests in flight…")
        runner.cancel()
        thread.join()
    if show:
        _show_progress(runner)
        sys.stderr.write("\n")
    return holder["report"]


def _show_progress(runner: BulkRunner) -> None:
    p = runner.progress()
    eta = f"  eta {p.eta_s:.0f} s" if p.eta_s is not None else ""
    sys.stderr.write(
        f"\r{p.done}/{p.total} rows  ok {p.ok}  failed {p.failed}  {p.rate:.1f} rows/s{eta}   "
    )
    sys.stderr.flush()


_TERMINAL_CONTROLS = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]")


def _say(message: str) -> None:
    """A line on stderr. Control characters from files or servers are shown escaped, so a
    file cannot retitle, clear or otherwise drive the user's terminal."""
    safe = _TERMINAL_CONTROLS.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), message)
    print(safe, file=sys.stderr, flush=True)
