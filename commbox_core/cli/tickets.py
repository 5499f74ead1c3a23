"""`bulk FILE --kind … --out DIR` and `ticket --kind …`: tickets for a file's rows, or for one person."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import click

from commbox_core.cli.output import (
    EXIT_CANCELLED,
    EXIT_FAILED_ROWS,
    EXIT_UNUSABLE,
    STORE,
    Choice,
    ConsoleCommand,
    acting_role,
    follow,
    say,
)
from commbox_core.errors import ConsoleError

KINDS = Choice(["agent", "customer"])
NO_LIVE_KEY = "no CommBox API key: set COMMBOX_API_URL and COMMBOX_API_KEY (environment or .env)"
NO_KEY = f"{NO_LIVE_KEY}, or add --sandbox to run against the built-in sandbox"


def run_options(command):
    """The options `bulk` and `ticket` share."""
    for option in reversed([
        click.option("--kind", type=KINDS, required=True, help="agent: console login; customer: chat link"),
        click.option("--brand", help="brand for rows without one (default: COMMBOX_BRAND)"),
        click.option("--channel", help="chat channel id for customer links (default: COMMBOX_CHANNEL_ID)"),
        click.option("--one-time-use", is_flag=True, help="tickets valid for one use only"),
        click.option("--override-user-info", is_flag=True, help="update the customer record"),
        click.option("--sandbox", "use_sandbox", is_flag=True, help="run against an in-process sandbox"),
    ]):
        command = option(command)
    return command


def invitation_options(command):
    """The options that turn tickets into invitation links (`bulk` and `ticket`)."""
    for option in reversed([
        click.option("--invitations", "--invitation", "invitations", is_flag=True,
                     help="issue invitation links, minted into a ticket when clicked (kept in the job store)"),
        click.option("--valid-for", default="7d", show_default=True, help="how long invitations wait: 90m, 72h, 7d, ..."),
        click.option("--reusable", is_flag=True, help="invitations work until they expire, not once"),
        click.option("--confirm-email", is_flag=True, help="agents confirm their e-mail on record before the ticket"),
    ]):
        command = option(command)
    return command


def invitation_choice(invitations: bool, valid_for: str, reusable: bool, confirm_email: bool):
    """InvitationOptions from the flags, or None for tickets."""
    if not invitations:
        if reusable or confirm_email:
            raise ConsoleError("--reusable and --confirm-email apply to invitations: add --invitations")
        return None
    from commbox_core.invitations.options import InvitationOptions, parse_validity

    return InvitationOptions(parse_validity(valid_for), single_use=not reusable, confirm_email=confirm_email)


@contextlib.contextmanager
def opened_console(*, brand, channel, use_sandbox: bool, db: Path | None, concurrency=None,
                   rate_limit=None, store: bool = False) -> Iterator:
    """The application service for one command: settings with the flags applied, on the tenant
    configured or on an in-process sandbox, with the job store when --db is given (or `store`:
    then the default one)."""
    from commbox_core.config.settings import load_settings
    from commbox_core.service.console import Console

    settings = load_settings(overrides={"brand": brand, "channel_id": channel, "concurrency": concurrency,
                                        "rate_limit": rate_limit})
    with chosen_backend(settings, use_sandbox) as settings:
        console = Console.open(settings, db=db, use_store=db is not None or store, role=acting_role())
        try:
            yield console
        finally:
            console.close()


@contextlib.contextmanager
def chosen_backend(settings, use_sandbox: bool):
    """The settings as given (they must hold an API key), or pointed at an in-process sandbox."""
    if not use_sandbox:
        if not settings.is_live:
            raise ConsoleError(NO_KEY)
        yield settings
        return
    from commbox_core.service.backends import sandboxed

    with sandboxed(settings) as (sandboxed_settings, url):
        say(f"sandbox running at {url}")
        yield sandboxed_settings


def row_defaults(settings, one_time_use: bool, override_user_info: bool):
    from commbox_core.tickets.request import RowDefaults

    return RowDefaults(brand=settings.brand, channel_id=settings.channel_id, one_time_use=one_time_use,
                       override_user_info=override_user_info)


@click.command(cls=ConsoleCommand)
@click.argument("file", type=click.Path(path_type=Path))
@run_options
@click.option("--out", type=click.Path(path_type=Path), required=True, help="folder for success.csv, errors.csv, ...")
@click.option("--concurrency", type=int, help="requests in flight at once (default 8)")
@click.option("--rate-limit", type=float, help="requests per second at most (default: adaptive)")
@click.option("--quiet", is_flag=True, help="no progress bar")
@click.option("--db", type=STORE, help="job store (a SQLite file or a postgresql:// URL): record the run so it "
              "can be resumed; prints 'job <id>' first")
@click.option("--sheet", help="the worksheet to read, when FILE is an Excel workbook (default: the first)")
@invitation_options
def bulk(file, kind, brand, channel, one_time_use, override_user_info, use_sandbox, out, concurrency, rate_limit,
         quiet, db, sheet, invitations, valid_for, reusable, confirm_email) -> int:
    """Mint a ticket (or, with --invitations, an invitation link) for every row of a CSV file or an
    Excel workbook (.xlsx); write success.csv, errors.csv, results.xlsx, summary.json."""
    from commbox_core.fields import Kind
    from commbox_core.outputs.lines import workbook_stream
    from commbox_core.tickets.plan import RunPlan

    kind = Kind(kind)
    options = invitation_choice(invitations, valid_for, reusable, confirm_email)
    with opened_console(brand=brand, channel=channel, use_sandbox=use_sandbox, db=db, concurrency=concurrency,
                        rate_limit=rate_limit, store=options is not None) as console:
        upload = console.read_file(file, sheet)
        plan = RunPlan(console.match_columns(upload.table, kind).mapping,
                       row_defaults(console.settings, one_time_use, override_user_info))
        prepared = console.prepare(upload.table, kind, plan)
        make_folder(out)
        # Tickets: results.xlsx is written as rows land. Invitations take a moment: it waits.
        workbook = workbook_stream(upload.table, [p.row for p in prepared]) if options is None else None
        job = console.start_run(upload.table, prepared, kind, plan, source_sha256=upload.sha256,
                                listeners=[workbook.add] if workbook else [], invitations=options)
        if db is not None or options is not None:
            print(f"job {job.id}", flush=True)
        job.wait_for_first_request()
        load_output_libraries()
        follow(job, show=sys.stderr.isatty() and not quiet)
        return report_outcome(out, job.table, finished_report(job), workbook)


@click.command(cls=ConsoleCommand)
@run_options
@click.option("--username")
@click.option("--email")
@click.option("--phone", "phone1")
@click.option("--unique-id", "uniqueId")
@click.option("--first-name", "firstName")
@click.option("--last-name", "lastName")
@click.option("--remark")
@click.option("--db", type=STORE, help="job store (a SQLite file or a postgresql:// URL) whose audit log records the ticket")
@invitation_options
def ticket(kind, brand, channel, one_time_use, override_user_info, use_sandbox, db, invitations, valid_for, reusable,
           confirm_email, **values) -> int:
    """Mint one ticket (or, with --invitation, an invitation link) and print its URL (its expiry
    goes to stderr)."""
    from commbox_core.fields import Kind
    from commbox_core.tickets.request import build_request, describe_problems
    from commbox_core.vocabulary import ErrorCode

    kind = Kind(kind)
    options = invitation_choice(invitations, valid_for, reusable, confirm_email)
    with opened_console(brand=brand, channel=channel, use_sandbox=use_sandbox, db=db,
                        store=options is not None) as console:
        request, problems = build_request(values, kind, row_defaults(console.settings, one_time_use,
                                                                     override_user_info))
        if request is None:
            raise ConsoleError(describe_problems(problems))
        if options is not None:
            result = console.invitations.issue_one(request, options)
            print(result.url, flush=True)
            say(f"invitation {result.invitation_id}, valid until {result.expires_at.isoformat(timespec='seconds')}")
            return 0
        result = console.issue_ticket(request)
    if not result.ok:
        say(f"error ({result.error_code}): {result.error}")
        return EXIT_UNUSABLE if result.error_code is ErrorCode.UNAUTHORIZED else EXIT_FAILED_ROWS
    print(result.url, flush=True)
    seconds = round((result.expires_at - datetime.now(UTC)).total_seconds())
    once = ", one use only" if request.oneTimeUse else ""
    say(f"expires at {result.expires_at.isoformat(timespec='seconds')} (in {seconds} s{once})")
    return 0


def load_output_libraries() -> None:
    """Import the result files' code (pandas: 0.4 s) once the first requests are in flight: the
    run needs none of it, the files at its end all of it."""
    import commbox_core.outputs.files  # noqa: F401


def make_folder(out: Path) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConsoleError(f"cannot create the output folder {out}: {exc.strerror}") from None


def finished_report(job):
    if job.report is None:
        raise ConsoleError(job.error or "the run stopped unexpectedly")
    return job.report


def report_outcome(out: Path, table, report, workbook=None) -> int:
    """Write the result files (results.xlsx from `workbook` when the run wrote one as it went),
    print their paths and a summary line; the exit code."""
    from commbox_core.outputs.files import write_outputs
    from commbox_core.vocabulary import StopReason

    for path in write_outputs(out, table, report, workbook).values():
        print(path)
    summary = report.summary()
    codes = ", ".join(f"{code} {n}" for code, n in summary["by_error_code"].items())
    say(
        f"{summary['rows']} rows: {summary['succeeded']} succeeded, {summary['failed']} failed"
        + (f" ({codes})" if codes else "")
        + f" in {summary['duration_s']} s; results in {out}"
    )
    if report.stopped_reason is StopReason.UNAUTHORIZED:
        say("error: CommBox refused the API key (401); the run stopped and unsent rows are in errors.csv")
        return EXIT_UNUSABLE
    if report.stopped_reason is StopReason.UNREACHABLE:
        say("error: CommBox could not be reached (check COMMBOX_API_URL and the network); the run stopped "
            "and unsent rows are in errors.csv")
        return EXIT_UNUSABLE
    if report.stopped_reason is StopReason.CANCELLED:
        return EXIT_CANCELLED
    return 0 if summary["failed"] == 0 else EXIT_FAILED_ROWS
