"""The stable vocabulary of row outcomes, and the errors shown to users."""

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
    }
)


class ConsoleError(Exception):
    """An error with a message fit to show a user as is (no traceback, no secrets)."""


class InputFileError(ConsoleError):
    """An uploaded or given file cannot be used at all."""


class ConfigError(ConsoleError):
    """The settings do not allow the requested operation."""
