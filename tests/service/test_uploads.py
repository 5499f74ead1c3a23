"""One result per upload: a run and its follow-ups (fixed rows resent, retries, re-issues) seen as
one run on the real sandbox, each row of the file once at its latest outcome, with one set of files."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime

import openpyxl
import pandas as pd
import pytest

from commbox_core import Console, Kind
from commbox_core.runs.results import RowResult, expired_rows, latest_outcomes
from commbox_core.tables.edits import apply_edits
from commbox_core.tickets.plan import RunPlan
from commbox_core.tickets.request import RowDefaults
from commbox_core.vocabulary import ErrorCode, Purpose

from ..support import wait_until

# Row 2 names an agent the tenant does not have, row 3 has no username: both need a fix.
AGENTS = (b"brand,username,email,phone1,note\n"
          b"demo,john.d,john.d@gmail.com,+44 2501 234567,000123\n"
          b"demo,ghost.agent,,,second\n"
          b"demo,,noa.cohen@example.co.il,,third\n")


@pytest.fixture
def console(sandbox, tmp_path):
    opened = Console.open(sandbox.settings(agent_ttl=2), db=tmp_path / "console.sqlite3", user="alice@example.com")
    yield opened
    opened.close()


def _first_run(console: Console):
    upload = console.read_upload(AGENTS, "agents.csv")
    plan = RunPlan(console.match_columns(upload.table, Kind.AGENT).mapping, RowDefaults())
    job = console.start_run(upload.table, console.prepare(upload.table, Kind.AGENT, plan), Kind.AGENT, plan)
    assert job.wait(30)
    return job


def _csv(data: bytes) -> pd.DataFrame:
    return pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False, encoding="utf-8-sig")


def _fixed(console: Console, job):
    edits = {2: {"username": "maria.g"}, 3: {"username": "noa.c"}}
    resent = console.resend_edited(job, apply_edits(job.table, edits), [2, 3])
    assert resent.wait(30)
    return resent


def test_a_run_alone_is_not_an_upload_of_several(console):
    assert console.upload(_first_run(console)) is None


def test_fixed_rows_resent_make_one_result_with_every_row_once_as_last_sent(console):
    first = _first_run(console)
    assert [r.ok for r in first.results()] == [True, False, False]
    resent = _fixed(console, first)
    assert (resent.purpose, resent.parent_id) == (Purpose.RESEND, first.id)

    for seen_from in (first, resent):  # the first run's page and the follow-up's show the same upload
        upload = console.upload(seen_from)
        assert [run.id for run in upload.runs] == [first.id, resent.id]
        assert upload.counts() == (3, 3, 0)
        assert upload.came_from == {1: first.id, 2: resent.id, 3: resent.id}

    success = _csv(upload.outputs.success_csv)
    assert list(success.row) == ["1", "2", "3"]
    assert list(success.username) == ["john.d", "maria.g", "noa.c"]  # the fixed values, not the file's
    assert list(success.note) == ["000123", "second", "third"]  # the user's own column, as given
    assert success.phone1[0] == "+44 2501 234567"
    assert list(success.url) == [first.results()[0].url, *(r.url for r in resent.results())]
    assert len(_csv(upload.outputs.errors_csv)) == 0
    summary = json.loads(upload.outputs.summary_json)
    assert (summary["rows"], summary["succeeded"], summary["failed"]) == (3, 3, 0)
    assert [run["run"] for run in summary["runs"]] == [first.id, resent.id]
    book = openpyxl.load_workbook(io.BytesIO(upload.outputs.xlsx), read_only=True)
    success_rows = list(book["Success"].iter_rows(min_row=2, values_only=True))
    assert [row[0] for row in success_rows] == [1, 2, 3]
    assert list(book["Errors"].iter_rows(min_row=2, values_only=True)) == []


def test_a_re_issue_on_the_upload_renews_every_expired_link_of_every_run(console):
    first = _first_run(console)
    _fixed(console, first)
    upload = console.upload(first)
    wait_until(lambda: expired_rows(upload.results(), datetime.now(UTC)) == [1, 2, 3], timeout=10)  # 2 s tickets
    renewed = console.reissue_expired(upload)
    assert renewed.wait(30)
    assert (renewed.purpose, renewed.parent_id) == (Purpose.REISSUE, first.id)  # hangs off the first run
    assert [p.request.username for p in renewed.prepared] == ["john.d", "maria.g", "noa.c"]  # as last sent

    latest = console.upload(first)
    assert len(latest.runs) == 3 and latest.counts() == (3, 3, 0)
    assert set(latest.came_from.values()) == {renewed.id}
    success = _csv(latest.outputs.success_csv)
    assert list(success.url) == [r.url for r in renewed.results()]
    assert not set(success.url) & {r.url for r in upload.results()}  # no stale link left in the file


def test_a_retry_that_fails_again_shows_its_error_and_a_row_still_to_fix_stays_fixable(console, sandbox):
    first = _first_run(console)
    resent = console.resend_edited(first, apply_edits(first.table, {3: {"username": "still.nobody"}}), [3])
    assert resent.wait(30)
    upload = console.upload(first)
    assert upload.counts() == (3, 1, 2)
    errors = _csv(upload.outputs.errors_csv)
    assert list(errors.row) == ["2", "3"]
    assert list(errors.username) == ["ghost.agent", "still.nobody"]  # row 3 as resent
    assert all(code == "not_found" for code in errors.error_code)


def test_the_store_gives_the_uploads_outcomes_to_another_server_on_both_backends(sandbox, store_target):
    with Console.open(sandbox.settings(), db=store_target, user="alice@example.com") as first_server:
        first = _first_run(first_server)
        resent = _fixed(first_server, first)
        first_server.store.flush()
    with Console.open(sandbox.settings(), db=store_target, user="bob@example.com") as other:
        assert [run.id for run in other.upload_runs(resent.id)] == [first.id, resent.id]
        frame, csv_bytes, runs = other.upload_outcome_file(resent.id)
    assert list(frame.row) == [1, 2, 3] and list(frame.ok) == [True, True, True]
    assert list(frame.run) == [first.id, resent.id, resent.id]
    assert list(frame.username) == ["john.d", "maria.g", "noa.c"]
    assert list(frame.note) == ["000123", "second", "third"]
    text = csv_bytes.decode("utf-8-sig")
    assert "?ta=" not in text and "+44 2501 234567" in text


def test_a_finished_uploads_outcomes_are_built_once_until_it_changes(console, monkeypatch):
    first = _first_run(console)
    read = []
    rows = console.store.rows
    monkeypatch.setattr(console.store, "rows", lambda job_id: read.append(job_id) or rows(job_id))
    console.store.flush()
    before, before_csv, _ = console.upload_outcome_file(first.id)
    assert read == [first.id]
    again, again_csv, _ = console.upload_outcome_file(first.id)  # another visit to History
    assert read == [first.id] and again_csv == before_csv
    resent = _fixed(console, first)  # a follow-up changes the upload: its file is built again
    console.store.flush()
    after, _, runs = console.upload_outcome_file(first.id)
    assert [run.id for run in runs] == [first.id, resent.id] and read[1:] == [first.id, resent.id]
    assert list(before.ok) == [True, False, False] and list(after.ok) == [True, True, True]
    console.purge(resent.id)  # so does a purge
    assert list(console.upload_outcome_file(first.id)[0].username) == ["john.d", "", ""]


def test_a_follow_up_that_never_sent_a_row_leaves_its_earlier_outcome():
    failed = RowResult(1, False, ErrorCode.THROTTLED, "throttled")
    ok = RowResult(2, True, url="https://x/?ta=a")
    cancelled = [RowResult(1, False, ErrorCode.NOT_ATTEMPTED, "not sent"),
                 RowResult(2, False, ErrorCode.NOT_ATTEMPTED, "not sent")]
    latest = latest_outcomes([[failed, ok], cancelled])
    assert latest == {1: (0, failed), 2: (0, ok)}
    later = RowResult(1, False, ErrorCode.SERVER_ERROR, "500")
    assert latest_outcomes([[failed, ok], [later]])[1] == (1, later)
