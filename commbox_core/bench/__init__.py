"""`python -m commbox_core bench [--quick] [--only latency|throttle|cpu|files]`

Measures, on this machine and in one run, each scenario of the performance goals and says PASS or
FAIL: latency-bound speedup, throttle-bound rate, CPU-bound overhead, and big-file validation
time and memory. Each HTTP scenario starts its own sandbox in a separate process. --quick runs
tiny sizes (a smoke test: too small to judge the goals by). Exit code: 0 when every goal is met
(or --quick), 1 when one is not, 2 on bad usage.
"""

from __future__ import annotations

import argparse
import sys

from . import network
from .files import files
from .report import Finding, header, line, load_average, table

SCENARIOS = ("latency", "throttle", "cpu", "files")
FILE_ROWS = {"full": 100_000, "quick": 1_000}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m commbox_core bench", description=__doc__.split("\n\n")[1])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: checks the benchmark runs, judges nothing")
    parser.add_argument("--only", action="append", choices=SCENARIOS, help="run only this scenario (repeatable)")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return 2 if exc.code else 0  # a usage error, or --help
    chosen = [s for s in SCENARIOS if s in (args.only or SCENARIOS)]
    sizes = network.QUICK if args.quick else network.FULL
    options = " --quick" * args.quick + "".join(f" --only {s}" for s in args.only or ())
    command = f"python -m commbox_core bench{options}"
    print(header(command), flush=True)
    if args.quick:
        print("quick: sizes far too small to judge the goals by; the figures only show that each scenario runs",
              flush=True)
    findings: list[Finding] = []
    for scenario in chosen:
        print(f"\n{scenario}: measuring...", flush=True)
        for finding in _measure(scenario, sizes, args.quick):
            print(line(finding, judged=not args.quick), flush=True)
            findings.append(finding)
    print(f"\nload average at the end (1, 5, 15 min): {load_average()}\n")
    print(table(findings, judged=not args.quick), flush=True)
    return 0 if args.quick or all(f.passed for f in findings) else 1


def _measure(scenario: str, sizes: network.Sizes, quick: bool) -> list[Finding]:
    if scenario == "latency":
        return [network.latency_bound(sizes)]
    if scenario == "throttle":
        return [network.throttle_bound(sizes)]
    if scenario == "cpu":
        return [network.cpu_bound(sizes)]
    return files(FILE_ROWS["quick" if quick else "full"], sizes.repeats)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
