"""The application service through its public API, on the real sandbox and a real SQLite store:
every entry point audits as the acting user, follow-ups keep the run's plan, every input row is
accounted for with its values as given, and refusals are clear errors."""

from __future__ import annotations

import pandas as pd
import pytest

from commbox_core import Console, ConsoleError, Kind, RunStatus
from commbox_core.storage.audit import AuditFilter
from commbox_core.tables.edits import apply_edits
from commbox_core.tickets.plan import RunPlan
from commbox_core.tickets.request import RowDefaults, build_request
from commbox_core.vocabulary import Purpose

from ..support import ROOT_DIR

AGENTS = b"brand,username,email\ndemo,john.d,john.d@gmail.com\ndemo,ghost.agent,\ndemo,,x@example.com\n"


@pytest.fixture
def console(sandbox, tmp_path):
    opened = Console.open(sandbox.settings(), db=tmp_path / "console.sqlite3", user="alice@example.com")
    yield opened
    opened.close()


def _run(console: Console, data: bytes = AGENTS, kind: Kind = Kind.AGENT):
    upload = console.read_upload(data, "agents.csv")
    plan = RunPlan(console.match_columns(upload.table, kind).mapping, RowDefaults())
    job = console.start_run(upload.table, console.prepare(upload.table, kind, plan), kind, plan,
                            source_sha256=upload.sha256)
    assert job.wait(30)
    return job


def test_a_run_and_its_follow_ups_are_audited_as_who_started_each(console, sandbox):
    job = _run(console)
    sandbox.configure(error_rate=1.0)  # the re-issue's answers fail, and are audited all the same
    child = console.acting_as("bob@example.com").reissue_lost(job.id)
    assert child.wait(30)
    assert (child.purpose, child.parent_id, child.started_by) == (Purpose.REISSUE, job.id, "bob@example.com")
    audit = console.audit(AuditFilter())
    assert set(audit[audit.job_id == job.id].user) == {"alice@example.com"}
    assert set(audit[audit.job_id == child.id].user) == {"bob@example.com"}
    assert console.stored_job(child.id).started_by == "bob@example.com"


def test_one_ticket_is_audited_as_the_acting_user_and_keeps_no_token(console):
    request, _ = build_request({"brand": "demo", "username": "john.d"}, Kind.AGENT)
    result = console.acting_as("carol@example.com").issue_ticket(request)
    assert result.ok and "?ta=" in result.url
    entry = console.audit(AuditFilter(user="carol@example.com")).iloc[0]
    assert (entry.subject, entry.outcome, entry.job_id) == ("john.d", "ok", None)
    assert entry.fingerprint and entry.fingerprint not in result.url


def test_edited_rows_are_validated_again_with_the_runs_plan(console):
    job = _run(console)
    assert job.plan is not None and job.status is RunStatus.DONE
    edited = apply_edits(job.table, {3: {"username": "john.d", "email": "john.d@gmail.com"}})  # had no username
    fixed = console.resend_edited(job, edited, [3])
    assert fixed.wait(30)
    assert (fixed.purpose, fixed.parent_id) == (Purpose.RESEND, job.id)
    assert [(r.row, r.ok) for r in fixed.results()] == [(3, True)]


def test_every_row_of_a_dataframe_ends_once_with_its_values_as_given():
    people = pd.DataFrame({
        "brand": ["demo", "demo", "demo"], "uniqueId": ["000123", "000124", ""],
        "phone1": ["+972 54 123 4567", "+44 20 7946 0011", ""], "channelId": ["demo-channel"] * 3,
    })
    with Console.sandbox() as console:
        result = console.issue(people, kind="customer", progress=False)
    assert sorted([*result.success.row, *result.errors.row]) == [1, 2, 3]
    assert list(result.success.uniqueId) == ["000123", "000124"]
    assert list(result.success.phone1) == ["+972 54 123 4567", "+44 20 7946 0011"]  # text, as given
    assert result.summary["succeeded"] == 2 and list(result.errors.row) == [3]


def test_a_csv_path_runs_the_same_and_the_run_is_listed():
    with Console.sandbox() as console:
        result = console.issue(ROOT_DIR / "examples" / "agents.csv", kind=Kind.AGENT, progress=False)
        runs = console.runs()
        outcomes = console.outcomes(result.job_id)
    assert list(runs.run) == [result.job_id] and runs.status[0] == "done"
    assert len(outcomes) == result.summary["rows"] == 10
    assert "url" not in outcomes.columns and not outcomes.astype(str).apply(lambda c: c.str.contains("ta=")).any().any()


def test_a_stored_run_exports_without_links(console):
    job = _run(console)
    table, report = console.stored_report(job.id)
    assert [r.row for r in report.results] == [1, 2, 3] and all(r.url is None for r in report.results)
    assert list(table.frame.username) == ["john.d", "ghost.agent", ""]


def test_refusals_are_clear_errors(console):
    with pytest.raises(ConsoleError, match="not running in this process"):
        console.cancel("nosuchrun")
    with pytest.raises(ConsoleError, match="no job nosuchrun"):
        console.resume("nosuchrun")
    with pytest.raises(ConsoleError, match="needs the job store"):
        Console(console.settings).audit()


def test_a_workbook_written_while_the_run_goes_on_holds_what_one_built_at_the_end_would(console):
    """The dashboard's runs stream results.xlsx (only its last rows and the zip wait for the click)."""
    import io

    import openpyxl

    data = AGENTS + b"demo,noa.c,\ndemo,maria.g,+44 20 7946 0123\n"  # a phone where the email goes: invalid
    upload = console.read_upload(data, "agents.csv")
    plan = RunPlan(console.match_columns(upload.table, Kind.AGENT).mapping, RowDefaults())
    prepared = console.prepare(upload.table, Kind.AGENT, plan)
    streamed = console.start_run(upload.table, prepared, Kind.AGENT, plan, stream_workbook=True)
    assert streamed.wait(30) and streamed.workbook is not None
    built = console.start_run(upload.table, prepared, Kind.AGENT, plan)
    assert built.wait(30) and built.workbook is None

    def cells(job) -> dict:
        book = openpyxl.load_workbook(io.BytesIO(job.outputs.xlsx))
        return {sheet.title: [[c for c in row] for row in sheet.iter_rows(values_only=True)] for sheet in book}

    first, second = cells(streamed), cells(built)
    assert first.keys() == second.keys() == {"Success", "Errors"}
    assert first["Errors"] == second["Errors"] and [row[0] for row in first["Errors"]] == ["row", 2, 3, 5]
    # Links and expiries differ between two runs; everything else is the same, row for row.
    assert [row[:-2] for row in first["Success"]] == [row[:-2] for row in second["Success"]]
    assert [row[0] for row in first["Success"]] == ["row", 1, 4]
