"""`bench [--quick] [--only SCENARIO]...`: the performance goals, measured on this machine in one run."""

from __future__ import annotations

import click

from commbox_core.cli.output import Choice, ConsoleCommand

SCENARIOS = ("latency", "throttle", "cpu", "files", "end-to-end", "redeem", "store",
              "shared-limit", "dashboard")  # as commbox_core.bench.SCENARIOS + OPT_IN (a test checks)


@click.command(cls=ConsoleCommand)
@click.option("--quick", is_flag=True, help="tiny sizes: checks the benchmark runs, judges nothing")
@click.option("--only", multiple=True, type=Choice(SCENARIOS), help="run only this scenario (repeatable)")
def bench(quick: bool, only: tuple[str, ...]) -> int:
    """Measure each performance goal (PASS/FAIL); 0 when every goal is met (or --quick), 1 when one is not."""
    from commbox_core.bench import run_benchmarks

    return run_benchmarks(quick=quick, only=only)
