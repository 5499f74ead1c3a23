"""The stable vocabulary every room shares: why a row failed, and where a run stands."""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    """Why a row did not get a ticket. Values are stable: they appear in exports."""

    INVALID = "invalid"  # refused locally, never sent
    BAD_REQUEST = "bad_request"  # 400
    UNAUTHORIZED = "unauthorized"  # 401: the API key is wrong; stops the run
    NOT_FOUND = "not_found"  # 404: agent not on record, or identifiers do not match
    THROTTLED = "throttled"  # 429 after every retry
    SERVER_ERROR = "server_error"  # 5xx (not 501) after every retry
    NETWORK = "network"  # connection refused/reset, timeout, after every retry
    BAD_RESPONSE = "bad_response"  # 2xx without a usable token, unreadable body
    NOT_SUPPORTED = "not_supported"  # 501
    NOT_ATTEMPTED = "not_attempted"  # never sent: run stopped or cancelled
    IN_DOUBT = "in_doubt"  # sent, or about to be, when its server stopped; no answer recorded (resume sends it again)

    @property
    def retryable(self) -> bool:
        """True when sending the same row again may succeed without editing it."""
        return self in RETRYABLE


RETRYABLE = frozenset(
    {
        ErrorCode.THROTTLED,
        ErrorCode.SERVER_ERROR,
        ErrorCode.NETWORK,
        ErrorCode.BAD_RESPONSE,
        ErrorCode.NOT_ATTEMPTED,
        ErrorCode.IN_DOUBT,
    }
)


class StopReason(StrEnum):
    """Why a run ended before every row was sent."""

    UNAUTHORIZED = "unauthorized"  # CommBox refused the API key: every other row would fail the same way
    UNREACHABLE = "unreachable"  # a whole wave of rows failed to connect after every retry
    CANCELLED = "cancelled"  # a person asked

    @property
    def status(self) -> RunStatus:
        return _STATUS_OF_STOP[self]

    def unsent_message(self) -> str:
        """What an unsent row of a run stopped this way says."""
        return _UNSENT_MESSAGES[self]


class RunStatus(StrEnum):
    """Where a run stands: one word for the runner, the store, the CLI and the dashboard."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"  # every row was sent (some may have failed)
    CANCELLED = "cancelled"
    STOPPED = "stopped"  # CommBox refused the API key (401)
    UNREACHABLE = "unreachable"  # CommBox could not be reached
    FAILED = "failed"  # the run itself broke (a bug, the store)
    INTERRUPTED = "interrupted"  # its process is gone; resume it

    @classmethod
    def after(cls, reason: StopReason | str | None) -> RunStatus:
        """The status of a run that ended for this reason (None: it ran to the end)."""
        return StopReason(reason).status if reason else cls.DONE

    @property
    def active(self) -> bool:
        return self in ACTIVE

    @property
    def resumable(self) -> bool:
        """A run in this status may have rows left that resume would send."""
        return self in RESUMABLE

    @property
    def stop_reason(self) -> StopReason | None:
        return next((reason for reason, status in _STATUS_OF_STOP.items() if status is self), None)


class Purpose(StrEnum):
    """Why a run was started: a first run of a file, or a follow-up of another run."""

    RUN = "run"
    RETRY = "retry"  # failed rows sent again as they were
    RESEND = "resend"  # failed rows sent again after a person fixed them
    REISSUE = "reissue"  # new tickets for rows whose links expired or were lost


ACTIVE = frozenset({RunStatus.QUEUED, RunStatus.RUNNING})
RESUMABLE = frozenset(
    {RunStatus.INTERRUPTED, RunStatus.CANCELLED, RunStatus.STOPPED, RunStatus.UNREACHABLE, RunStatus.FAILED}
)
_STATUS_OF_STOP = {
    StopReason.UNAUTHORIZED: RunStatus.STOPPED,
    StopReason.UNREACHABLE: RunStatus.UNREACHABLE,
    StopReason.CANCELLED: RunStatus.CANCELLED,
}
_UNSENT_MESSAGES = {
    StopReason.UNAUTHORIZED: "not sent: the run stopped because CommBox refused the API key (401)",
    StopReason.UNREACHABLE: "not sent: the run stopped because CommBox could not be reached "
    "(the rows before it failed to connect)",
    StopReason.CANCELLED: "not sent: the run was cancelled",
}


# How a job store is named by URL (--db, COMMBOX_DATABASE_URL); anything else is a SQLite file's path.
POSTGRES_URL_PREFIXES = ("postgresql://", "postgres://")
SQLITE_URL_PREFIX = "sqlite:///"
STORE_URL_PREFIXES = (*POSTGRES_URL_PREFIXES, SQLITE_URL_PREFIX)
