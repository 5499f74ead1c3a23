"""The API client against the real sandbox: every answer of the contract maps to one ErrorCode."""

from __future__ import annotations

import threading
import time

import pytest
import requests

from commbox_core.api.answers import classify
from commbox_core.api.client import CommBoxClient, RetryPolicy
from commbox_core.api.pacing import Pacer
from commbox_core.fields import Kind
from commbox_core.tickets.request import TicketRequest
from commbox_core.vocabulary import ErrorCode

AGENT = TicketRequest(kind=Kind.AGENT, brand="demo", username="john.d")
CUSTOMER = TicketRequest(kind=Kind.CUSTOMER, brand="demo", uniqueId="000123", channelId="demo-channel")
FAST = RetryPolicy(max_retries=3, backoff_base=0.01, backoff_max=0.05)


def client_for(sandbox, key=None, **kw) -> CommBoxClient:
    return CommBoxClient(sandbox.url, key or sandbox.api_key, retry=kw.pop("retry", FAST), **kw)


def test_agent_and_customer_tickets_are_issued(sandbox):
    client = client_for(sandbox)
    agent, customer = client.create_ticket(AGENT), client.create_ticket(CUSTOMER)
    assert agent.ok and customer.ok and agent.token != customer.token
    assert agent.attempts == 1 and agent.http_status == 200 and agent.issued_at is not None
    assert agent.token not in repr(agent)
    assert sandbox.stats()["tickets_issued"] == 2


def test_wrong_key_is_unauthorized_at_once_and_the_key_is_not_echoed(sandbox):
    outcome = client_for(sandbox, key="wrong-key-XYZ").create_ticket(AGENT)
    assert outcome.error_code is ErrorCode.UNAUTHORIZED and outcome.attempts == 1
    assert "wrong-key-XYZ" not in outcome.message and "401" in outcome.message


def test_unknown_agent_and_mismatched_phone_are_not_found_and_not_retried(sandbox):
    client = client_for(sandbox)
    ghost = client.create_ticket(TicketRequest(kind=Kind.AGENT, brand="demo", username="ghost"))
    mismatch = client.create_ticket(AGENT.model_copy(update={"phone1": "+44 20 7946 0000"}))
    assert ghost.error_code is mismatch.error_code is ErrorCode.NOT_FOUND
    assert ghost.attempts == mismatch.attempts == 1
    assert sandbox.stats()["ticket_requests"] == 2


def test_phone_matches_by_digits_with_00_prefix(sandbox):
    outcome = client_for(sandbox).create_ticket(AGENT.model_copy(update={"phone1": "0044-2501-234567"}))
    assert outcome.ok


def test_bad_request_is_not_retried(sandbox):
    no_identifier = TicketRequest(kind=Kind.CUSTOMER, brand="demo")  # bypasses local validation
    outcome = client_for(sandbox).create_ticket(no_identifier)
    assert outcome.error_code is ErrorCode.BAD_REQUEST and outcome.attempts == 1


def test_server_errors_are_retried_a_bounded_number_of_times(sandbox):
    sandbox.configure(error_rate=1.0)
    outcome = client_for(sandbox).create_ticket(AGENT)
    assert outcome.error_code is ErrorCode.SERVER_ERROR
    assert outcome.attempts == 4 and "after 4 attempts" in outcome.message
    assert sandbox.stats()["ticket_requests"] == 4


def test_intermittent_server_errors_end_in_success(sandbox):
    sandbox.configure(error_rate=0.5)
    client = client_for(sandbox, retry=RetryPolicy(8, 0.001, 0.01))
    outcomes = [client.create_ticket(AGENT) for _ in range(20)]
    assert all(o.ok for o in outcomes)
    assert sum(o.attempts for o in outcomes) > 20


@pytest.mark.parametrize(
    ("fault", "code", "words"),
    [
        ("drop_rate", ErrorCode.NETWORK, "connection"),
        ("malformed_rate", ErrorCode.BAD_RESPONSE, "not JSON"),
        ("no_token_rate", ErrorCode.BAD_RESPONSE, "encpryptedString"),
        ("html_rate", ErrorCode.SERVER_ERROR, "error page"),
        ("not_supported_rate", ErrorCode.NOT_SUPPORTED, "501"),
    ],
)
def test_each_fault_maps_to_its_code(sandbox, fault, code, words):
    sandbox.configure(**{fault: 1.0})
    outcome = client_for(sandbox, retry=RetryPolicy(1, 0.001, 0.01)).create_ticket(AGENT)
    assert outcome.error_code is code
    assert words in outcome.message
    expected_attempts = 2 if code in (ErrorCode.NETWORK, ErrorCode.SERVER_ERROR) else 1
    assert outcome.attempts == expected_attempts


