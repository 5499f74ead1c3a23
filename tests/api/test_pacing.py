"""Pacing against the real sandbox: a limit nobody told the runner is found and respected, and a
429's Retry-After holds every worker, not only the one that met it."""

from __future__ import annotations

import threading

from commbox_core.api.client import CommBoxClient
from commbox_core.api.pacing import Pacer
from commbox_core.fields import Kind
from commbox_core.runs.runner import BulkRunner
from commbox_core.tickets.links import LinkBuilder
from commbox_core.tickets.prepare import PreparedRow
from commbox_core.tickets.request import RowDefaults, build_request

DEFAULTS = RowDefaults(brand="demo", channel_id="demo-channel")


def customers(count: int, prefix: str = "p") -> list[PreparedRow]:
    return [PreparedRow(n, build_request({"uniqueId": f"{prefix}{n}"}, Kind.CUSTOMER, DEFAULTS)[0])
            for n in range(1, count + 1)]


class RecordingPacer(Pacer):
    """The product's Pacer, noting on its own clock when each send was allowed (under its lock,
    the moment it decided) and when each 429 closed the gate."""

    def __init__(self):
        super().__init__(None)
        self.sends: list[float] = []
        self.refusals: list[tuple[float, float, float | None]] = []  # (before, after, Retry-After)
        self._record = threading.Lock()

    def _note_send(self, now):
        super()._note_send(now)
        self.sends.append(now)

    def on_throttled(self, retry_after, sent_at):
        before = self.now()
        super().on_throttled(retry_after, sent_at)
        with self._record:
            self.refusals.append((before, self.now(), retry_after))


def run(sandbox, rows, *, concurrency=16, pacer=None):
    settings = sandbox.settings()
    client = CommBoxClient.from_settings(settings)
    runner = BulkRunner(client, LinkBuilder(settings), concurrency=concurrency)
    if pacer is not None:
        runner.pacer = pacer
    try:
        return runner, runner.run(rows, Kind.CUSTOMER)
    finally:
        client.close()


def test_a_limit_nobody_told_the_runner_is_found_every_row_succeeds_and_429s_stay_few(sandbox):
    sandbox.configure(rate_limit=80)  # Retry-After: the wait rounded to seconds, so 0 here
    runner, report = run(sandbox, customers(400), concurrency=32)
    stats = sandbox.stats()
    assert len(report.succeeded) == 400
    refused = stats["responses"].get("429", 0)
    assert stats["ticket_requests"] == report.requests_sent == 400 + refused
    assert 0 < refused <= 0.05 * stats["ticket_requests"]  # it did meet the limit, and backed off at once
    assert runner.pacer.throttled == refused
    assert runner.pacer.rate < 2 * 80  # it settled near the limit rather than beyond it


def test_a_retry_after_gate_holds_every_worker_until_it_opens(sandbox):
    # One request a second and "come back in 1 s": every 429 closes the gate for all workers.
    sandbox.configure(rate_limit=1, retry_after="1")
    pacer = RecordingPacer()
    _, report = run(sandbox, customers(4, "gate"), concurrency=4, pacer=pacer)
    assert len(report.succeeded) == 4
    assert pacer.refusals and all(retry_after == 1 for *_, retry_after in pacer.refusals)
    for before, after, retry_after in pacer.refusals:
        # Surely inside the gate: after it closed, and before it could open again.
        held = [sent for sent in pacer.sends if after < sent < before + retry_after]
        assert held == [], f"a worker sent {held[0] - before:.3f} s into a {retry_after} s Retry-After"
    # Without the shared gate, each worker would retry on its own quick back-off, meeting dozens of 429s.
    assert len(pacer.refusals) <= 2 * 4


def test_waiting_workers_never_hold_the_pacer(sandbox):
    """Workers sleep outside the lock: while all of them wait for a closed gate, answers can
    still be recorded at once (no lock convoy)."""
    pacer = Pacer(None)
    pacer.on_throttled(2.0, pacer.now())
    stop = threading.Event()
    waiting = [threading.Thread(target=pacer.acquire, args=(stop,), daemon=True) for _ in range(8)]
    for worker in waiting:
        worker.start()
    try:
        for _ in range(20):
            assert pacer._lock.acquire(timeout=0.5)
            pacer._lock.release()
            pacer.on_success()
        assert all(worker.is_alive() for worker in waiting)  # still held by the gate
    finally:
        stop.set()
        for worker in waiting:
            worker.join(5)
    assert not any(worker.is_alive() for worker in waiting)  # a stop releases them all


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def answered_after(pacer: Pacer, clock: Clock, seconds: float, times: int = 40) -> None:
    for _ in range(times):
        sent = clock.now
        clock.now += seconds
        pacer.on_success(sent)


