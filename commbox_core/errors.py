"""The errors shown to users: each message is fit to show as is."""

from __future__ import annotations


class ConsoleError(Exception):
    """An error with a message fit to show a user as is (no traceback, no secrets)."""


class InputFileError(ConsoleError):
    """An uploaded or given file cannot be used at all."""


class ConfigError(ConsoleError):
    """The settings do not allow the requested operation."""


class RunHeldElsewhere(ConsoleError):
    """A stored run is running in another process (or was just taken over by one)."""
