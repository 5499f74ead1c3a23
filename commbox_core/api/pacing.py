"""When may the next request go? One Pacer is shared by every worker of a run.

- A 429's Retry-After closes a shared gate: every worker waits, not only the one that met it.
- A rate limit, fixed (given) or adaptive (found): slots are handed out under a lock but slept
  for outside it, so workers never queue on the lock while they wait (no lock convoy).
- Adaptive, in the manner of TCP CUBIC, because the API's limit is a tenant setting nobody
  tells us: a slow start doubles the rate every round trip (50-80 ms) until the first 429; a 429
  reveals the limit (the rate we were sending at when the refused request went), and the rate
  drops just under it; it then climbs back to the limit along a concave curve, stays near it, and
  probes beyond it ever faster, so a raised limit is found again too.
- A slot handed out before a cut is not used after it: at the old rate it would only meet
  another 429 (this took a 100 rps run from 13-16 429s in 1,000 rows to 4).
- Several runs on one tenant (other servers too) share its limit through the store: each is told
  by `share()` how many others send and how fast, and any run's cut is adopted by all of them. The
  curve is then the tenant's, and each run takes an equal part of it.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
import time
from collections import deque
from collections.abc import Callable

SLOW_START_RATE = 40.0  # requests/s before anything is known (20 cost small runs a doubling)
# Slow start doubles the rate once per round trip, as TCP's does, within these bounds (a fixed
# 80 ms cost a 4,000-row run at 50 ms latency 5% of its time in the ramp; 150 ms cost 7%).
DOUBLING_S = 0.08  # before any answer, and at most
MIN_DOUBLING_S = 0.05
RTT_GAIN = 0.125  # weight of each new round trip in the smoothed one (TCP's SRTT)
KEEP = 0.97  # share of the revealed limit kept after a 429
MAX_CUT = 0.7  # the least share of the last estimate a later cut keeps
SLOW_START_KEEP = 0.7  # the same at the end of the slow start (its estimate is of a rate still growing)
RECOVERY_S = 2.0  # time to climb back to the revealed limit
# Past it, the probe grows at least (t - RECOVERY_S)^3 req/s: with a steepness only relative to the
# estimate, an estimate that collapsed (another server took the whole limit) never climbed back:
# a run crawled at MIN_RATE for minutes after the other had finished. As CUBIC's C, in absolute units.
PROBE_STEEPNESS = 1.0
MIN_RATE = 0.2
WINDOW_S = 1.0
RECENT_S = 0.25  # the window of "what we were sending at" when a 429 comes
SETTLE_S = 0.1  # 429s for requests sent this soon after a cut are echoes of the old rate
MIN_ACCEPT_SPAN_S = RECENT_S  # an accepted rate over less time is noise (a burst allowance)
BINDING_S = 0.05
HORIZON_MIN_S = 0.05
HORIZON_MAX_S = 0.5  # the limiter counts as binding if a worker waited this recently


@dataclass(frozen=True, slots=True)
class TenantCut:
    """A cut of the tenant's whole rate (all its runs together), as shared between runs."""

    revealed: float  # the tenant's limit as the 429 revealed it
    floor: float  # where the tenant's curve starts again
    at: float  # wall-clock time (time.time()): other servers compare it


