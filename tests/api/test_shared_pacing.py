"""Runs on one tenant sharing its limit (the pacer's side; the board is tested with the store).

Each pacer runs on a fake clock, answered at once, until its rate is steady; then it is told
what the other runs on the tenant said, as the tenant link does every 0.2 s."""

from __future__ import annotations

import time

import pytest

from commbox_core.api.pacing import Pacer, TenantCut
from tests.api.test_pacing import Clock, ManyWaiting


def steady_pacer(limit: float = 100.0) -> tuple[Pacer, Clock, ManyWaiting]:
    """A pacer that met a limit of `limit` req/s and has climbed back to it (6 s on)."""
    clock = Clock()
    pacer = Pacer(None, clock=clock)
    waiting = ManyWaiting(clock)
    run_for(pacer, clock, waiting, 0.2)
    pacer.on_throttled(None, sent_at=clock.now)  # the slow start met a limit...
    pacer._revealed, pacer._floor = limit, 0.97 * limit  # ...revealed exactly, for a clear picture
    run_for(pacer, clock, waiting, 2.0)
    return pacer, clock, waiting


def run_for(pacer: Pacer, clock: Clock, waiting: ManyWaiting, seconds: float) -> int:
    sent, until = 0, clock.now + seconds
    while clock.now < until:
        assert pacer.acquire(waiting)
        pacer.on_success(clock.now)
        sent += 1
    return sent


def test_a_second_run_on_the_tenant_halves_the_rate_at_once_and_its_end_gives_it_back():
    pacer, clock, waiting = steady_pacer()
    alone = pacer.rate
    assert alone == pytest.approx(100, rel=0.03)
    pacer.share(1, 0.0, 0.0, None)  # another run starts sending to this tenant
    assert pacer.rate == pytest.approx(alone / 2)
    assert run_for(pacer, clock, waiting, 1.0) == pytest.approx(50, abs=2)  # what it sends, not only says
    pacer.share(0, 0.0, 0.0, None)  # the other run ended (or its server went silent)
    assert pacer.rate == pytest.approx(alone, rel=0.01)


def test_a_cut_made_by_another_run_is_followed_and_the_slots_of_the_old_rate_given_up():
    pacer, clock, waiting = steady_pacer()
    pacer.share(1, 50.0, 50.0, None)
    cut_at = clock.now
    pacer.share(1, 50.0, 50.0, TenantCut(revealed=80.0, floor=76.0, at=time.time()))
    assert pacer.rate == pytest.approx(38, abs=0.5)  # half of the tenant's new floor
    assert pacer._last_cut == cut_at  # a slot handed out before this moment is not used after it
    pacer.share(1, 38.0, 38.0, TenantCut(revealed=80.0, floor=76.0, at=time.time() - 10))
    assert pacer.rate == pytest.approx(38, abs=0.5)  # an older cut than the one followed changes nothing


def test_a_cut_this_run_made_is_offered_once_in_the_tenants_terms():
    pacer, clock, waiting = steady_pacer()
    pacer.share(1, 50.0, 50.0, None)
    run_for(pacer, clock, waiting, 1.0)  # 50 req/s here, 50 there: the tenant gets 100
    pacer.on_throttled(None, sent_at=clock.now)
    cut = pacer.take_cut()
    assert cut is not None and cut.revealed == pytest.approx(100, rel=0.05)  # both runs' rate, not one's
    assert pacer.rate == pytest.approx(cut.floor / 2)
    assert pacer.take_cut() is None  # said once
    pacer.share(1, 50.0, 50.0, cut)  # the board gives it back: it is already followed
    assert pacer.rate == pytest.approx(cut.floor / 2)


def test_two_runs_that_cut_for_one_episode_both_end_on_the_cut_the_board_kept():
    pacer, clock, waiting = steady_pacer()
    pacer.share(1, 50.0, 50.0, None)
    run_for(pacer, clock, waiting, 1.0)
    pacer.on_throttled(None, sent_at=clock.now)
    mine = pacer.take_cut()
    kept = TenantCut(revealed=90.0, floor=87.0, at=mine.at - 0.05)  # the other's, a moment earlier
    pacer.share(1, 45.0, 45.0, kept)
    assert pacer.rate == pytest.approx(87.0 / 2, rel=0.01)


def test_a_burst_of_429s_cannot_drag_the_estimate_below_what_the_tenant_accepted():
    pacer, clock, waiting = steady_pacer()
    pacer.on_throttled(None, sent_at=clock.now)  # a cut...
    pacer.take_cut()
    for _ in range(60):  # ...then 60 refusals of requests sent before it: echoes, no cut
        pacer.on_throttled(None, sent_at=clock.now - 0.5)
    clock.now += 0.15
    pacer.on_throttled(None, sent_at=clock.now)  # and a new episode: most recent answers were 429s
    # About 85 accepted over the last second: the tenant lets that many through, whatever share was
    # refused (the refused share alone put the estimate near 15 req/s).
    assert pacer.take_cut().revealed >= 80
