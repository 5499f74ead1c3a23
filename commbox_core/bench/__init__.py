"""`python -m commbox_core bench [--quick] [--only latency|throttle|cpu|files|end-to-end|redeem|store|shared-limit|dashboard]`

Measures, on this machine and in one run, each scenario of the performance goals and says PASS or
FAIL: latency-bound speedup, throttle-bound rate, CPU-bound overhead, and big-file validation
time and memory, and the `bulk` command end to end as a user times it, and invitation clicks and the
runner's throughput with the job store on SQLite and on PostgreSQL (figures, no goal), and two
`bulk` processes sharing one tenant's limit; with --only dashboard, the dashboard's page loads during
a run, its run rate against `bulk`'s and results.xlsx after the click. Each HTTP scenario starts its own sandbox in a separate process. --quick runs
tiny sizes (a smoke test: too small to judge the goals by). Exit code: 0 when every goal is met
(or --quick), 1 when one is not, 2 on bad usage.
"""

from __future__ import annotations

from commbox_core.bench import network
from commbox_core.bench.end_to_end import end_to_end
from commbox_core.bench.files import files
from commbox_core.bench.redeem import redemptions
from commbox_core.bench.shared_limit import shared_limit
from commbox_core.bench.store import store_throughput
from commbox_core.bench.report import Finding, header, line, load_average, table

SCENARIOS = ("latency", "throttle", "cpu", "files", "end-to-end", "redeem", "store", "shared-limit")
OPT_IN = ("dashboard",)  # run only when named with --only: it needs Playwright and Chromium
DASHBOARD_ROWS = {"full": 20_000, "quick": 200}
FILE_ROWS = {"full": 100_000, "quick": 1_000}


def run_benchmarks(*, quick: bool, only: tuple[str, ...] = ()) -> int:
    chosen = [s for s in (*SCENARIOS, *OPT_IN) if s in only] if only else list(SCENARIOS)
    sizes = network.QUICK if quick else network.FULL
    options = " --quick" * quick + "".join(f" --only {s}" for s in only)
    print(header(f"python -m commbox_core bench{options}"), flush=True)
    if quick:
        print("quick: sizes far too small to judge the goals by; the figures only show that each scenario runs",
              flush=True)
    findings: list[Finding] = []
    for scenario in chosen:
        print(f"\n{scenario}: measuring...", flush=True)
        for finding in _measure(scenario, sizes, quick):
            print(line(finding, judged=not quick), flush=True)
            findings.append(finding)
    print(f"\nload average at the end (1, 5, 15 min): {load_average()}\n")
    print(table(findings, judged=not quick), flush=True)
    return 0 if quick or all(f.passed for f in findings) else 1


def _measure(scenario: str, sizes: network.Sizes, quick: bool) -> list[Finding]:
    if scenario == "latency":
        return [network.latency_bound(sizes)]
    if scenario == "throttle":
        return [network.throttle_bound(sizes)]
    if scenario == "cpu":
        return [network.cpu_bound(sizes)]
    if scenario == "end-to-end":
        return end_to_end(sizes)
    if scenario == "redeem":
        return redemptions(sizes)
    if scenario == "store":
        return store_throughput(sizes)
    if scenario == "shared-limit":
        return shared_limit(sizes)
    if scenario == "dashboard":
        from commbox_core.bench.dashboard import dashboard

        return dashboard(sizes, DASHBOARD_ROWS["quick" if quick else "full"], FILE_ROWS["quick" if quick else "full"])
    return files(FILE_ROWS["quick" if quick else "full"], sizes.repeats)

