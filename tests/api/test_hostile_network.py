"""A misbehaving API: every row still ends with the right error code, retries stay bounded,
and the run finishes."""

from __future__ import annotations

from collections import Counter

import pytest
import requests

from commbox_core.api.client import CommBoxClient
from commbox_core.fields import Kind
from commbox_core.runs.runner import BulkRunner
from commbox_core.tickets.links import LinkBuilder
from commbox_core.tickets.prepare import PreparedRow
from commbox_core.tickets.request import TicketRequest
from commbox_core.vocabulary import ErrorCode

USERNAMES = ["john.d", "noa.c", "maria.g", "li.wei", "amara.o", "sam.t"]


def rows(count: int) -> list[PreparedRow]:
    return [
        PreparedRow(n, TicketRequest(kind=Kind.AGENT, brand="demo", username=USERNAMES[n % len(USERNAMES)]))
        for n in range(1, count + 1)
    ]


def run(settings, count: int, concurrency: int = 8):
    runner = BulkRunner(CommBoxClient.from_settings(settings), LinkBuilder(settings), concurrency=concurrency)
    return runner, runner.run(rows(count), Kind.AGENT)


def test_every_fault_at_once(sandbox):
    sandbox.configure(
        drop_rate=0.1, html_rate=0.1, error_rate=0.1, malformed_rate=0.05, no_token_rate=0.05, not_supported_rate=0.05
    )
    _, report = run(sandbox.settings(max_retries=3), 300)
    assert [r.row for r in report.results] == list(range(1, 301))
    codes = Counter(str(r.error_code) for r in report.failed)
    assert set(codes) <= {"network", "server_error", "bad_response", "not_supported"}
    assert codes["bad_response"] > 0 and codes["not_supported"] > 0  # neither is retried
    assert len(report.succeeded) > 150  # retries rescued most transient faults
    assert sandbox.stats()["ticket_requests"] == report.requests_sent <= 300 * 4
    sample = report.succeeded[:20]
    assert all(requests.get(r.url, timeout=5).status_code == 200 for r in sample)


@pytest.mark.parametrize("retry_after", ["none", "1"])
def test_a_storm_of_429s_with_and_without_retry_after(sandbox, retry_after):
    sandbox.configure(rate_limit=12, retry_after=retry_after)
    runner, report = run(sandbox.settings(max_retries=3), 30)
    assert len(report.results) == 30
    assert {str(r.error_code) for r in report.failed} <= {"throttled"}
    assert report.requests_sent <= 30 * 4
    assert runner.pacer.throttled > 0
    assert len(report.succeeded) >= 8  # it slowed down enough for some to get through


def test_answers_slower_than_the_timeout(sandbox):
    sandbox.configure(latency_ms=800)
    _, report = run(sandbox.settings(read_timeout=0.1, max_retries=1), 6, concurrency=6)
    assert all(r.error_code is ErrorCode.NETWORK and "timed out" in r.error for r in report.results)
    assert all(r.attempts == 2 for r in report.results)
