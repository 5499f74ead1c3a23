"""`python -m commbox_core worker [--db PATH|URL] [--every S] [--once]`: finish the runs whose
server is gone (see service/takeover.py). Run one or more next to the dashboards, on the store
they share."""

from __future__ import annotations

import time

import click

from commbox_core.cli.output import STORE, STORE_HELP, ConsoleCommand, acting_role, say
from commbox_core.cli.tickets import NO_LIVE_KEY
from commbox_core.errors import ConsoleError

WORKER_USER = "worker"  # the audit log's user for the rows a worker sends


@click.command(cls=ConsoleCommand)
@click.option("--db", type=STORE, help=STORE_HELP)
@click.option("--every", type=click.FloatRange(min=0.1), default=2.0, show_default=True,
              help="seconds between looks for runs to take over")
@click.option("--once", is_flag=True, help="look once, finish the runs taken over, and exit")
def worker(db, every: float, once: bool) -> int:
    """Take over runs whose server is gone (its lease of COMMBOX_LEASE_SECONDS lapsed, or its
    process died on this host) and finish them: rows never answered and rows in doubt are sent,
    answered rows never again. Exit codes: 0 stopped by Ctrl-C or done (--once); 2 no API key
    or no store."""
    from commbox_core.config.settings import load_settings
    from commbox_core.service.console import Console
    from commbox_core.service.takeover import Takeover

    settings = load_settings()
    if not settings.is_live:
        raise ConsoleError(f"{NO_LIVE_KEY} for the tenant whose runs it finishes")
    console = Console.open(settings, db=db, user=WORKER_USER, role=acting_role())
    say(f"worker on {console.store.location}: taking over runs whose server is gone "
        f"(lease {settings.lease_seconds:g} s) | Ctrl-C to stop")
    takeover = Takeover(console, say=say)
    running = []
    try:
        while True:
            running = [job for job in running if not _reported(job)] + takeover.sweep()
            if once:
                for job in running:
                    job.wait()
                    _reported(job)
                return 0
            time.sleep(every)
    except KeyboardInterrupt:
        say("worker stopped; its unfinished runs go to another worker once their lease lapses")
        return 0
    finally:
        console.close()


def _reported(job) -> bool:
    """True once the job has ended (said on stderr)."""
    if not job.finished:
        return False
    total, succeeded, failed = job.counts()
    say(f"job {job.id} {job.status}: {total} rows, {succeeded} succeeded, {failed} failed")
    return True
