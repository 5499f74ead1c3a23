"""The sandbox's memory: issued tickets, customer records, its clock and its counters.

One SandboxState belongs to one app and is only touched from that app's event loop, so it
needs no locks.
"""

from __future__ import annotations

import secrets
import time
from collections import Counter
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import NamedTuple

from commbox_core.fields import Kind
from commbox_core.sandbox.agents import AgentRecord, brand_key, phone_digits
from commbox_core.sandbox.config import SandboxConfig
from commbox_core.sandbox.faults import FaultDice, TokenBucket, TokenSource
from commbox_core.sandbox.requests_body import TicketAsk

# Expired tickets are kept this long (sandbox time) so their links answer 410, then forgotten.
_EXPIRED_TICKETS_KEPT_S = 3600
_PURGE_EVERY_ISSUES = 1024


class NotFound(LookupError):
    """The brand, or the agent, is not on record (404). The message says which."""


class Redemption(StrEnum):
    OK = "ok"
    UNKNOWN_TOKEN = "unknown_token"  # 401
    WRONG_KIND = "wrong_kind"  # 401: an agent ticket on a chat link, or the reverse
    EXPIRED = "expired"  # 410
    ALREADY_USED = "already_used"  # 410: a one-time ticket, redeemed before
    UNKNOWN_CHANNEL = "unknown_channel"  # 404


@dataclass(slots=True)
class Ticket:
    kind: Kind
    brand: str
    subject: str  # agent username, or the customer's record key
    expires_at: float
    one_time: bool
    remark: str = ""
    used: bool = False


class OnRecord(NamedTuple):
    brand: str  # spelled as on record
    agent: AgentRecord | None  # None for a customer ticket


@dataclass(slots=True)
class CustomerRecord:
    key: str  # "uniqueId=…", "email=…" or "phone1=<digits>"
    uniqueId: str = ""
    email: str = ""
    phone1: str = ""
    firstName: str = ""
    lastName: str = ""

    @property
    def display_name(self) -> str:
        return " ".join(part for part in (self.firstName, self.lastName) if part) or self.key


def customer_key(ask: TicketAsk) -> str:
    if ask.uniqueId:
        return f"uniqueId={ask.uniqueId}"
    if ask.email:
        return f"email={ask.email.casefold()}"
    return f"phone1={phone_digits(ask.phone1)}"


def iso_utc(timestamp: float) -> str:
    """ISO-8601 in UTC with a Z, as the vendor writes response_time."""
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


