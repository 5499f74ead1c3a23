"""The tenant board on both backends: runs on one tenant hear each other through the store, a
silent one stops counting, and the tenant keeps one cut per episode of 429s. Then two servers
(two stores on one database) running at once against one sandbox limit."""

from __future__ import annotations

import time

import pytest

from commbox_core.api.pacing import TenantCut
from commbox_core.fields import Kind
from commbox_core.service.manager import JobManager
from commbox_core.storage.tenants import SENDER_TTL_S, TenantBoard

from ..support import wait_until
from .test_store import customers, execute


def test_runs_on_one_tenant_hear_each_other_and_no_other_tenant(store_target, open_store):
    board = TenantBoard(open_store(store_target))
    assert board.report("acme", "job-a", 40.0, 39.0).others == 0  # alone so far
    board.report("acme", "job-b", 55.0, 50.0)
    board.report("other", "job-c", 500.0, 500.0)  # another tenant's limit is not ours
    seen_by_a = board.report("acme", "job-a", 45.0, 44.0)
    assert (seen_by_a.others, seen_by_a.others_rate, seen_by_a.others_accepted) == (1, 55.0, 50.0)
    seen_by_b = board.view("acme", "job-b")
    assert (seen_by_b.others, seen_by_b.others_rate) == (1, 45.0)  # a's latest word, not its first
    board.leave("acme", "job-a")
    assert board.view("acme", "job-b").others == 0  # gone at once: b may take a's part


def test_a_run_silent_for_longer_than_its_time_to_live_no_longer_counts(store_target, open_store):
    store = open_store(store_target)
    board = TenantBoard(store)
    board.report("acme", "job-a", 40.0, 40.0)
    board.report("acme", "job-b", 40.0, 40.0)
    execute(store, "UPDATE tenant_senders SET seen_at=? WHERE job_id='job-b'", (time.time() - SENDER_TTL_S - 0.5,))
    assert board.view("acme", "job-a").others == 0  # b's server died without leaving


def test_the_tenant_keeps_one_cut_per_episode_and_the_newest_episode(store_target, open_store):
    board = TenantBoard(open_store(store_target))
    now = time.time()
    first = TenantCut(100.0, 97.0, now)
    board.report("acme", "job-a", 50.0, 50.0, first)
    board.report("acme", "job-b", 50.0, 50.0, TenantCut(90.0, 87.0, now + 0.05))  # the same 429s, seen by b
    assert board.view("acme", "job-a").cut == first  # the first word on an episode stands
    later = TenantCut(110.0, 106.7, now + 3.0)
    board.report("acme", "job-b", 50.0, 50.0, later)
    assert board.view("acme", "job-a").cut == later
    assert board.view("other", "job-a").cut is None


def test_a_second_server_starts_from_the_tenants_cut_and_the_two_keep_to_the_limit(
        sandbox, store_target, open_store):
    """No slow start for the run that comes second: it follows the tenant's cut at once, so its
    start does not throw a burst of 429s at a tenant already at its limit."""
    sandbox.configure(rate_limit=80)
    first_server = JobManager(open_store(store_target))
    second_server = JobManager(open_store(store_target))  # its own store: as on another host
    table, prepared, _ = customers(500, prefix="a")
    first = first_server.start(sandbox.settings(), table, prepared, Kind.CUSTOMER)
    wait_until(lambda: first.runner.pacer.throttled > 0 and first.progress().done > 100, timeout=30)
    before = sandbox.stats()
    table, prepared, _ = customers(300, prefix="b")
    second = second_server.start(sandbox.settings(), table, prepared, Kind.CUSTOMER)
    wait_until(lambda: second.runner.pacer._revealed is not None, timeout=5)
    assert second.runner.pacer._revealed == pytest.approx(first.runner.pacer._revealed, rel=0.2)
    assert first.wait(60) and second.wait(60)
    stats = sandbox.stats()
    assert first.counts()[0] == 500 and second.counts()[0] == 300  # every row got its ticket
    refused = stats["responses"].get("429", 0) - before["responses"].get("429", 0)
    assert refused < 0.03 * (stats["ticket_requests"] - before["ticket_requests"])
