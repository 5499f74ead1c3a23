"""What goes wrong, and when: latency, the rate limit, injected faults, and token randomness."""

from __future__ import annotations

import base64
import math
import random
import secrets
import time
from collections.abc import Callable

from commbox_core.sandbox.config import FAULT_RATES, SandboxConfig

# Faults that replace the whole exchange, whatever the request; the others only replace a success.
TRANSPORT_FAULTS = ("drop", "html", "error", "not_supported")
SUCCESS_FAULTS = ("malformed", "no_token")
_FAULT_NAMES = dict(zip(FAULT_RATES, TRANSPORT_FAULTS + SUCCESS_FAULTS, strict=True))

TOKEN_BYTES = 75  # 100 URL-safe characters, about as long as the vendor's example token


class TokenBucket:
    """Allows `rate` requests a second, with a burst of about 0.1 s worth (at least one), so a
    client that fires everything at once still cannot beat the rate."""

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.capacity = max(1.0, rate * 0.1)
        self._clock = clock
        self._tokens = self.capacity
        self._updated = clock()

    def take(self) -> float:
        """0.0 if the request may go ahead, else the seconds until it could."""
        now = self._clock()
        self._tokens = min(self.capacity, self._tokens + (now - self._updated) * self.rate)
        self._updated = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return 0.0
        return (1.0 - self._tokens) / self.rate


def retry_after_header(setting: str, wait_seconds: float) -> str | None:
    """The Retry-After value (HTTP delta-seconds) for a 429, or None to send no header."""
    if setting == "none":
        return None
    if setting == "auto":
        return str(math.floor(wait_seconds + 0.5))  # nearest whole second; 10 ms gives 0
    return setting


class FaultDice:
    """Draws, per request, the added latency and the fault to inject. With a seed, the same
    requests in the same order meet the same faults."""

    def __init__(self, seed: int | None) -> None:
        self._rng = random.Random(seed)

    def delay_seconds(self, config: SandboxConfig) -> float:
        if not config.jitter_ms:
            return config.latency_ms / 1000
        spread = self._rng.uniform(-config.jitter_ms, config.jitter_ms)
        return max(0.0, config.latency_ms + spread) / 1000

    def draw(self, config: SandboxConfig) -> str | None:
        """The fault for this request ("drop", "html", ...), or None."""
        if not any(getattr(config, name) for name in FAULT_RATES):
            return None  # draw nothing, so turning faults on later replays the seed from its start
        roll = self._rng.random()
        edge = 0.0
        for name in FAULT_RATES:
            edge += getattr(config, name)
            if roll < edge:
                return _FAULT_NAMES[name]
        return None


class TokenSource:
    """Cryptographically random tokens; with a seed, reproducible ones (for tests, not secrets)."""

    def __init__(self, seed: int | None) -> None:
        self._rng = None if seed is None else random.Random(f"tokens:{seed}")

    def new_token(self) -> str:
        if self._rng is None:
            return secrets.token_urlsafe(TOKEN_BYTES)
        return base64.urlsafe_b64encode(self._rng.randbytes(TOKEN_BYTES)).decode("ascii")