class SandboxState:
    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self._brands = {brand_key(brand): brand for brand in config.agents}
        self._agents = {
            (brand_key(brand), record.username.casefold()): record
            for brand, records in config.agents.items()
            for record in records
        }
        self.reset()

    # --- settings, clock, counters -------------------------------------------------------

    def reset(self) -> None:
        """Forget tickets, customers and counters; rewind the clock and the seeded randomness."""
        self.clock_offset = 0.0
        self.tickets: dict[str, Ticket] = {}
        self.customers: dict[str, dict[str, CustomerRecord]] = {}
        self.ticket_requests = 0
        self.tickets_issued = 0
        self.connections_dropped = 0
        self.responses: Counter[str] = Counter()
        self.redemptions: Counter[str] = Counter()
        self.issued_per_subject: Counter[str] = Counter()
        self.dice = FaultDice(self.config.seed)
        self.tokens = TokenSource(self.config.seed)
        self.bucket = TokenBucket(self.config.rate_limit) if self.config.rate_limit else None

    def reconfigure(self, config: SandboxConfig) -> None:
        """Apply new run-time settings; a changed rate limit starts with a fresh bucket."""
        if config.rate_limit != self.config.rate_limit:
            self.bucket = TokenBucket(config.rate_limit) if config.rate_limit else None
        self.config = config

    def now(self) -> float:
        return time.time() + self.clock_offset

    def advance_clock(self, seconds: float) -> None:
        self.clock_offset += seconds

    def authorized(self, authorization: str | None) -> bool:
        scheme, _, key = (authorization or "").partition(" ")
        if scheme.lower() != "bearer":
            return False
        return secrets.compare_digest(key.strip().encode(), self.config.api_key.encode())

    def stats(self) -> dict:
        return {
            "ticket_requests": self.ticket_requests,
            "tickets_issued": self.tickets_issued,
            "responses": dict(sorted(self.responses.items())),
            "connections_dropped": self.connections_dropped,
            "redemptions": dict(sorted(self.redemptions.items())),
            "issued_per_subject": dict(sorted(self.issued_per_subject.items())),
            "live_tickets": sum(1 for ticket in self.tickets.values() if ticket.expires_at > self.now()),
            "clock": iso_utc(self.now()),
            "clock_offset_s": self.clock_offset,
        }

    def customers_of(self, brand: str | None) -> list[dict]:
        brands = self.customers if brand is None else {brand_key(brand): self.customers.get(brand_key(brand), {})}
        return [
            {"brand": self._brands.get(key, key), **asdict(record)}
            for key, records in brands.items()
            for record in records.values()
        ]

    def knows_brand(self, brand: str) -> bool:
        return brand_key(brand) in self._brands

    # --- tickets -------------------------------------------------------------------------

    def check(self, ask: TicketAsk) -> OnRecord:
        """Who the request names, or NotFound when the brand or the agent is not on record."""
        brand = self._brands.get(brand_key(ask.brand))
        if brand is None:
            raise NotFound(f"Brand {ask.brand} not found")
        return OnRecord(brand, self._match_agent(brand, ask) if ask.kind is Kind.AGENT else None)

    def issue(self, ask: TicketAsk, on_record: OnRecord | None = None) -> tuple[str, Ticket]:
        """A new ticket for a well-formed request (checked here unless `on_record` is given)."""
        brand, agent = on_record or self.check(ask)
        if agent is not None:
            subject, ttl = agent.username, self.config.agent_ttl
        else:
            subject, ttl = self._upsert_customer(brand, ask).key, self.config.chat_ttl
        token = self.tokens.new_token()
        ticket = Ticket(ask.kind, brand, subject, self.now() + ttl, ask.oneTimeUse, ask.remark)
        self.tickets[token] = ticket
        self.tickets_issued += 1
        self.issued_per_subject[f"{brand}/{ask.kind}:{subject}"] += 1
        if self.tickets_issued % _PURGE_EVERY_ISSUES == 0:
            self._forget_long_expired()
        return token, ticket

    def redeem(self, token: str, kind: Kind) -> tuple[Redemption, Ticket | None]:
        """Check a ticket presented on a login or chat link; a one-time ticket is used up here."""
        ticket = self.tickets.get(token)
        if ticket is None:
            outcome = Redemption.UNKNOWN_TOKEN
        elif ticket.kind is not kind:
            outcome, ticket = Redemption.WRONG_KIND, None
        elif ticket.used:
            outcome = Redemption.ALREADY_USED
        elif self.now() >= ticket.expires_at:
            outcome = Redemption.EXPIRED
        else:
            outcome = Redemption.OK
            ticket.used = ticket.one_time
        self.redemptions[outcome] += 1
        return outcome, ticket

    def agent(self, brand: str, username: str) -> AgentRecord | None:
        return self._agents.get((brand_key(brand), username.casefold()))

    def customer(self, brand: str, key: str) -> CustomerRecord | None:
        return self.customers.get(brand_key(brand), {}).get(key)

    def _match_agent(self, brand: str, ask: TicketAsk) -> AgentRecord:
        record = self.agent(brand, ask.username)
        if record is None:
            raise NotFound(f"Agent {ask.username} not found in brand {brand}")
        if ask.email and ask.email.casefold() != record.email.strip().casefold():
            raise NotFound(f"Agent {record.username}: email does not match the agent's record")
        if ask.phone1 and (not phone_digits(record.phone1) or phone_digits(ask.phone1) != phone_digits(record.phone1)):
            raise NotFound(f"Agent {record.username}: phone1 does not match the agent's record")
        return record

    def _upsert_customer(self, brand: str, ask: TicketAsk) -> CustomerRecord:
        records = self.customers.setdefault(brand_key(brand), {})
        key = customer_key(ask)
        record = records.get(key)
        if record is None:
            record = records[key] = CustomerRecord(
                key, ask.uniqueId, ask.email, ask.phone1, ask.firstName, ask.lastName
            )
        elif ask.overrideUserInfo:
            for name in ("email", "phone1", "firstName", "lastName"):
                if getattr(ask, name):
                    setattr(record, name, getattr(ask, name))
        return record

    def _forget_long_expired(self) -> None:
        horizon = self.now() - _EXPIRED_TICKETS_KEPT_S
        self.tickets = {token: ticket for token, ticket in self.tickets.items() if ticket.expires_at > horizon}
