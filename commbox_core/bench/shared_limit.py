"""Two servers, one tenant: two `bulk` processes start together against one rate limit neither is
told. Measured twice in one run: each on a store of its own (nothing shared: each finds the limit
alone) and both on one PostgreSQL (they share the tenant's rate and cuts through it). Their rows
together over the time from the first start to the last exit, as a share of the limit, and the
share of requests answered 429."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

from commbox_core.bench.end_to_end import bulk_environment, rows_in, write_customers
from commbox_core.bench.network import CONCURRENCY, Sizes
from commbox_core.bench.postgres import PostgresServer
from commbox_core.bench.report import Finding
from commbox_core.service.sandbox_process import SandboxProcess

SERVERS = 2


def shared_limit(sizes: Sizes) -> list[Finding]:
    limit, count = sizes.throttle_rps, sizes.throttle_rows
    with PostgresServer() as postgres:
        alone = _two_servers(limit, count, lambda folder, server: str(Path(folder) / f"server{server}.sqlite3"))
        shared_url = postgres.new_database()
        shared = _two_servers(limit, count, lambda folder, server: shared_url)
    findings = []
    for label, (share, refused, complete, details) in (("a store each (nothing shared)", alone),
                                                       ("one PostgreSQL (limit shared)", shared)):
        findings.append(Finding(
            "shared-limit", f"{SERVERS} `bulk` processes of {count} customers at once against one {limit:g} req/s "
            f"limit neither was told, {label}: their rows together over the limit",
            f"{share:.3f} of the limit, {refused:.1%} 429s", ">= 0.9, < 3 %",
            share >= 0.9 and refused < 0.03 and complete, details))
    return findings


def _two_servers(limit: float, count: int, store_of) -> tuple[float, float, bool, str]:
    with SandboxProcess(rate_limit=limit) as sandbox, tempfile.TemporaryDirectory(prefix="commbox-shared-") as folder:
        commands = []
        for server in range(SERVERS):
            source = Path(folder) / f"server{server}.csv"
            write_customers(source, f"sh{server}-", count)
            commands.append([sys.executable, "-m", "commbox_core", "bulk", str(source), "--kind", "customer",
                             "--concurrency", str(CONCURRENCY), "--out", str(Path(folder) / f"out{server}"), "--quiet",
                             "--db", store_of(folder, server)])
        started = time.perf_counter()
        processes = [subprocess.Popen(command, env=bulk_environment(sandbox, folder), stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL) for command in commands]
        ended = [process.wait(600) for process in processes]
        seconds = time.perf_counter() - started
        succeeded = sum(rows_in(Path(folder) / f"out{server}" / "success.csv") for server in range(SERVERS))
        stats = sandbox.stats()
    share = SERVERS * count / seconds / limit
    refused = stats["responses"].get("429", 0) / max(1, stats["ticket_requests"])
    complete = succeeded == SERVERS * count and not any(ended)
    details = (f"{seconds:.2f} s from the first start to the last exit; {stats['ticket_requests']} requests, "
               f"{stats['responses'].get('429', 0)} answered 429; {'all rows ok' if complete else 'NOT all rows ok'}")
    return share, refused, complete, details
