"""The benchmark runs end to end on tiny sizes and reports every scenario (its timings are not judged here)."""

from __future__ import annotations

import re

from commbox_core import cli
from commbox_core.bench import OPT_IN, SCENARIOS
from commbox_core.bench.sample import sample_csv
from commbox_core.cli.bench import SCENARIOS as CLI_SCENARIOS
from commbox_core.tables.read import read_table

VERDICT = re.compile(r"^(latency|throttle|cpu|files|end-to-end|redeem|store|shared-limit)\s{2,}.+\s{2,}(PASS|FAIL|not judged)$")


def table_rows(out: str) -> list[str]:
    return [line for line in out.splitlines() if VERDICT.match(line)]


def test_quick_run_measures_every_scenario_and_judges_none(capsys):
    assert cli.main(["bench", "--quick"]) == 0  # --quick judges nothing, so it never fails on its figures
    out = capsys.readouterr().out
    assert "command: python -m commbox_core bench --quick" in out
    assert re.search(r"^machine: \d+ cores, .+, Python 3\.\d+", out, re.MULTILINE)
    assert re.search(r"^load average at start \(1, 5, 15 min\): [\d.]+ [\d.]+ [\d.]+$", out, re.MULTILINE)
    assert re.search(r"^load average at the end", out, re.MULTILINE)
    rows = table_rows(out)
    assert [row.split()[0] for row in rows] == ["latency", "throttle", "cpu", "files", "files", "files",
                                              "end-to-end", "end-to-end", "redeem", "redeem", "store", "store",
                                              "store", "shared-limit", "shared-limit"]
    # each states its goal (the redemption rate and the store's are figures with no goal; the flood's is the limit)
    assert all(re.search(r"(>=|<=) [\d.]+|figure only|\d+ looked up, the rest 429", row) for row in rows)
    assert len(re.findall(r"^\[not judged\] ", out, re.MULTILINE)) == len(rows)  # and its raw numbers
    assert not re.search(r"\b(PASS|FAIL)\b", out)  # tiny sizes prove nothing either way


def test_only_runs_the_chosen_scenario_and_bad_usage_is_refused(capsys):
    assert cli.main(["bench", "--quick", "--only", "files"]) == 0
    assert [row.split()[0] for row in table_rows(capsys.readouterr().out)] == ["files"] * 3
    assert cli.main(["bench", "--only", "everything"]) == 2
    assert "invalid choice" in capsys.readouterr().err
    assert {*SCENARIOS, *OPT_IN} == set(CLI_SCENARIOS) == {"latency", "throttle", "cpu", "files", "end-to-end",
                                                           "redeem", "store", "shared-limit", "dashboard"}


def test_the_cli_dispatches_bench(capsys):
    assert cli.main(["bench", "--help"]) == 0
    assert "--quick" in capsys.readouterr().out


def test_the_sample_file_has_distinct_phones_and_emails_and_a_few_mistakes():
    frame = read_table(sample_csv(3000)).frame
    assert frame["Mobile"].is_unique and frame["E-mail"].is_unique and len(frame) == 3000
    assert frame["Mobile"].str.startswith(("+", "00")).mean() > 0.98
    assert 0 < (~frame["E-mail"].str.fullmatch(r"[^@]+@[^@]+")).sum() < 60


def test_a_full_run_judges_each_finding_against_its_goal():
    from commbox_core.bench.report import Finding, line, table

    met = Finding("cpu", "runner over bare loop", "1.02", ">= 0.9", True, "raw")
    missed = Finding("latency", "speedup", "27.1x", ">= 28x", False, "raw")
    rows = table_rows(table([met, missed]))
    assert [row.split()[-1] for row in rows] == ["PASS", "FAIL"]
    assert line(missed).startswith("[FAIL] latency: speedup: 27.1x (goal >= 28x); raw")
