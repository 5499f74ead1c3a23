"""The three HTTP scenarios: latency-bound, throttle-bound and CPU-bound, each against its own sandbox."""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass

import requests

from commbox_core.api.client import CommBoxClient
from commbox_core.bench.report import Finding
from commbox_core.service.sandbox_process import SandboxProcess
from commbox_core.config.settings import load_settings
from commbox_core.fields import Kind
from commbox_core.runs.runner import BulkRunner
from commbox_core.tickets.links import LinkBuilder
from commbox_core.tickets.prepare import PreparedRow
from commbox_core.tickets.request import RowDefaults, build_request

CONCURRENCY = 32
_DEFAULTS = RowDefaults(brand="demo", channel_id="demo-channel")


@dataclass(frozen=True)
class Sizes:
    baseline_rows: int  # the sequential loop of the latency scenario
    latency_rows: int
    throttle_rows: int
    throttle_rps: float
    cpu_rows: int
    repeats: int  # runs of each side of a comparison; the best counts


FULL = Sizes(baseline_rows=250, latency_rows=4000, throttle_rows=1000, throttle_rps=100, cpu_rows=4000, repeats=2)
QUICK = Sizes(baseline_rows=10, latency_rows=64, throttle_rows=60, throttle_rps=50, cpu_rows=100, repeats=1)


@dataclass(frozen=True)
class RunnerRun:
    rows: int
    seconds: float
    succeeded: int
    requests_sent: int

    @property
    def rate(self) -> float:
        return self.rows / self.seconds


def latency_bound(sizes: Sizes) -> Finding:
    """50 ms per request: a sequential loop against the runner at concurrency 32."""
    with SandboxProcess(latency_ms=50) as sandbox:
        baseline = sequential_loop(sandbox, payloads("seq", sizes.baseline_rows))
        runs = [run_runner(sandbox, rows("lat", sizes.latency_rows, run)) for run in range(sizes.repeats)]
    best = max(runs, key=lambda run: run.rate)
    speedup = best.rate / baseline
    complete = all(run.succeeded == run.rows for run in runs)
    return Finding(
        "latency", f"speedup over a sequential requests loop, {CONCURRENCY} in flight, 50 ms each",
        f"{speedup:.1f}x", ">= 28x (ideal 32x)", speedup >= 28 and complete,
        f"sequential {baseline:.1f} rows/s on {sizes.baseline_rows} rows; runner "
        + ", ".join(f"{run.rate:.0f} rows/s ({run.succeeded}/{run.rows} ok, {run.seconds:.2f} s)" for run in runs),
    )


def throttle_bound(sizes: Sizes) -> Finding:
    """A rate limit the runner is not told: it must find it, and sit right under it."""
    limit = sizes.throttle_rps
    with SandboxProcess(rate_limit=limit) as sandbox:
        run = run_runner(sandbox, rows("thr", sizes.throttle_rows))
        stats = sandbox.stats()
    refused = stats["responses"].get("429", 0)
    share = refused / max(1, stats["ticket_requests"])
    of_limit = run.rate / limit
    passed = of_limit >= 0.95 and run.succeeded == run.rows and share < 0.02
    return Finding(
        "throttle", f"rate against a {limit:g} req/s limit it was not told",
        f"{of_limit:.3f} of the limit, {share:.1%} 429s", ">= 0.95, every row, < 2% 429s", passed,
        f"{run.rows} rows in {run.seconds:.2f} s (floor {run.rows / limit:.1f} s), {run.succeeded} succeeded, "
        f"{stats['ticket_requests']} requests, {refused} answered 429",
    )


def cpu_bound(sizes: Sizes) -> Finding:
    """No latency: what the runner costs over a bare requests loop with as many threads."""
    bare_rates, runs = [], []
    with SandboxProcess() as sandbox:
        for repeat in range(sizes.repeats):  # interleaved, so a busy moment hurts both sides alike
            bare_rates.append(bare_loop(sandbox, payloads(f"bare{repeat}-", sizes.cpu_rows), CONCURRENCY))
            runs.append(run_runner(sandbox, rows("cpu", sizes.cpu_rows, repeat)))
            sandbox.reset()  # the sandbox's memory of earlier tickets must not slow later runs
    best = max(runs, key=lambda run: run.rate)
    ratio = best.rate / max(bare_rates)
    complete = all(run.succeeded == run.rows for run in runs)
    return Finding(
        "cpu", f"runner's throughput over a bare loop of {CONCURRENCY} threads, 0 ms latency",
        f"{ratio:.2f}", ">= 0.9", ratio >= 0.9 and complete,
        "bare loop " + ", ".join(f"{rate:.0f}" for rate in bare_rates) + " rows/s; runner "
        + ", ".join(f"{run.rate:.0f} rows/s ({run.succeeded}/{run.rows} ok)" for run in runs),
    )


# ---- the two sides of each comparison -----------------------------------------------------


def rows(prefix: str, count: int, run: int = 0) -> list[PreparedRow]:
    """Customers with ids never sent before (the sandbox keeps a record of each)."""
    prepared = []
    for number in range(1, count + 1):
        request, _ = build_request({"uniqueId": f"{prefix}{run}-{number}"}, Kind.CUSTOMER, _DEFAULTS)
        prepared.append(PreparedRow(number, request))
    return prepared


def payloads(prefix: str, count: int) -> list[dict]:
    return [row.request.payload() for row in rows(prefix, count)]


def run_runner(sandbox: SandboxProcess, prepared: list[PreparedRow]) -> RunnerRun:
    """The product: BulkRunner with the settings a user gets, at concurrency 32, no rate given."""
    settings = load_settings(environ={}, dotenv_path=None).for_sandbox(sandbox.url, sandbox.api_key)
    client = CommBoxClient.from_settings(settings)
    runner = BulkRunner(client, LinkBuilder(settings), concurrency=CONCURRENCY)
    started = time.perf_counter()
    report = runner.run(prepared, Kind.CUSTOMER)
    seconds = time.perf_counter() - started
    client.close()
    return RunnerRun(len(prepared), seconds, len(report.succeeded), report.requests_sent)


def sequential_loop(sandbox: SandboxProcess, bodies: list[dict]) -> float:
    """What a user writes without this tool: one request after another. Rows per second."""
    session = _session(sandbox)
    started = time.perf_counter()
    for body in bodies:
        _send(session, sandbox.url, body)
    return len(bodies) / (time.perf_counter() - started)


def bare_loop(sandbox: SandboxProcess, bodies: list[dict], threads: int) -> float:
    """Threads, each with its own session, taking bodies from one queue: no pacing, no
    retries, no results kept. Rows per second."""
    work: queue.SimpleQueue[dict] = queue.SimpleQueue()
    for body in bodies:
        work.put(body)

    def worker() -> None:
        session = _session(sandbox)
        while True:
            try:
                body = work.get_nowait()
            except queue.Empty:
                return
            _send(session, sandbox.url, body)

    pool = [threading.Thread(target=worker, daemon=True) for _ in range(threads)]
    started = time.perf_counter()
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return len(bodies) / (time.perf_counter() - started)


def _session(sandbox: SandboxProcess) -> requests.Session:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {sandbox.api_key}"
    return session


def _send(session: requests.Session, url: str, body: dict) -> None:
    response = session.post(f"{url}/auth/ticket", json=body, timeout=30)
    response.raise_for_status()
    if not response.json()["data"]["encpryptedString"]:
        raise RuntimeError("the sandbox answered without a token")
