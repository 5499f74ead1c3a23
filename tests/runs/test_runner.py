"""The bulk runner against the real sandbox: every row ends in exactly one result."""

from __future__ import annotations

import threading

import pytest
import requests

from commbox_core.api.client import CommBoxClient
from commbox_core.fields import Kind
from commbox_core.runs.runner import UNREACHABLE_AFTER, BulkRunner
from commbox_core.tickets.links import LinkBuilder
from commbox_core.tickets.prepare import PreparedRow
from commbox_core.tickets.request import RowDefaults, build_request
from commbox_core.vocabulary import ErrorCode, RunStatus

from ..support import wait_until

DEMO_AGENTS = ["john.d", "noa.c", "maria.g", "li.wei", "amara.o", "sam.t"]


def agent_rows(usernames, start=1):
    rows = []
    for number, username in enumerate(usernames, start):
        request, problems = build_request({"username": username}, Kind.AGENT, RowDefaults(brand="demo"))
        rows.append(PreparedRow(number, request, "; ".join(map(str, problems))))
    return rows


def runner_for(settings, **kw) -> BulkRunner:
    return BulkRunner(CommBoxClient.from_settings(settings), LinkBuilder(settings), **kw)


def test_every_row_ends_in_exactly_one_result_in_row_order(sandbox):
    usernames = DEMO_AGENTS * 5 + ["ghost", ""]  # 30 good, 1 unknown, 1 invalid
    report = runner_for(sandbox.settings(), concurrency=4).run(agent_rows(usernames), Kind.AGENT)
    assert [r.row for r in report.results] == list(range(1, 33))
    assert len(report.succeeded) == 30
    assert {r.row: r.error_code for r in report.failed} == {31: ErrorCode.NOT_FOUND, 32: ErrorCode.INVALID}
    assert "Username" in report.failed[1].error
    assert sandbox.stats()["ticket_requests"] == 31  # the invalid row was never sent
    assert report.summary()["by_error_code"] == {"invalid": 1, "not_found": 1}


def test_links_work_once_and_expire(sandbox):
    settings = sandbox.settings()
    request, _ = build_request({"username": "noa.c", "oneTimeUse": "true"}, Kind.AGENT, RowDefaults(brand="demo"))
    plain = agent_rows(["john.d"])[0]
    report = runner_for(settings).run([PreparedRow(1, request), PreparedRow(2, plain.request)], Kind.AGENT)
    once, reusable = report.results
    assert once.url.startswith(f"{sandbox.url}/login?ta=")
    assert (once.expires_at - once.issued_at).total_seconds() == 60
    assert requests.get(once.url, timeout=5).status_code == 200
    assert requests.get(once.url, timeout=5).status_code == 410  # one-time use
    assert requests.get(reusable.url, timeout=5).status_code == 200
    sandbox.advance_clock(61)
    assert requests.get(reusable.url, timeout=5).status_code == 410  # expired


def test_customer_links_open_the_chat_of_their_channel(sandbox):
    settings = sandbox.settings()
    rows = []
    for number, channel in enumerate(["nex9tHPKdBkD_fAfbuUPABg==", "nex9tHPKdBkD_fAfbuUPABg%3d%3d", ""], 1):
        request, _ = build_request(
            {"uniqueId": f"00{number}", "channelId": channel}, Kind.CUSTOMER,
            RowDefaults(brand="demo", channel_id="demo-channel"),
        )
        rows.append(PreparedRow(number, request))
    report = runner_for(settings).run(rows, Kind.CUSTOMER)
    urls = [r.url for r in report.results]
    assert "/chat/nex9tHPKdBkD_fAfbuUPABg%3D%3D?ta=" in urls[0] and "/chat/demo-channel?ta=" in urls[2]
    assert [requests.get(u, timeout=5).status_code for u in urls] == [200, 200, 200]
    sandbox.advance_clock(301)
    assert requests.get(urls[0], timeout=5).status_code == 410


def test_a_401_stops_the_whole_run(sandbox):
    settings = sandbox.settings().replace(api_key="not-the-key")
    report = runner_for(settings, concurrency=4).run(agent_rows(DEMO_AGENTS * 20), Kind.AGENT)
    codes = [r.error_code for r in report.results]
    assert len(codes) == 120 and not report.succeeded
    assert set(codes) == {ErrorCode.UNAUTHORIZED, ErrorCode.NOT_ATTEMPTED}
    assert codes.count(ErrorCode.UNAUTHORIZED) <= 4  # only those already in flight
    assert report.stopped_reason == "unauthorized"
    assert sandbox.stats()["ticket_requests"] <= 4
    not_sent = next(r for r in report.results if r.error_code is ErrorCode.NOT_ATTEMPTED)
    assert "401" in not_sent.error


def test_an_unreachable_api_stops_the_run_after_a_wave_of_failures_not_after_every_row(sandbox, refused_url):
    settings = sandbox.settings(max_retries=1).replace(api_url=refused_url)
    runner = runner_for(settings, concurrency=4)
    report = runner.run(agent_rows(DEMO_AGENTS * 20), Kind.AGENT)
    codes = [r.error_code for r in report.results]
    assert len(codes) == 120 and not report.succeeded
    assert set(codes) == {ErrorCode.NETWORK, ErrorCode.NOT_ATTEMPTED}
    assert UNREACHABLE_AFTER <= codes.count(ErrorCode.NETWORK) < UNREACHABLE_AFTER + 4  # + those in flight
    assert report.stopped_reason == "unreachable" and runner.progress().state is RunStatus.UNREACHABLE
    not_sent = next(r for r in report.results if r.error_code is ErrorCode.NOT_ATTEMPTED)
    assert "could not be reached" in not_sent.error


