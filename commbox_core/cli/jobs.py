"""`jobs [--db PATH|URL] list | show ID | cancel ID | resume ID --out DIR | reissue ID --out DIR | export ID --out DIR`,
and `jobs migrate --from PATH|URL --to URL` (a whole store into an empty other).

Runs recorded in the job store (--db: a SQLite file or a postgresql:// URL). Tokens are
never stored, so exported files carry links only for rows issued by the same command.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from commbox_core.cli.output import STORE, STORE_HELP, ConsoleCommand, acting_role, follow, say
from commbox_core.cli.tickets import NO_LIVE_KEY, finished_report, make_folder, report_outcome
from commbox_core.errors import ConsoleError



def db_option(command):
    """--db is taken after the action too (`jobs list --db X`); one given before it still counts."""
    return click.option("--db", "action_db", type=STORE, help=STORE_HELP)(command)


def console_for(ctx: click.Context, action_db: Path | None):
    from commbox_core.config.settings import load_settings
    from commbox_core.service.console import Console

    settings = load_settings()
    console = Console.open(settings, db=action_db or ctx.obj, role=acting_role())
    ctx.call_on_close(console.close)  # opening it marked runs whose process is gone as interrupted
    return console


@click.group()
@click.option("--db", type=STORE, help=STORE_HELP)
@click.pass_context
def jobs(ctx: click.Context, db: Path | None) -> None:
    """Runs recorded in the job store."""
    ctx.obj = db


@jobs.command("list", cls=ConsoleCommand)
@click.option("--limit", type=int, default=50, show_default=True)
@db_option
@click.pass_context
def list_jobs(ctx, limit: int, action_db) -> int:
    """The newest runs, newest first."""
    stored = console_for(ctx, action_db).history(limit)
    if not stored:
        print("no jobs")
        return 0
    print(f"{'job':<12}  {'started (UTC)':<19}  {'status':<11}  {'kind':<8}  {'rows':>6}  {'ok':>6}  "
          f"{'failed':>6}  {'unsent':>6}  {'doubt':>6}  file")
    for job in stored:
        print(f"{job.id:<12}  {job.created_at:%Y-%m-%d %H:%M:%S}  {job.status:<11}  {job.kind:<8}  {job.total:>6}  "
              f"{job.succeeded:>6}  {job.failed:>6}  {job.unanswered:>6}  {job.in_doubt:>6}  {job.source_name}")
    return 0


@jobs.command(cls=ConsoleCommand)
@click.argument("job_id", metavar="JOB")
@db_option
@click.pass_context
def show(ctx, job_id: str, action_db) -> int:
    """One run: status, counts, what resume would send."""
    console = console_for(ctx, action_db)
    job, rows = console.stored_run(job_id)
    codes: dict[str, int] = {}
    for row in rows:
        if row.outcome == "failed":
            codes[row.error_code or "?"] = codes.get(row.error_code or "?", 0) + 1
    lines = {
        "job": job.id, "status": job.status, "kind": job.kind, "purpose": job.purpose,
        "follows up": job.parent_id or "", "file": job.source_name, "sha256": job.source_sha256,
        "tenant": job.tenant_host, "started by": job.started_by, "started at": job.created_at.isoformat(),
        "finished at": job.finished_at.isoformat() if job.finished_at else "",
        "owner": f"pid {job.owner_pid} on {job.owner_host}", "options": job.options,
        "rows": job.total, "succeeded": job.succeeded, "failed": job.failed, "never answered": job.unanswered,
        "in doubt": f"{job.in_doubt} (sent, or about to be, when a server of the run stopped, no answer recorded; "
                    "resume sends them again)" if job.in_doubt else "0",
        "failed by code": ", ".join(f"{code} {n}" for code, n in sorted(codes.items())) or "none",
        "resume would send": sum(1 for row in rows if row.needs_sending),
        "personal data purged": job.pii_purged_at.isoformat() if job.pii_purged_at else "no",
    }
    for name, value in lines.items():
        print(f"{name + ':':<22} {value}")
    return 0


@jobs.command(cls=ConsoleCommand)
@click.argument("job_id", metavar="JOB")
@db_option
@click.pass_context
def cancel(ctx, job_id: str, action_db) -> int:
    """Cancel a running run, whichever server runs it (they share the store): it stops within a
    second or two; its unsent rows are listed as not_attempted."""
    console_for(ctx, action_db).cancel(job_id)
    say(f"asked to cancel job {job_id}")
    return 0


def _out_option(command):
    return click.option("--out", type=click.Path(path_type=Path), required=True,
                        help="folder for success.csv, errors.csv, ...")(command)


@jobs.command(cls=ConsoleCommand)
@click.argument("job_id", metavar="JOB")
@_out_option
@db_option
@click.pass_context
def export(ctx, job_id: str, out: Path, action_db) -> int:
    """Write the result files from the store (no links: tokens are never stored)."""
    table, report = console_for(ctx, action_db).stored_report(job_id)
    make_folder(out)
    return report_outcome(out, table, report)


def _send_again(name: str, text: str):
    @jobs.command(name, cls=ConsoleCommand, help=text)
    @click.argument("job_id", metavar="JOB")
    @_out_option
    @click.option("--quiet", is_flag=True, help="no progress bar")
    @db_option
    @click.pass_context
    def send(ctx, job_id: str, out: Path, quiet: bool, action_db) -> int:
        console = console_for(ctx, action_db)
        if not console.settings.is_live:
            raise ConsoleError(f"{NO_LIVE_KEY} for the tenant the run was sent to")
        job = console.resume(job_id) if name == "resume" else console.reissue_lost(job_id)
        print(f"job {job.id}", flush=True)
        if job.in_doubt_resent:
            from commbox_core.outputs.wording import counted

            say(f"{counted(job.in_doubt_resent, 'row')} in doubt (sent, or about to be, when the run's server stopped, "
                "no answer recorded) sent again")
        follow(job, show=sys.stderr.isatty() and not quiet)
        make_folder(out)
        return report_outcome(out, job.table, finished_report(job))

    return send


resume = _send_again("resume", "Send the rows never answered or that failed in a retryable way; write the result files.")
reissue = _send_again("reissue", "New tickets for the rows whose links were lost with the process that issued them.")


@jobs.command(cls=ConsoleCommand)
@click.option("--from", "source", type=STORE, required=True, help="the store to copy (a SQLite file or a URL)")
@click.option("--to", "target", type=STORE, required=True, help="an empty store to copy it into (e.g. postgresql://…)")
def migrate(source, target) -> int:
    """Copy every run, row, invitation and audit entry into an empty store, then check the copy
    row for row. The source is brought to the current schema first; nothing in it is removed."""
    from commbox_core.service.stores import copy_job_store

    shown_from, shown_to, copied = copy_job_store(source, target)
    said = ", ".join(f"{n:,} {table}" for table, n in copied.items())
    say(f"copied {said} from {shown_from} to {shown_to}; checked row for row")
    return 0