def test_slow_answer_times_out_as_network(sandbox):
    sandbox.configure(latency_ms=1500)
    outcome = client_for(sandbox, read_timeout=0.2, retry=RetryPolicy(0)).create_ticket(AGENT)
    assert outcome.error_code is ErrorCode.NETWORK and "timed out" in outcome.message


def test_unreachable_api_is_network(refused_url):
    outcome = CommBoxClient(refused_url, "k", retry=RetryPolicy(1, 0.001, 0.01)).create_ticket(AGENT)
    assert outcome.error_code is ErrorCode.NETWORK and outcome.attempts == 2


def test_throttled_requests_wait_for_retry_after_then_succeed(sandbox):
    sandbox.configure(rate_limit=1, retry_after="1")
    client = client_for(sandbox)
    pacer = Pacer(adaptive=False)
    first = client.create_ticket(AGENT, pacer=pacer)
    started = time.monotonic()
    second = client.create_ticket(AGENT, pacer=pacer)
    assert first.ok and second.ok and second.attempts >= 2
    assert time.monotonic() - started >= 0.9  # honoured Retry-After: 1
    assert pacer.throttled >= 1


def test_throttled_after_every_retry_is_throttled(sandbox):
    sandbox.configure(rate_limit=0.01, retry_after="0")
    client = client_for(sandbox, retry=RetryPolicy(2, 0.001, 0.01))
    client.create_ticket(AGENT)  # takes the only token of the bucket
    outcome = client.create_ticket(AGENT)
    assert outcome.error_code is ErrorCode.THROTTLED and outcome.attempts == 3


def test_a_429_closes_the_gate_for_every_worker():
    pacer = Pacer(adaptive=False)
    pacer.on_throttled(retry_after=0.5, sent_at=pacer.now())
    waited = []
    stop = threading.Event()

    def other_worker():
        started = time.monotonic()
        assert pacer.acquire(stop)
        waited.append(time.monotonic() - started)

    worker = threading.Thread(target=other_worker)
    worker.start()
    worker.join(5)
    assert waited and waited[0] >= 0.45


def test_stopping_releases_a_worker_waiting_at_the_gate():
    pacer = Pacer(adaptive=False)
    pacer.on_throttled(retry_after=60, sent_at=pacer.now())
    stop = threading.Event()
    threading.Timer(0.05, stop.set).start()
    assert pacer.acquire(stop) is False


def _response(status: int, body: bytes, headers: dict | None = None) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = body
    response.headers.update(headers or {})
    return response


@pytest.mark.parametrize("status_value", ['"200"', "200"])
def test_status_as_string_or_number_is_accepted(status_value):
    body = f'{{"status": {status_value}, "data": {{"encpryptedString": "abc"}}}}'.encode()
    answer = classify(_response(200, body))
    assert answer.code is None and answer.token == "abc"


def test_http_200_with_an_error_status_in_the_body_trusts_the_body():
    answer = classify(_response(200, b'{"status": 404, "description": "Not Found"}'))
    assert answer.code is ErrorCode.NOT_FOUND


def test_retry_after_as_http_date():
    answer = classify(_response(429, b"{}", {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}))
    assert answer.code is ErrorCode.THROTTLED and answer.retry_after == 0.0


def test_a_rows_own_cause_comes_first_in_its_message(sandbox):
    from commbox_core.api.client import CommBoxClient
    from commbox_core.fields import Kind
    from commbox_core.tickets.request import RowDefaults, build_request

    client = CommBoxClient.from_settings(sandbox.settings())
    request, _ = build_request({"username": "ghost.agent"}, Kind.AGENT, RowDefaults(brand="demo"))
    outcome = client.create_ticket(request)
    client.close()
    assert outcome.error_code == "not_found"
    assert outcome.message == "Not Found: Agent ghost.agent not found in brand demo — not on record at CommBox (HTTP 404)"
    assert "no such brand" not in outcome.message  # the generic explanation no longer hides the cause
