"""What the client takes from the environment (read once per session), and the one watchdog
that bounds every exchange."""

from __future__ import annotations

import socket
import threading

from commbox_core.api import deadlines as http_deadline
from commbox_core.api.client import CommBoxClient, RetryPolicy
from commbox_core.api.deadlines import Deadline
from commbox_core.fields import Kind
from commbox_core.tickets.request import TicketRequest
from commbox_core.vocabulary import ErrorCode

AGENT = TicketRequest(kind=Kind.AGENT, brand="demo", username="john.d")
ONCE = RetryPolicy(max_retries=0)


class _Connection:
    """Stands for urllib3's connection: the watchdog only needs its socket."""

    def __init__(self, sock: socket.socket):
        self.sock = sock


def test_a_netrc_entry_for_the_host_does_not_replace_the_bearer_key(sandbox, tmp_path, monkeypatch):
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login someone password not-the-key\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    outcome = CommBoxClient(sandbox.url, sandbox.api_key, retry=ONCE).create_ticket(AGENT)
    assert outcome.ok, outcome.message


def test_a_proxy_from_the_environment_is_used(sandbox, monkeypatch, refused_url):
    monkeypatch.setenv("HTTP_PROXY", refused_url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    outcome = CommBoxClient(sandbox.url, sandbox.api_key, retry=ONCE).create_ticket(AGENT)
    monkeypatch.delenv("HTTP_PROXY")  # so that the test's own look at the sandbox goes direct
    assert outcome.error_code is ErrorCode.NETWORK  # it went to the (dead) proxy, not to the sandbox
    assert sandbox.stats()["ticket_requests"] == 0


def test_no_proxy_still_exempts_the_api_host(sandbox, monkeypatch, refused_url):
    monkeypatch.setenv("HTTP_PROXY", refused_url)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    outcome = CommBoxClient(sandbox.url, sandbox.api_key, retry=ONCE).create_ticket(AGENT)
    assert outcome.ok, outcome.message


def test_requests_start_no_thread_each_and_leave_no_deadline_behind(sandbox):
    client = CommBoxClient(sandbox.url, sandbox.api_key, retry=ONCE)
    client.create_ticket(AGENT)  # the session, and the watchdog, exist from here on
    threads = threading.active_count()
    results = [client.create_ticket(AGENT).ok for _ in range(150)]
    assert all(results)
    assert threading.active_count() == threads
    assert http_deadline._watchdog.pending() == 0


def test_the_watchdog_cuts_only_the_attempts_still_open_when_time_is_up():
    finished_in_time = [Deadline(0.05) for _ in range(200)]
    for deadline in finished_in_time:
        with deadline:
            pass
    ours, theirs = socket.socketpair()
    with ours, theirs:
        ours.settimeout(5)  # a watchdog that never cuts fails the test rather than hanging it
        with Deadline(0.05) as late:
            late._watch(_Connection(ours))
            assert ours.recv(1) == b""  # blocks until the watchdog shuts the socket down
    assert late.expired
    assert not any(deadline.expired for deadline in finished_in_time)
    assert http_deadline._watchdog.pending() == 0


def test_an_earlier_deadline_wakes_a_watchdog_asleep_towards_a_later_one():
    with Deadline(3600):  # the watchdog now sleeps for an hour
        ours, theirs = socket.socketpair()
        with ours, theirs:
            ours.settimeout(5)
            with Deadline(0.05) as soon:
                soon._watch(_Connection(ours))
                assert ours.recv(1) == b""
    assert soon.expired
