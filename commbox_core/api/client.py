"""CommBoxClient.create_ticket(): one request per row, every answer mapped to an ErrorCode.

Retries (429, 5xx but 501, network) live here rather than in urllib3's Retry because a 429
must pause every worker (the shared Pacer gate), and because each attempt is counted per row.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import requests

from commbox_core.api.answers import Answer, classify, not_http, read_bounded
from commbox_core.api.deadlines import Deadline, DeadlineAdapter
from commbox_core.api.pacing import Pacer
from commbox_core.tickets.request import TicketRequest
from commbox_core.vocabulary import ErrorCode

MAX_RETRY_AFTER = 120.0  # a Retry-After beyond this is treated as "give up on this row"
MAX_MESSAGE = 300

_EXPLANATIONS = {
    ErrorCode.BAD_REQUEST: "CommBox refused the request as invalid",
    ErrorCode.UNAUTHORIZED: "CommBox refused the API key (check COMMBOX_API_KEY)",
    ErrorCode.NOT_FOUND: "not found: no such brand, no such agent, or email/phone do not match the record",
    ErrorCode.THROTTLED: "CommBox kept throttling (429) after every retry",
    ErrorCode.SERVER_ERROR: "CommBox had a server error after every retry",
    ErrorCode.NOT_SUPPORTED: "CommBox does not support this request (501)",
    ErrorCode.BAD_RESPONSE: "CommBox answered without a usable ticket",
    ErrorCode.NETWORK: "CommBox could not be reached",
}
_RETRY_CODES = frozenset({ErrorCode.THROTTLED, ErrorCode.SERVER_ERROR, ErrorCode.NETWORK})
# Answers about the row itself: CommBox's message is the cause, and what the person fixes.
_ROW_CAUSES = {ErrorCode.NOT_FOUND: "not on record at CommBox",
               ErrorCode.BAD_REQUEST: "CommBox refused the request as invalid"}


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_retries: int = 4
    backoff_base: float = 0.5
    backoff_max: float = 30.0

    def delay(self, retry_number: int) -> float:
        """Full-jitter exponential back-off: spreads retries of many workers apart."""
        return random.uniform(0, min(self.backoff_max, self.backoff_base * 2**retry_number))


@dataclass(slots=True)
class TicketOutcome:
    ok: bool
    token: str | None = field(default=None, repr=False)  # a credential: never in repr or logs
    error_code: ErrorCode | None = None
    message: str = ""
    http_status: int | None = None
    attempts: int = 0
    issued_at: datetime | None = None


class CommBoxClient:
    """Thread-safe: each thread gets its own requests.Session (pooled, keep-alive)."""

    def __init__(
        self,
        api_url: str,
        api_key: str,
        *,
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        retry: RetryPolicy = RetryPolicy(),
    ):
        self.endpoint = f"{api_url.rstrip('/')}/auth/ticket"
        self._api_key = api_key
        self.timeout = (connect_timeout, read_timeout)
        self.retry = retry
        self._local = threading.local()
        self._sessions: list[requests.Session] = []
        self._sessions_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"CommBoxClient({self.endpoint!r})"

    @classmethod
    def from_settings(cls, settings) -> CommBoxClient:
        return cls(
            settings.api_url,
            settings.api_key.get_secret_value() if settings.api_key else "",
            connect_timeout=settings.connect_timeout,
            read_timeout=settings.read_timeout,
            retry=RetryPolicy(settings.max_retries, settings.backoff_base, settings.backoff_max),
        )

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.mount("http://", DeadlineAdapter(pool_connections=1, pool_maxsize=2, max_retries=0))
            session.mount("https://", DeadlineAdapter(pool_connections=1, pool_maxsize=2, max_retries=0))
            session.headers.update(
                {"Authorization": f"Bearer {self._api_key}", "Accept": "application/json"}
            )
            _settle_environment(session, self.endpoint)
            # Every ticket request is the same but for its body: prepared once, copied per row.
            # Session.post would merge settings, headers and cookies again each time (a third of
            # the client's CPU per request).
            self._local.template = session.prepare_request(requests.Request("POST", self.endpoint))
            self._local.session = session
            with self._sessions_lock:
                self._sessions.append(session)
        return session

    def _prepared(self, payload: dict) -> requests.PreparedRequest:
        """The ticket request for one body (call after _session(), in the same thread)."""
        prepared = self._local.template.copy()
        prepared.prepare_body(data=None, files=None, json=payload)
        return prepared

    def close(self) -> None:
        with self._sessions_lock:
            for session in self._sessions:
                session.close()
            self._sessions.clear()
        self._local = threading.local()

    # -- the call -------------------------------------------------------------------
    def create_ticket(
        self,
        request: TicketRequest,
        *,
        pacer: Pacer | None = None,
        stop: threading.Event | None = None,
        before_send: Callable[[], None] | None = None,
    ) -> TicketOutcome:
        """Send one request, retrying what may succeed later. Never raises for HTTP trouble.
        `before_send` runs once, when the first attempt has its slot and is about to leave (the
        job store marks the row as sent then, so a crash leaves exactly the rows in flight in doubt)."""
        stop = stop or threading.Event()
        payload = request.payload()
        attempts = 0
        answer: Answer | None = None
        while True:
            if pacer is not None and not pacer.acquire(stop):
                return self._failure(answer, attempts) if answer else _not_attempted()
            if attempts == 0 and before_send is not None:
                before_send()
            attempts += 1
            sent_at = pacer.now() if pacer else time.monotonic()
            answer = self._attempt(payload)
            if answer.code is None:
                if pacer:
                    pacer.on_success(sent_at)
                return TicketOutcome(
                    True, answer.token, http_status=answer.status, attempts=attempts,
                    issued_at=datetime.now(UTC),
                )
            if answer.code is ErrorCode.THROTTLED and pacer:
                pacer.on_throttled(answer.retry_after, sent_at)
            retries_left = attempts <= self.retry.max_retries
            too_long = (answer.retry_after or 0) > MAX_RETRY_AFTER
            if answer.code not in _RETRY_CODES or not retries_left or too_long or stop.is_set():
                return self._failure(answer, attempts)
            delay = answer.retry_after if answer.retry_after is not None else self.retry.delay(attempts - 1)
            if answer.code is ErrorCode.THROTTLED and pacer and answer.retry_after is not None:
                delay = 0  # the shared gate already holds every worker until Retry-After
            if delay > 0 and stop.wait(delay):
                return self._failure(answer, attempts)

    def _failure(self, answer: Answer, attempts: int) -> TicketOutcome:
        return TicketOutcome(
            False, error_code=answer.code, message=self._message(answer, attempts),
            http_status=answer.status, attempts=attempts,
        )

    def _attempt(self, payload: dict) -> Answer:
        # Redirects are never followed: a redirect must not carry the bearer key to another host
        # (requests would drop it for a new host, but keep it for the same host over plain http).
        # The last resort against a trickle the socket timeouts cannot see (see http_deadline).
        with Deadline(self.timeout[0] + 2 * self.timeout[1]) as hard_stop:
            answer = self._exchange(payload)
        if hard_stop.expired and answer.code in (ErrorCode.NETWORK, ErrorCode.BAD_RESPONSE):
            return Answer(ErrorCode.NETWORK, "timed out: CommBox's answer came too slowly", answer.status)
        return answer

    def _exchange(self, payload: dict) -> Answer:
        try:
            session = self._session()
            response = session.send(
                self._prepared(payload), timeout=self.timeout, stream=True, allow_redirects=False
            )
        except requests.Timeout:
            return Answer(ErrorCode.NETWORK, "timed out waiting for CommBox")
        except requests.RequestException as exc:
            if not_http(exc):
                return Answer(ErrorCode.BAD_RESPONSE, "the answer was not HTTP")
            return Answer(ErrorCode.NETWORK, f"connection failed ({type(exc).__name__})")
        with response:  # a body left unread closes the connection instead of returning it to the pool
            problem = read_bounded(response, deadline=time.monotonic() + self.timeout[1])
            return problem or classify(response)

    def _message(self, answer: Answer, attempts: int) -> str:
        text = _EXPLANATIONS.get(answer.code, str(answer.code))
        detail = answer.message.replace(self._api_key, "***") if self._api_key else answer.message
        if detail and answer.code in _ROW_CAUSES:
            # CommBox's own words name what to fix in the row: first, so a narrow cell shows them
            text = f"{detail} — {_ROW_CAUSES[answer.code]}"
        elif detail:
            text = f"{text}: {detail}"
        if answer.status:
            text = f"{text} (HTTP {answer.status})"
        if attempts > 1:
            text = f"{text}, after {attempts} attempts"
        return text[:MAX_MESSAGE]


def _settle_environment(session: requests.Session, endpoint: str) -> None:
    """Read proxies and the CA bundle from the environment once, not on every request.

    With trust_env on, requests scans os.environ twice per request (a fifth of the client's
    CPU at 800 requests/s), and would let a ~/.netrc entry for the host replace the bearer key.
    HTTPS_PROXY/HTTP_PROXY/NO_PROXY and REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE keep working.
    """
    session.trust_env = False
    session.proxies.update(requests.utils.get_environ_proxies(endpoint))
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if bundle and endpoint.startswith("https:"):  # (requests stats the bundle's path per request)
        session.verify = bundle


def _not_attempted() -> TicketOutcome:
    return TicketOutcome(
        False, error_code=ErrorCode.NOT_ATTEMPTED, message="not sent: the run was stopped before this row's turn"
    )
