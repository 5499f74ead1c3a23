"""commbox_core.outputs.views and .templates: what the dashboard's tables and texts are made of."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from commbox_core.api.client import TicketOutcome
from commbox_core.api.probe import explain_probe
from commbox_core.fields import Kind
from commbox_core.outputs.history import outcomes_shown, outcomes_shown_caption
from commbox_core.outputs.templates import template_csv
from commbox_core.outputs.views import outcome_frame, page_count, page_of, preview_frame, seconds_left, subject_by_row
from commbox_core.outputs.wording import format_duration, progress_text
from commbox_core.runs.results import RowResult, expired_rows, fixable_rows, live_links, retryable_rows
from commbox_core.runs.runner import Progress
from commbox_core.tables.columns import match_columns
from commbox_core.tables.edits import apply_edits, edits_from_editor, merge_edits, rows_of
from commbox_core.tables.read import read_table
from commbox_core.tickets.prepare import PreparedRow, prepare_rows
from commbox_core.tickets.request import RowDefaults
from commbox_core.vocabulary import ErrorCode

NOW = datetime(2025, 1, 19, 14, 0, tzinfo=UTC)


def table(text: str):
    return read_table(text.encode(), filename="t.csv")


def test_pages_of_rows():
    rows = list(range(1, 251))
    assert page_count(250, 100) == 3 and page_count(0, 100) == 1
    assert page_of(rows, 3, 100) == list(range(201, 251))
    assert page_of(rows, 9, 100) == list(range(201, 251))  # past the end: the last page


def test_editor_positions_become_row_numbers_and_edits_apply():
    source = table("brand,username\ndemo,a\ndemo\ndemo,c\n")  # row 2 is ragged
    shown = source.frame.loc[[2, 3]]
    edits = edits_from_editor(shown, {"0": {"username": "b", "secret": "x"}, 1: {"username": None}}, ["username"])
    assert edits == {2: {"username": "b"}, 3: {"username": ""}}
    assert merge_edits({2: {"brand": "x"}}, edits) == {2: {"brand": "x", "username": "b"}, 3: {"username": ""}}
    edited = apply_edits(source, edits)
    assert edited.frame.loc[2, "username"] == "b" and source.frame.loc[2, "username"] == ""
    assert 2 in source.row_problems and 2 not in edited.row_problems  # the person fixed the row
    assert list(rows_of(edited, [3]).frame.index) == [3]


def test_preview_marks_rows_valid_or_invalid_with_the_reason():
    source = table("brand,username,email\ndemo,john.d,\ndemo,,x@\n")
    mapping = match_columns(source.columns, Kind.AGENT).mapping
    prepared = prepare_rows(source, mapping, Kind.AGENT, RowDefaults())
    frame = preview_frame(source, prepared, ["username", "email"])
    assert frame["valid"].tolist() == [True, False]
    assert "username" in frame.loc[2, "reason"] and "x@" in frame.loc[2, "reason"]
    assert subject_by_row(source, prepared, Kind.AGENT) == {1: "john.d", 2: ""}


def test_outcomes_have_no_links():
    results = [
        RowResult(1, True, url="https://x/login?ta=SECRET", issued_at=NOW, expires_at=NOW + timedelta(seconds=60)),
        RowResult(2, False, ErrorCode.NOT_FOUND, "not found"),
    ]
    frame = outcome_frame(results, {1: "a", 2: "b"})
    assert list(frame.columns) == ["row", "subject", "ok", "error_code", "error", "issued_at", "expires_at"]
    assert "SECRET" not in frame.to_csv()
    assert frame["expires_at"].tolist() == ["2025-01-19T14:01:00Z", ""]
    assert frame["error"].tolist() == ["", "not found"]  # the cause, not only its code


def test_outcomes_carry_the_rows_own_columns_as_given_and_never_a_token_in_a_message():
    table = read_table(b"uniqueId,phone1,subject,Notes\n000123,+44 20 7946 0123,s1,=1+1\nc2,,s2,x\n",
                       filename="people.csv")
    results = [RowResult(1, True, url="https://x/chat?ta=SECRET", issued_at=NOW),
               RowResult(2, False, ErrorCode.BAD_REQUEST, "refused https://x/chat?ta=SECRET2 for c2")]
    frame = outcome_frame(results, {1: "000123", 2: "c2"}, table)
    assert list(frame.columns) == ["row", "subject", "ok", "error_code", "error", "issued_at", "expires_at",
                                   "uniqueId", "phone1", "subject (input)", "Notes"]
    assert frame["uniqueId"].tolist() == ["000123", "c2"] and frame["phone1"].tolist() == ["+44 20 7946 0123", ""]
    assert frame["Notes"].tolist() == ["=1+1", "x"]  # as given here; the CSV writer guards it
    assert "SECRET" not in frame.to_csv() and "[removed]" in frame["error"].iloc[1]


def test_follow_up_rows_and_link_expiry():
    results = [
        RowResult(1, True, expires_at=NOW - timedelta(seconds=1)),
        RowResult(2, True, expires_at=NOW + timedelta(seconds=30)),
        RowResult(3, False, ErrorCode.SERVER_ERROR),
        RowResult(4, False, ErrorCode.INVALID),
        RowResult(5, False, ErrorCode.NOT_ATTEMPTED),
    ]
    assert expired_rows(results, NOW) == [1]
    assert retryable_rows(results) == [3, 5]
    assert fixable_rows(results) == [4]
    assert live_links(results, NOW) == (1, NOW + timedelta(seconds=30))
    assert seconds_left(NOW + timedelta(seconds=30.9), NOW) == 30 and seconds_left(None, NOW) == 0


def test_texts_for_progress_and_durations():
    assert [format_duration(s) for s in (None, 4.4, 65, 3725)] == ["–", "4 s", "1 min 05 s", "1 h 02 min"]
    progress = Progress(total=500, done=120, ok=118, failed=2, elapsed_s=4, rate=30.0, eta_s=12.7, throttled=3,
                        state="running")
    assert progress_text(progress) == "120 of 500 rows · 118 ok · 2 failed · 30.0 rows/s · about 13 s left · throttled 3×"


@pytest.mark.parametrize(
    ("outcome", "level", "words"),
    [
        (TicketOutcome(False, error_code=ErrorCode.NOT_FOUND, http_status=404), "success", "the API key works"),
        (TicketOutcome(False, error_code=ErrorCode.UNAUTHORIZED, http_status=401), "error", "refused the API key"),
        (TicketOutcome(False, error_code=ErrorCode.NETWORK, message="timed out"), "error", "Could not reach"),
        (TicketOutcome(False, error_code=ErrorCode.SERVER_ERROR, http_status=500), "warning", "not as expected"),
        (TicketOutcome(True, token="t", http_status=200), "warning", "the API key works"),
    ],
)
def test_connection_check_verdicts(outcome, level, words):
    verdict = explain_probe(outcome, "tenant.example")
    assert verdict.level == level and words in verdict.headline


@pytest.mark.parametrize("kind", list(Kind))
def test_templates_read_back_as_valid_rows(kind):
    source = read_table(template_csv(kind), filename="template.csv")
    match = match_columns(source.columns, kind)
    assert not match.unmatched
    prepared = prepare_rows(source, match.mapping, kind, RowDefaults(channel_id="demo-channel"))
    assert all(isinstance(p, PreparedRow) and p.request is not None for p in prepared), [p.problem for p in prepared]
    assert source.frame.loc[1, "phone1"].startswith("+")  # the quote that keeps Excel off is gone again


def test_a_big_runs_outcomes_on_screen_are_the_failed_ones_first_then_the_rest_in_row_order():
    frame = pd.DataFrame({"row": range(1, 11), "ok": [True, False, True, True, False, True, True, True, True, True]})
    assert list(outcomes_shown(frame, 10)["row"]) == list(range(1, 11))  # all fit: as they are
    assert list(outcomes_shown(frame, 4)["row"]) == [2, 5, 1, 3]
    assert list(outcomes_shown(frame, 1)["row"]) == [2]


@pytest.mark.parametrize(("failed_rows", "caption"), [
    ([], "The first 4 of 10 rows, none of which failed: the file below has every row."),
    ([2], "4 of 10 rows shown: the 1 failed row first, then the others in row order. The file below has every row."),
    ([1, 2, 3, 4, 5], "4 of the 5 failed rows shown (10 rows in all): the file below has every row."),
])
def test_a_cut_down_outcome_table_says_what_it_holds_by_case(failed_rows, caption):
    frame = pd.DataFrame({"row": range(1, 11), "ok": [row not in failed_rows for row in range(1, 11)]})
    assert outcomes_shown_caption(frame, outcomes_shown(frame, 4)) == caption
    assert outcomes_shown_caption(frame, outcomes_shown(frame, 10)) is None  # every row on screen