def test_slow_start_doubles_once_a_round_trip_within_its_bounds():
    clock = Clock()
    pacer = Pacer(None, clock=clock)
    assert pacer.doubling_s() == 0.08  # nothing answered yet: the cautious pace
    answered_after(pacer, clock, 0.06)
    assert abs(pacer.doubling_s() - 0.06) < 0.002  # answers in 60 ms: a doubling every 60 ms
    answered_after(pacer, clock, 0.002)
    assert pacer.doubling_s() == 0.05  # never faster: a 2 ms round trip would overshoot a limit
    answered_after(pacer, clock, 0.4)
    assert pacer.doubling_s() == 0.08  # never slower than before round trips were measured


class SleepOnClock:
    """A stop event whose wait() moves the fake clock instead of sleeping; `during_sleep` runs
    once, inside the first wait, as a 429 arriving while a worker sleeps on its reserved slot."""

    def __init__(self, clock: Clock, during_sleep):
        self.clock, self.during_sleep = clock, during_sleep
        self.woke_at: list[float] = []

    def is_set(self) -> bool:
        return False

    def wait(self, seconds: float) -> bool:
        if self.during_sleep is not None:
            self.during_sleep, hook = None, self.during_sleep
            hook()
        self.clock.now += seconds
        self.woke_at.append(self.clock.now)
        return False


def test_a_cut_gives_up_the_slots_handed_out_before_it_without_leaving_their_time_unused():
    clock = Clock()
    pacer = Pacer(None, clock=clock)
    steady = SleepOnClock(clock, None)

    def send_until(moment: float) -> None:  # sends paced one by one, each answered 5 ms later
        while clock.now < moment:
            assert pacer.acquire(steady)
            sent = clock.now
            clock.now += 0.005
            pacer.on_success(sent)

    send_until(1000.3)
    pacer.on_throttled(None, sent_at=clock.now)  # the slow start met the limit
    send_until(1003.0)  # and the rate has climbed back since
    assert pacer.acquire(steady)  # sent now: the next slot is one interval ahead
    before, seen = pacer.rate, {}

    def refused():
        pacer.on_throttled(None, sent_at=clock.now)
        seen.update(cut_at=clock.now, rate=pacer.rate)

    def second_worker():  # reserves the slot after the first worker's, and sleeps on it too
        sleeping = SleepOnClock(clock, refused)
        assert pacer.acquire(sleeping)
        seen.update(second_woke_at=sleeping.woke_at[0], second_sent_at=clock.now)

    # Two workers hold slots of the old, too fast rate when the 429 comes: both give them up
    # and ask again.
    assert pacer.acquire(SleepOnClock(clock, second_worker))
    assert seen["rate"] < before  # the 429 did cut the rate
    # The second worker, awake at its given-up slot, sends then, or one interval of the new rate
    # after the cut if that is later; not after the time of both given-up slots.
    allowed_at = max(seen["second_woke_at"], seen["cut_at"] + 1 / seen["rate"])
    assert abs(seen["second_sent_at"] - allowed_at) < 1e-9


class ManyWaiting(SleepOnClock):
    """32 workers waiting their turn: one of them looks again every 20 ms at the latest."""

    def __init__(self, clock: Clock):
        super().__init__(clock, None)

    def wait(self, seconds: float) -> bool:
        return super().wait(min(seconds, 0.02))


def test_an_estimate_that_collapsed_climbs_back_once_the_limit_is_free_again():
    """Another server held the whole limit: every answer here was a 429 and the estimate fell to
    the minimum. Once the limit is free, the probe must find it within seconds, not crawl."""
    clock = Clock()
    pacer = Pacer(None, clock=clock)
    sleeping = ManyWaiting(clock)
    pacer.acquire(sleeping)
    pacer.on_throttled(None, sent_at=clock.now)  # refused: the estimate is all but nothing
    assert pacer.rate < 1
    while clock.now < 1008.0:  # the limit is free now: every request is answered at once
        assert pacer.acquire(sleeping)
        pacer.on_success(clock.now)
    assert pacer.rate >= 100  # 8 s on: climbed back to a real rate (it stayed at 0.2 req/s before)
