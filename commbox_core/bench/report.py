"""What a benchmark found, and the machine it ran on, as text."""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Finding:
    scenario: str  # "latency", "throttle", "cpu", "files"
    measure: str  # what was compared, e.g. "speedup over a sequential loop"
    measured: str  # the figure, e.g. "29.1x"
    goal: str  # e.g. ">= 28x"
    passed: bool
    details: str = ""  # the raw numbers behind the figure


def machine() -> str:
    cores = os.cpu_count() or 0
    return f"{cores} cores, {cpu_model()}, Python {platform.python_version()} ({platform.system()})"


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def load_average() -> str:
    try:
        return " ".join(f"{value:.2f}" for value in os.getloadavg())
    except OSError:
        return "unknown"


def header(command: str) -> str:
    return "\n".join([
        "CommBox Ticket Console benchmark",
        f"date: {datetime.now().astimezone().isoformat(timespec='seconds')}",
        f"machine: {machine()}",
        f"command: {command}",
        f"load average at start (1, 5, 15 min): {load_average()}",
    ])


NOT_JUDGED = "not judged"  # what --quick says instead of PASS/FAIL: its sizes are too small


def verdict(finding: Finding, judged: bool = True) -> str:
    if not judged:
        return NOT_JUDGED
    return "PASS" if finding.passed else "FAIL"


def table(findings: list[Finding], judged: bool = True) -> str:
    rows = [("scenario", "measure", "measured", "goal", "result")]
    rows += [(f.scenario, f.measure, f.measured, f.goal, verdict(f, judged)) for f in findings]
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def line(finding: Finding, judged: bool = True) -> str:
    """One finding as soon as it is measured, with its raw numbers."""
    figure = f"{finding.measured} (goal {finding.goal})"
    return f"[{verdict(finding, judged)}] {finding.scenario}: {finding.measure}: {figure}; {finding.details}"