class Pacer:
    def __init__(
        self,
        rate_limit: float | None = None,
        *,
        adaptive: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.ceiling = rate_limit  # never exceeded; None = no ceiling
        self.adaptive = adaptive
        self._clock = clock
        self._lock = threading.Lock()
        now = clock()
        self._next_slot = now
        self._gate_until = now
        self._curve_s = 0.0  # time on the current growth curve: advances only while binding
        self._doublings = 0.0  # of the slow start, likewise
        self._round_trip: float | None = None  # smoothed time from send to a successful answer
        self._advanced_at = now
        self._first_send: float | None = None
        self._last_cut = -math.inf
        self._last_wait = -math.inf  # when a worker last had to wait for its slot
        self._revealed: float | None = None  # the rate a 429 last revealed as too much
        self._floor = SLOW_START_RATE  # the rate right after the last cut
        self._sends: deque[float] = deque()
        self._successes: deque[float] = deque()
        self._refusals: deque[float] = deque()  # 429s
        self.throttled = 0  # 429s seen
        self._parties = 1  # runs sending to the tenant, this one included
        self._peers_rate = 0.0  # what the others sent per second, as they last said
        self._peers_accepted = 0.0  # and what the tenant accepted from them per second
        self._cut_wall = -math.inf  # when the cut this run follows was made (wall clock)
        self._cut_to_share: TenantCut | None = None
        self.rate = self._target(now)

    # -- the rate over time ----------------------------------------------------------
    def _target(self, now: float) -> float | None:
        if not self.adaptive:
            return self.ceiling
        elapsed = self._curve_s
        if self._revealed is None:
            rate = SLOW_START_RATE * 2 ** min(self._doublings, 40)
        else:  # cubic through (0, floor) and (RECOVERY_S, revealed): flat near the limit
            steepness = (self._revealed - self._floor) / RECOVERY_S**3
            if elapsed > RECOVERY_S:  # past the limit: probe at least this fast, whatever the estimate
                steepness = max(steepness, PROBE_STEEPNESS)
            rate = self._revealed + steepness * (elapsed - RECOVERY_S) ** 3
            rate /= self._parties  # the curve is the tenant's; this run's part of it
        if self.ceiling:
            rate = min(rate, self.ceiling)
        return max(MIN_RATE, rate)

    # -- before each request ---------------------------------------------------------
    def acquire(self, stop: threading.Event) -> bool:
        """Block until this worker may send. False when the run was stopped meanwhile.

        A slot is reserved only when it is close (within the horizon): a worker that
        reserved one far ahead at a low rate would keep it after the rate went up.
        """
        while not stop.is_set():
            with self._lock:
                now = self._clock()
                self._advance(now)
                start = max(now, self._gate_until)
                if self.rate:
                    # A slot left unused in the past is not banked: no burst after idling.
                    start = max(start, self._next_slot)
                if start > now:
                    self._last_wait = now
                horizon = self._horizon()
                reserved = start - now <= horizon
                if reserved:
                    if self.rate:
                        self._next_slot = start + 1.0 / self.rate
                    if start <= now:
                        self._note_send(now)
                        return True
                    cut = self._last_cut
            if stop.wait(start - now if reserved else horizon):
                return False
            if reserved:
                with self._lock:
                    now = self._clock()
                    # The gate may have closed while this worker slept; and a slot handed out
                    # before a cut belongs to the old rate: sent anyway, it only meets another 429.
                    if self._gate_until <= now and self._last_cut == cut:
                        self._note_send(now)
                        return True
        return False

    def _horizon(self) -> float:
        """How far ahead a slot may be reserved; also how often waiting workers look again."""
        if not self.rate:
            return HORIZON_MAX_S
        return max(HORIZON_MIN_S, min(HORIZON_MAX_S, 2.0 / self.rate))

    def _advance(self, now: float) -> None:
        """Move along the growth curve, but only while the rate is what holds workers back:
        a rate that nobody waits for proves nothing and must not grow unchecked."""
        if now - self._last_wait < BINDING_S:
            self._curve_s += now - self._advanced_at
            if self._revealed is None:
                self._doublings += (now - self._advanced_at) / self.doubling_s()
        self._advanced_at = now
        self.rate = self._target(now)

    def doubling_s(self) -> float:
        if self._round_trip is None:
            return DOUBLING_S
        return min(DOUBLING_S, max(MIN_DOUBLING_S, self._round_trip))

    # -- after each response ---------------------------------------------------------
    def on_success(self, sent_at: float | None = None) -> None:
        with self._lock:
            now = self._clock()
            self._note(self._successes, now)
            if sent_at is not None:
                sample = now - sent_at
                previous = self._round_trip
                self._round_trip = sample if previous is None else previous + RTT_GAIN * (sample - previous)

    def on_throttled(self, retry_after: float | None, sent_at: float) -> None:
        """A 429: close the gate for Retry-After, and cut the rate once per episode."""
        with self._lock:
            self.throttled += 1
            now = self._clock()
            self._note(self._refusals, now)
            if retry_after and retry_after > 0:
                self._gate_until = max(self._gate_until, now + retry_after)
            if not self.adaptive or sent_at < self._last_cut + SETTLE_S:
                return  # already accounted for by the last cut
            # Sending at r while a share q is refused: the limit is about r * (1 - q); with other
            # runs on the tenant, r is theirs and ours together.
            own = min(self.rate or math.inf, self._send_rate_at(sent_at, now))
            others = self._peers_rate
            if self._revealed is None:  # in a slow start, what the others said is a doubling or two old
                others = max(others, own * (self._parties - 1))
            # What the tenant accepted over the last second is at most its limit, and close to it
            # when overloaded: a floor for the estimate, which a burst of 429s can drag far below.
            accepted = self._accept_rate(now) + self._peers_accepted
            revealed = max((own + others) * (1 - self._refused_share(now)), accepted)
            if self._revealed is not None:  # one cut takes at most 30 %, as CUBIC's: rates measured
                revealed = max(revealed, MAX_CUT * self._revealed)  # in a 429 storm can be far off
            # Slow start overshoots by up to one doubling: drop well below, climb back fast.
            floor = max(MIN_RATE, (SLOW_START_KEEP if self._revealed is None else KEEP) * revealed)
            self._cut_to_share = TenantCut(revealed, floor, time.time())
            self._cut(now, revealed, floor, self._cut_to_share.at, 0.0)

    def _cut(self, now: float, revealed: float, floor: float, wall: float, curve_s: float) -> None:
        self._revealed, self._floor = revealed, floor
        self._last_cut, self._cut_wall = now, wall
        self._curve_s = curve_s
        self.rate = self._target(now)
        # Every slot handed out before the cut is given up (acquire checks _last_cut), so the
        # schedule starts again from now: keeping it past them would leave a hole that long.
        self._next_slot = now + 1.0 / self.rate

    # -- sharing the tenant with other runs --------------------------------------------
    def share(self, others: int, others_rate: float, others_accepted: float, cut: TenantCut | None) -> None:
        """What the other runs on this tenant said: how many send, how fast together (sent, and
        accepted), and the tenant's latest cut. That cut is followed, from where its curve is now, unless ours is
        newer: when two runs cut for one episode of 429s, both end on the one the board kept."""
        with self._lock:
            now = self._clock()
            self._parties, self._peers_rate = 1 + max(0, others), max(0.0, others_rate)
            self._peers_accepted = max(0.0, others_accepted)
            if cut is not None and self.adaptive and cut.at != self._cut_wall and cut.at > self._cut_wall - SETTLE_S:
                self._cut(now, cut.revealed, cut.floor, cut.at, min(max(0.0, time.time() - cut.at), RECOVERY_S))
            else:
                self.rate = self._target(now)

    def take_cut(self) -> TenantCut | None:
        """The cut this run made since last asked, for the others to follow."""
        with self._lock:
            cut, self._cut_to_share = self._cut_to_share, None
            return cut

    def send_rate(self) -> float:
        """Requests this run sent per second over the last second."""
        with self._lock:
            self._trim(self._sends, self._clock())
            return len(self._sends) / WINDOW_S

    def accept_rate(self) -> float:
        """Requests of this run the API accepted per second, over the last second."""
        with self._lock:
            return self._accept_rate(self._clock())

    def now(self) -> float:
        return self._clock()

    # -- measurements ----------------------------------------------------------------
    def _send_rate_at(self, sent_at: float, now: float) -> float:
        """Requests actually sent per second just before the refused one was sent. Not up to
        now: with latency, the rate has grown since, and what it was then is what met the limit."""
        until = min(max(sent_at, now - WINDOW_S + RECENT_S), now)  # the sends kept reach WINDOW_S back
        since = max(until - RECENT_S, self._first_send if self._first_send is not None else until)
        span = max(until - since, 1e-3)
        return max(MIN_RATE, sum(1 for t in self._sends if since <= t <= until) / span)

    def _accept_rate(self, now: float) -> float:
        self._trim(self._successes, now)
        span = min(WINDOW_S, now - self._first_send) if self._first_send is not None else 0.0
        return len(self._successes) / span if span >= MIN_ACCEPT_SPAN_S else 0.0  # shorter: noise

    def _refused_share(self, now: float) -> float:
        """The share of recent answers that were 429s."""
        since = now - RECENT_S
        refused = sum(1 for t in self._refusals if t >= since)
        accepted = sum(1 for t in self._successes if t >= since)
        return refused / (refused + accepted) if refused + accepted else 0.0

    @staticmethod
    def _note(times: deque[float], now: float) -> None:
        times.append(now)
        Pacer._trim(times, now)

    def _note_send(self, now: float) -> None:
        if self._first_send is None:
            self._first_send = now
        self._note(self._sends, now)

    @staticmethod
    def _trim(times: deque[float], now: float) -> None:
        while times and times[0] < now - WINDOW_S:
            times.popleft()
