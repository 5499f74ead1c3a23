"""What a user times: `python -m commbox_core bulk FILE --out DIR` as a process of its own, from
its start to its exit with every result file written (start-up, reading, the run, the outputs),
against a sandbox in another process. Compared with a sequential requests loop measured in the
same run (latency) and with the rate limit's floor (throttle)."""

from __future__ import annotations

import csv
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from commbox_core.bench.network import CONCURRENCY, Sizes, payloads, sequential_loop
from commbox_core.bench.report import Finding
from commbox_core.service.sandbox_process import SandboxProcess, child_environment

FILES = ("success.csv", "errors.csv", "results.xlsx", "summary.json")


def end_to_end(sizes: Sizes) -> list[Finding]:
    return [_latency(sizes), _throttle(sizes)]


def _latency(sizes: Sizes) -> Finding:
    with SandboxProcess(latency_ms=50) as sandbox:
        baseline = sequential_loop(sandbox, payloads("e2e-seq", sizes.baseline_rows))
        runs = [_bulk(sandbox, f"e2e-lat{run}-", sizes.latency_rows) for run in range(sizes.repeats)]
    best = min(seconds for seconds, _ in runs)
    speedup = sizes.latency_rows / best / baseline
    complete = all(ok for _, ok in runs)
    return Finding(
        "end-to-end", f"`bulk` of {sizes.latency_rows} customers as a process, {CONCURRENCY} in flight, 50 ms each, "
        "over a sequential requests loop", f"{speedup:.1f}x", ">= 28x", speedup >= 28 and complete,
        f"sequential {baseline:.1f} rows/s; bulk process, start to exit with 4 files: "
        + ", ".join(f"{seconds:.2f} s ({'all rows ok' if ok else 'NOT all rows ok'})" for seconds, ok in runs),
    )


def _throttle(sizes: Sizes) -> Finding:
    limit, count = sizes.throttle_rps, sizes.throttle_rows
    with SandboxProcess(rate_limit=limit) as sandbox:
        seconds, ok = _bulk(sandbox, "e2e-thr-", count)
    floor = count / limit
    share = seconds / floor
    return Finding(
        "end-to-end", f"`bulk` of {count} customers as a process against a {limit:g} req/s limit it was not told, "
        "over the limit's floor", f"{share:.3f} of the floor", "<= 1.05", share <= 1.05 and ok,
        f"{seconds:.2f} s start to exit (floor {floor:.1f} s), {'all rows ok' if ok else 'NOT all rows ok'}",
    )


def _bulk(sandbox: SandboxProcess, prefix: str, count: int) -> tuple[float, bool]:
    """Seconds from the process's start to its exit, and whether every row got a ticket and
    every file was written."""
    with tempfile.TemporaryDirectory(prefix="commbox-e2e-") as folder:
        source, out = Path(folder) / "customers.csv", Path(folder) / "out"
        write_customers(source, prefix, count)
        command = [sys.executable, "-m", "commbox_core", "bulk", str(source), "--kind", "customer",
                   "--concurrency", str(CONCURRENCY), "--out", str(out), "--quiet"]
        started = time.perf_counter()
        done = subprocess.run(command, env=bulk_environment(sandbox, folder), capture_output=True, text=True,
                              timeout=600)
        seconds = time.perf_counter() - started
        written = all((out / name).is_file() for name in FILES)
        succeeded = rows_in(out / "success.csv") if written else 0
    return seconds, done.returncode == 0 and written and succeeded == count


def rows_in(path: Path) -> int:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return sum(1 for _ in csv.DictReader(handle))


def write_customers(path: Path, prefix: str, count: int) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["uniqueId", "firstName", "email", "phone1"])
        for n in range(1, count + 1):
            writer.writerow([f"{prefix}{n:06d}", f"Person {n}", f"{prefix}{n}@example.com", f"+44 20 7946 {n % 10000:04d}"])


def bulk_environment(sandbox: SandboxProcess, folder: str) -> dict[str, str]:
    clean = {name: value for name, value in child_environment().items() if not name.startswith("COMMBOX_")}
    return clean | {
        "COMMBOX_API_URL": sandbox.url, "COMMBOX_API_KEY": sandbox.api_key, "COMMBOX_LOGIN_URL": f"{sandbox.url}/login",
        "COMMBOX_CHAT_URL": sandbox.url, "COMMBOX_BRAND": "demo", "COMMBOX_CHANNEL_ID": "demo-channel",
        "COMMBOX_DATA_DIR": folder,
    }
