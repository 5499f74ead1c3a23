"""SandboxConfig: who the sandbox knows, how long tickets live, and which faults it injects."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from commbox_core.sandbox.agents import DEFAULT_AGENTS, AgentRecord, brand_key

# The vendor's example channel id (as it is once its %3d%3d is decoded), and a readable one.
DEFAULT_CHANNELS = frozenset({"nex9tHPKdBkD_fAfbuUPABg==", "demo-channel"})

# Each request draws one number in [0, 1) and these rates take consecutive slices of it, so a
# rate means exactly what it says and a seed replays the same faults in the same order.
FAULT_RATES = ("drop_rate", "html_rate", "error_rate", "not_supported_rate", "malformed_rate", "no_token_rate")

# What POST /_sandbox/config may change while the sandbox runs.
TUNABLE_FIELDS = ("latency_ms", "jitter_ms", "rate_limit", "retry_after", "agent_ttl", "chat_ttl") + FAULT_RATES


def _default_agents() -> dict[str, tuple[AgentRecord, ...]]:
    return dict(DEFAULT_AGENTS)


@dataclass(frozen=True)
class SandboxConfig:
    api_key: str = "sandbox-key"
    agents: Mapping[str, tuple[AgentRecord, ...]] = field(default_factory=_default_agents)
    channels: frozenset[str] = DEFAULT_CHANNELS
    latency_ms: float = 0
    jitter_ms: float = 0
    rate_limit: float | None = None  # requests per second over all clients; None: unlimited
    error_rate: float = 0.0  # 500
    drop_rate: float = 0.0  # connection closed halfway through the response body
    malformed_rate: float = 0.0  # 200 whose body is not JSON
    html_rate: float = 0.0  # 502 with a proxy's HTML error page
    no_token_rate: float = 0.0  # 200 JSON without data.encpryptedString
    not_supported_rate: float = 0.0  # 501, the vendor's "operation is not supported"
    retry_after: str = "auto"  # on 429: "auto" (the wait, rounded), "none" (no header), or whole seconds
    agent_ttl: float = 60  # seconds an agent console ticket lives
    chat_ttl: float = 300  # seconds a customer chat ticket lives
    seed: int | None = None  # makes faults, jitter and tokens reproducible

    def __post_init__(self) -> None:
        if not isinstance(self.api_key, str) or not self.api_key.strip():
            raise ValueError("api_key must be a non-empty string")
        for name in ("latency_ms", "jitter_ms"):
            _require_number(name, getattr(self, name), minimum=0)
        for name in ("agent_ttl", "chat_ttl"):
            _require_number(name, getattr(self, name), minimum=0, inclusive=False)
        if self.rate_limit is not None:
            _require_number("rate_limit", self.rate_limit, minimum=0, inclusive=False)
        for name in FAULT_RATES:
            _require_number(name, getattr(self, name), minimum=0, maximum=1)
        total = sum(getattr(self, name) for name in FAULT_RATES)
        if total > 1 + 1e-9:
            raise ValueError(f"the fault rates add up to {total:g}; together they can be at most 1")
        object.__setattr__(self, "retry_after", _normalise_retry_after(self.retry_after))
        if self.seed is not None and (isinstance(self.seed, bool) or not isinstance(self.seed, int)):
            raise ValueError("seed must be an integer")
        object.__setattr__(self, "agents", _normalise_agents(self.agents))
        channels = frozenset(self.channels)
        if not all(isinstance(channel, str) and channel for channel in channels):
            raise ValueError("channels must be non-empty strings")
        object.__setattr__(self, "channels", channels)

    def tunables(self) -> dict[str, Any]:
        """The settings POST /_sandbox/config can change (never the API key)."""
        return {name: getattr(self, name) for name in TUNABLE_FIELDS}

    def with_changes(self, changes: Mapping[str, Any]) -> SandboxConfig:
        unknown = sorted(set(changes) - set(TUNABLE_FIELDS))
        if unknown:
            raise ValueError(
                f"cannot change {', '.join(unknown)}; settings that can change: {', '.join(TUNABLE_FIELDS)}"
            )
        return dataclasses.replace(self, **changes)


def _require_number(
    name: str, value: Any, *, minimum: float, maximum: float | None = None, inclusive: bool = True
) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name} must be a number, not {value!r}")
    too_small = value < minimum if inclusive else value <= minimum
    if too_small or (maximum is not None and value > maximum):
        bounds = f"{'at least' if inclusive else 'more than'} {minimum:g}"
        if maximum is not None:
            bounds = f"between {minimum:g} and {maximum:g}"
        raise ValueError(f"{name} must be {bounds}, not {value:g}")


def _normalise_retry_after(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return str(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("auto", "none") or (text.isascii() and text.isdigit()):
            return text
    raise ValueError(f'retry_after must be "auto", "none" or a whole number of seconds, not {value!r}')


def _normalise_agents(agents: Mapping[str, Any]) -> dict[str, tuple[AgentRecord, ...]]:
    normalised: dict[str, tuple[AgentRecord, ...]] = {}
    seen: dict[str, str] = {}
    for brand, records in agents.items():
        key = brand_key(brand) if isinstance(brand, str) else ""
        if not key:
            raise ValueError(f"agents: brand names must be non-empty strings, not {brand!r}")
        if key in seen:
            raise ValueError(f"agents: brand {brand} is given twice (as {seen[key]} too)")
        seen[key] = brand
        records = tuple(records)
        if not all(isinstance(record, AgentRecord) for record in records):
            raise ValueError(f"agents: brand {brand} must map to AgentRecord items")
        normalised[brand.strip()] = records
    return normalised
