"""python -m commbox_core jobs list | show | resume | reissue | export  (and `bulk --db`)

Jobs live in the job store (--db, default <COMMBOX_DATA_DIR>/console.sqlite3). Tokens are
never stored, so exported files carry links only for rows issued by the same command.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path

from .audit import CLI_USER
from .errors import ConsoleError
from .fields import Kind
from .job_records import plan_record, rebuild_prepared, rebuild_table, sha256_of
from .jobs import Job, JobManager
from .results import RunReport
from .settings import Settings, load_settings
from .store import STORE_FILENAME, JobStore, StoredJob, default_store_path


def build_parser() -> argparse.ArgumentParser:
    from .cli import PROG, _Parser

    db_help = f"job store file (default: <COMMBOX_DATA_DIR>/{STORE_FILENAME})"
    parser = _Parser(prog=f"{PROG} jobs", description="Runs recorded in the job store.")
    parser.add_argument("--db", type=Path, help=db_help)
    # --db is taken after the action too (jobs list --db X); SUPPRESS keeps one given before it.
    common = _Parser(add_help=False)
    common.add_argument("--db", type=Path, default=argparse.SUPPRESS, help=db_help)
    commands = parser.add_subparsers(dest="action", required=True, parser_class=_Parser)
    listing = commands.add_parser("list", help="the newest runs, newest first", parents=[common])
    listing.add_argument("--limit", type=int, default=50)
    commands.add_parser("show", help="one run: status, counts, what resume would send",
                        parents=[common]).add_argument("job")
    for name, text in (
        ("resume", "send the rows never answered or that failed in a retryable way; write the result files"),
        ("reissue", "new tickets for the rows whose links were lost with the process that issued them"),
        ("export", "write the result files from the store (no links: tokens are never stored)"),
    ):
        action = commands.add_parser(name, help=text, parents=[common])
        action.add_argument("job")
        action.add_argument("--out", type=Path, required=True, help="folder for success.csv, errors.csv, ...")
        if name != "export":
            action.add_argument("--quiet", action="store_true", help="no progress line")
    return parser


def main(argv: list[str]) -> int:
    from .cli import _say

    try:
        args = build_parser().parse_args(argv)
        settings = load_settings()
        store = JobStore(args.db or default_store_path(settings))
        store.mark_interrupted()
        store.apply_retention(settings.retention_days)
        if args.action == "list":
            return _list(store, args.limit)
        if args.action == "show":
            return _show(store, args.job)
        if args.action == "export":
            return _export(store, args.job, args.out)
        return _send_again(store, settings, args)
    except ConsoleError as exc:
        _say(f"error: {exc}")
        return 2
    except KeyboardInterrupt:
        _say("interrupted")
        return 130


def run_stored(db: Path, settings: Settings, table, prepared, kind: Kind, *, data: bytes, show: bool,
               defaults, mapping) -> RunReport:
    """`bulk --db`: the run is a stored job; its id is the first line of stdout."""
    manager = JobManager(JobStore(db))
    job = manager.start(
        settings, table, prepared, kind, source_name=table.filename, started_by=CLI_USER,
        source_sha256=sha256_of(data), plan=plan_record(mapping, defaults),
    )
    print(f"job {job.id}", flush=True)
    return _follow(job, show)


def _follow(job: Job, show: bool) -> RunReport:
    from .cli import _say, _show_progress

    try:
        while not job.wait(0.2):
            if show:
                _show_progress(job.runner)
    except KeyboardInterrupt:
        _say("\ncancelling: waiting for requests in flight…")
        job.cancel()
        job.wait()
    if show:
        _show_progress(job.runner)
        sys.stderr.write("\n")
    if job.report is None:
        raise ConsoleError(job.error or "the run stopped unexpectedly")
    return job.report


def _list(store: JobStore, limit: int) -> int:
    jobs = store.jobs(limit)
    if not jobs:
        print("no jobs")
        return 0
    print(f"{'job':<12}  {'started (UTC)':<19}  {'status':<11}  {'kind':<8}  {'rows':>6}  {'ok':>6}  "
          f"{'failed':>6}  {'unsent':>6}  file")
    for job in jobs:
        print(f"{job.id:<12}  {job.created_at:%Y-%m-%d %H:%M:%S}  {job.status:<11}  {job.kind:<8}  {job.total:>6}  "
              f"{job.succeeded:>6}  {job.failed:>6}  {job.unanswered:>6}  {job.source_name}")
    return 0


def _show(store: JobStore, job_id: str) -> int:
    job = store.job(job_id)
    rows = store.rows(job_id)
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
        "failed by code": ", ".join(f"{code} {n}" for code, n in sorted(codes.items())) or "none",
        "resume would send": sum(1 for row in rows if row.needs_sending),
        "personal data purged": job.pii_purged_at.isoformat() if job.pii_purged_at else "no",
    }
    for name, value in lines.items():
        print(f"{name + ':':<22} {value}")
    return 0


def _export(store: JobStore, job_id: str, out: Path) -> int:
    from .cli import report_outcome

    job = store.job(job_id)
    rows = store.rows(job_id)
    report = RunReport(
        kind=Kind(job.kind), results=[row.result() for row in rows], started_at=job.created_at,
        finished_at=job.finished_at or datetime.now(UTC), requests_sent=sum(row.attempts for row in rows),
        stopped_reason={"done": None, "stopped": "unauthorized"}.get(job.status, job.status),
    )
    return report_outcome(out, rebuild_table(job, rows), report)


def _send_again(store: JobStore, settings: Settings, args: argparse.Namespace) -> int:
    from .cli import report_outcome

    if not settings.is_live:
        raise ConsoleError("no CommBox API key: set COMMBOX_API_URL and COMMBOX_API_KEY (environment or .env) "
                           "for the tenant the run was sent to")
    manager = JobManager(store)
    show = sys.stderr.isatty() and not args.quiet
    if args.action == "resume":
        job = manager.resume(args.job, settings, started_by=CLI_USER)
    else:
        job = reissue_stored(manager, store.job(args.job), settings, CLI_USER)
    print(f"job {job.id}", flush=True)
    report = _follow(job, show)
    return report_outcome(args.out, job.table, report)


def reissue_stored(manager: JobManager, stored: StoredJob, settings: Settings, user: str) -> Job:
    """A new run for the rows of a stored run that got a ticket: their links were never kept."""
    rows = manager.store.rows(stored.id)
    lost = {row.row for row in rows if row.outcome == "ok"}
    if not lost:
        raise ConsoleError(f"job {stored.id} has no rows with a ticket to re-issue")
    prepared = [p for p in rebuild_prepared(stored, rows) if p.row in lost and p.request is not None]
    return manager.start(
        settings, rebuild_table(stored, rows), prepared, Kind(stored.kind), source_name=stored.source_name,
        started_by=user, parent_id=stored.id, purpose="reissue", source_sha256=stored.source_sha256,
        plan=stored.plan,
    )