def test_an_answer_in_between_keeps_a_flaky_run_going(sandbox):
    """Network failures broken up by answers (even refusals) prove CommBox is there: no stop."""
    usernames = (["ghost"] + DEMO_AGENTS[:1]) * 30  # 404s and successes, all reached
    sandbox.configure(drop_rate=0.15)  # 8 drops in a row, or none at all: each about 1 run in 100,000
    report = runner_for(sandbox.settings(max_retries=0), concurrency=2).run(agent_rows(usernames), Kind.AGENT)
    codes = [r.error_code for r in report.results]
    assert ErrorCode.NETWORK in codes and ErrorCode.NOT_ATTEMPTED not in codes
    assert report.stopped_reason is None


def test_cancel_accounts_for_every_row(sandbox):
    sandbox.configure(latency_ms=50)
    runner = runner_for(sandbox.settings(), concurrency=2)
    rows = agent_rows(DEMO_AGENTS * 20)
    holder = {}
    thread = threading.Thread(target=lambda: holder.update(report=runner.run(rows, Kind.AGENT)))
    thread.start()
    wait_until(lambda: runner.progress().done >= 4)
    runner.cancel()
    thread.join(10)
    report = holder["report"]
    assert len(report.results) == 120 and report.stopped_reason == "cancelled"
    not_sent = [r for r in report.results if r.error_code is ErrorCode.NOT_ATTEMPTED]
    assert len(report.succeeded) + len(not_sent) == 120 and len(not_sent) > 50
    assert runner.progress().state == "cancelled"
    assert sandbox.stats()["ticket_requests"] == len(report.succeeded)
    summary = report.summary()
    assert summary["not_sent"] == len(not_sent) and summary["failed"] == len(not_sent)
    # The rate counts rows sent, not the rows a cancel ended at once (it read 427 rows/s for ~260).
    assert summary["rows_per_s"] == pytest.approx(len(report.succeeded) / summary["duration_s"], abs=0.5)


def test_throttling_slows_down_and_still_finishes(sandbox):
    sandbox.configure(rate_limit=50, retry_after="auto")
    runner = runner_for(sandbox.settings(max_retries=10), concurrency=8)
    report = runner.run(agent_rows(DEMO_AGENTS * 10), Kind.AGENT)
    assert len(report.succeeded) == 60
    assert runner.pacer.throttled >= 1 and runner.pacer.rate is not None  # it found a limit
    assert report.requests_sent == sandbox.stats()["ticket_requests"]


def test_progress_reports_counts_and_rate(sandbox):
    seen = []
    runner = runner_for(sandbox.settings(), concurrency=2)
    runner.on_result = lambda result: seen.append(runner.progress().done)
    report = runner.run(agent_rows(DEMO_AGENTS + ["ghost"]), Kind.AGENT)
    final = runner.progress()
    assert (final.total, final.done, final.ok, final.failed) == (7, 7, 6, 1)
    assert final.state is RunStatus.DONE and final.rate > 0 and final.fraction == 1.0
    assert len(seen) == 7 and len(report.results) == 7


class SteppedClock:
    """A clock each answer moves on: 0.1 s an answer, with a 20 s pause (a Retry-After, a
    network stall) after the 100th."""

    def __init__(self):
        self.now, self.answers = 0.0, 0

    def __call__(self) -> float:
        return self.now

    def answered(self, runner: BulkRunner, seen: dict) -> None:
        self.answers += 1
        self.now += 20.1 if self.answers == 100 else 0.1
        if self.answers == 120:
            seen["progress"] = runner.progress()


def test_rate_and_time_left_follow_the_last_seconds_not_the_whole_run(sandbox):
    clock, seen = SteppedClock(), {}
    runner = runner_for(sandbox.settings(), concurrency=1, clock=clock)
    runner.on_result = lambda result: clock.answered(runner, seen)
    runner.run(agent_rows(DEMO_AGENTS * 25), Kind.AGENT)  # 150 rows
    progress = seen["progress"]
    # 120 answers in 32 s, but 20 in the last 10 s: 2 rows/s now (the whole run's average says 3.75),
    # so the 30 rows left take 15 s.
    assert progress.rate == pytest.approx(2.0, rel=0.06) and progress.eta_s == pytest.approx(15, rel=0.06)


def test_first_sent_tells_when_the_first_request_leaves_or_that_none_will(sandbox):
    """The CLI waits on it before loading pandas, so that load never delays the first request."""
    sandbox.configure(latency_ms=300)
    runner = runner_for(sandbox.settings())
    thread = threading.Thread(target=runner.run, args=(agent_rows(["", "john.d"]), Kind.AGENT))
    thread.start()
    assert runner.first_sent.wait(5)
    assert thread.is_alive() and sandbox.stats()["ticket_requests"] <= 1  # set as it left, not at its answer
    thread.join(10)
    invalid_only = runner_for(sandbox.settings())
    invalid_only.run(agent_rows([""]), Kind.AGENT)
    assert invalid_only.first_sent.is_set()  # no request will come: nobody is kept waiting
