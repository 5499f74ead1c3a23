"""When may the next request go? One Pacer is shared by every worker of a run.

- A 429's Retry-After closes a shared gate: every worker waits, not only the one that met it.
- A rate limit, fixed (given) or adaptive (found): slots are handed out under a lock but slept
  for outside it, so workers never queue on the lock while waiting (no lock convoy).
- Adaptive: cut the rate on a 429 (multiplicative decrease), probe upward on success.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

DECREASE = 0.85  # rate kept after a 429
PROBE_PER_SECOND = 0.05  # relative rate increase per second without a 429
MIN_RATE = 0.5


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
        self.rate = rate_limit  # current rate; None = unlimited until the first 429
        self._clock = clock
        self._lock = threading.Lock()
        self._next_slot = 0.0
        self._gate_until = 0.0
        self._last_cut = float("-inf")
        self._recent_sends: deque[float] = deque()
        self.throttled = 0  # 429s seen

    # -- before each request --------------------------------------------------------
    def acquire(self, stop: threading.Event) -> bool:
        """Block until this worker may send. False when the run was stopped meanwhile."""
        while not stop.is_set():
            with self._lock:
                now = self._clock()
                start = max(now, self._gate_until)
                if self.rate:
                    start = max(start, self._next_slot)
                    self._next_slot = start + 1.0 / self.rate
                if start <= now:
                    self._note_send(now)
                    return True
            if stop.wait(start - now):
                return False
            with self._lock:  # the gate may have closed while we slept for our slot
                now = self._clock()
                if self._gate_until <= now:
                    self._note_send(now)
                    return True
        return False

    def _note_send(self, now: float) -> None:
        self._recent_sends.append(now)
        while self._recent_sends and self._recent_sends[0] < now - 1.0:
            self._recent_sends.popleft()

    # -- after each response --------------------------------------------------------
    def on_throttled(self, retry_after: float | None, sent_at: float) -> None:
        """A 429: close the gate for Retry-After, and slow down once per episode."""
        with self._lock:
            self.throttled += 1
            now = self._clock()
            if retry_after and retry_after > 0:
                self._gate_until = max(self._gate_until, now + retry_after)
            if not self.adaptive or sent_at < self._last_cut:
                return  # this request left before the last cut: already accounted for
            observed = len(self._recent_sends) or 1
            base = self.rate if self.rate else float(observed)
            self.rate = max(MIN_RATE, base * DECREASE)
            self._last_cut = now

    def on_success(self) -> None:
        """Probe upward: about PROBE_PER_SECOND more rate per second at the current rate."""
        if not self.adaptive or self.rate is None:
            return
        with self._lock:
            rate = self.rate + PROBE_PER_SECOND
            self.rate = min(rate, self.ceiling) if self.ceiling else rate

    def now(self) -> float:
        return self._clock()
