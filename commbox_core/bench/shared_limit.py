"""Two servers, one tenant: two `bulk` processes start together against one rate limit neither is
told, each finding it on its own (nothing is shared between them yet). Their rows together over
the time from the first start to the last exit, as a share of the limit, and the share of
requests answered 429."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

from commbox_core.bench.end_to_end import bulk_environment, rows_in, write_customers
from commbox_core.bench.network import CONCURRENCY, Sizes
from commbox_core.bench.report import Finding
from commbox_core.bench.sandbox_process import SandboxProcess

SERVERS = 2


def shared_limit(sizes: Sizes) -> list[Finding]:
    limit, count = sizes.throttle_rps, sizes.throttle_rows
    with SandboxProcess(rate_limit=limit) as sandbox, tempfile.TemporaryDirectory(prefix="commbox-shared-") as folder:
        commands = []
        for server in range(SERVERS):
            source = Path(folder) / f"server{server}.csv"
            write_customers(source, f"sh{server}-", count)
            commands.append([sys.executable, "-m", "commbox_core", "bulk", str(source), "--kind", "customer",
                             "--concurrency", str(CONCURRENCY), "--out", str(Path(folder) / f"out{server}"), "--quiet"])
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
    return [Finding(
        "shared-limit", f"{SERVERS} `bulk` processes of {count} customers at once against one {limit:g} req/s limit "
        "neither was told: their rows together over the limit", f"{share:.3f} of the limit, {refused:.1%} 429s",
        ">= 0.9, < 3 %", share >= 0.9 and refused < 0.03 and complete,
        f"{seconds:.2f} s from the first start to the last exit; {stats['ticket_requests']} requests, "
        f"{stats['responses'].get('429', 0)} answered 429; {'all rows ok' if complete else 'NOT all rows ok'}")]
